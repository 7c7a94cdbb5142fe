"""The registry: every registered name once, with its source, the match rules in order; the
one place where a name taken twice is refused."""

from __future__ import annotations

import pytest

from xrm import BlockingRule, Channel, ConfigurationError, ExactRule, FuzzyRule, PartyKind
from xrm.core.identity.dedupe import DEFAULT_RULES
from xrm.core.registry import (
    DEFAULT_CHANNELS,
    DEFAULT_CONTACT_KINDS,
    DEFAULT_PARTY_KINDS,
    DEFAULT_PURPOSES,
    DEFAULT_TOUCHPOINTS,
    DEFAULTS,
    Registry,
)


def test_a_name_is_registered_once_and_the_second_source_is_refused_naming_both() -> None:
    registry = Registry()
    registry.add(Channel("pigeon"), "birds")
    registry.add(PartyKind("pigeon"), "birds")  # another table: another namespace
    with pytest.raises(ConfigurationError) as err:
        registry.add(Channel("pigeon", "Carrier pigeon"), "post")
    assert (
        str(err.value)
        == "duplicate channel name 'pigeon': registered by 'birds' and again by 'post'"
    )
    assert registry.source_of(registry.channels["pigeon"]) == "birds"
    assert registry.channels["pigeon"] == Channel("pigeon")


def test_match_rules_keep_their_order_and_a_name_is_taken_per_rule_class() -> None:
    registry = Registry()
    exact = ExactRule("member", "attribute:member")
    fuzzy = FuzzyRule("member", "attribute:member", "damerau", 9.0)
    blocking = BlockingRule("member", ["attribute:member"])
    for rule in (exact, fuzzy, blocking):
        registry.add_match_rule(rule, "members")
    assert registry.match_rules == (exact, fuzzy, blocking)
    assert registry.source_of(fuzzy) == "members"
    with pytest.raises(ConfigurationError) as err:
        registry.add_match_rule(FuzzyRule("member", "attribute:card", "exact", 1.0), "cards")
    assert str(err.value) == (
        "duplicate FuzzyRule name 'member': registered by 'members' and again by 'cards'"
    )
    assert registry.match_rules == (exact, fuzzy, blocking)


def test_holds_tells_whether_a_source_registered_an_item_equal_to_this_one() -> None:
    registry = Registry()
    registry.add(Channel("pigeon"), "birds")
    registry.add_match_rule(DEFAULT_RULES[0], "birds")
    assert registry.holds(Channel("pigeon"), "birds")
    assert not registry.holds(Channel("pigeon"), "post")
    assert not registry.holds(Channel("pigeon", "Carrier pigeon"), "birds")
    assert not registry.holds(Channel("telegraph"), "birds")
    assert registry.holds(DEFAULT_RULES[0], "birds")
    assert not registry.holds(DEFAULT_RULES[1], "birds")


def test_with_builtins_holds_the_core_defaults_under_the_essential_plugin_name() -> None:
    registry = Registry.with_builtins()
    groups = [
        DEFAULT_PARTY_KINDS,
        DEFAULT_CONTACT_KINDS,
        DEFAULT_CHANNELS,
        DEFAULT_TOUCHPOINTS,
        DEFAULT_PURPOSES,
    ]
    assert [item for group in groups for item in group] == list(DEFAULTS)
    assert all(registry.holds(item, "xrm") for item in DEFAULTS)
    assert registry.match_rules == DEFAULT_RULES
    assert {registry.source_of(rule) for rule in DEFAULT_RULES} == {"xrm"}
    assert not registry.role_types and not registry.relationship_types
