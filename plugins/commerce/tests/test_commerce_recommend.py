"""Recommendations: cosine similarity of co-purchases, the suggestions of a party (never
what it bought) with the opinions of similar customers, sending them under consent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import xrm_commerce
from click.testing import CliRunner
from commerce_support import T0, Cast, Root, cast, catalogue, commerce_app
from xrm_commerce import LineIn

from xrm import XRM, ConsentRequired, Undeliverable, ValidationError


def test_similarity_is_the_cosine_of_the_buyer_vectors() -> None:
    # A and B bought by parties 1 and 2; C by 2 and 3; D by 4 alone; 1 bought A twice
    buyers = [1, 2, 1, 2, 2, 3, 4, 1]
    items = [10, 10, 20, 20, 30, 30, 40, 10]
    found = {(a, b): round(score, 6) for a, b, score in xrm_commerce.similarities(buyers, items)}
    assert found == {
        (10, 20): 1.0, (10, 30): 0.5, (20, 10): 1.0, (20, 30): 0.5, (30, 10): 0.5,
        (30, 20): 0.5,
    }  # fmt: skip
    best = xrm_commerce.similarities(buyers, items, neighbours=1)
    assert [(a, b) for a, b, _ in best] == [(10, 20), (20, 10), (30, 10)]  # ties by item id
    assert xrm_commerce.similarities([], []) == []
    with pytest.raises(ValidationError):
        xrm_commerce.similarities([1], [])


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], tmp_path: Path) -> XRM:
    app = commerce_app(xrm_factory, tmp_path / "outbox")
    with app.session() as s:
        catalogue(s)
    return app


@pytest.fixture
def people(app: XRM) -> Cast:
    """Marie bought the oven and the kettle; Paul the oven, kettle and toaster (and loved
    the toaster); Ines the drill (and hated the toaster she tried at a friend's)."""
    with app.session() as s:
        people = cast(s)
        buy = [(people.marie, ["OVEN", "KETTLE"]), (people.paul, ["OVEN", "KETTLE", "TOASTER"]),
               (people.ines, ["DRILL"])]  # fmt: skip
        for party, skus in buy:
            xrm_commerce.place_order(s, party, [LineIn(sku) for sku in skus], currency="EUR",
                                     ordered_at=T0, status="delivered")  # fmt: skip
        other = s.parties.create("person", "Other")
        xrm_commerce.place_order(s, other, [LineIn("TOASTER"), LineIn("DRILL")], currency="EUR",
                                 ordered_at=T0)  # fmt: skip
        xrm_commerce.review(s, people.paul, "TOASTER", 4, text="Crisp toast", at=T0)
        xrm_commerce.review(s, people.ines, "TOASTER", 1, text="Burnt", at=T0)
        xrm_commerce.build_model(s)
    return people


def test_a_party_is_suggested_what_customers_like_it_bought_never_what_it_bought(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        info = xrm_commerce.model_info(s)
        assert info is not None and (info.parties, info.products) == (4, 4)
        found = xrm_commerce.recommend(s, people.marie)
        # the drill was never bought with an oven or a kettle
        assert [f.sku for f in found] == ["TOASTER"]
        toaster = found[0]
        # only Paul bought what Marie bought: Ines's opinion is not a similar customer's
        assert (toaster.rating, toaster.ratings) == (4.0, 1)
        assert [r.text for r in toaster.reviews] == ["Crisp toast"]
        assert toaster.score > 0
        (bare,) = xrm_commerce.recommend(s, people.marie, opinions=False)
        assert (bare.sku, bare.score, bare.rating, bare.ratings) == ("TOASTER", toaster.score,
                                                                     None, 0)  # fmt: skip
        # Paul's toaster was bought with a drill (by another customer)
        assert [f.sku for f in xrm_commerce.recommend(s, people.paul)] == ["DRILL"]
        nobody = s.parties.create("person", "Nobody")
        assert xrm_commerce.recommend(s, nobody) == []


def test_a_recommendation_is_sent_only_with_consent(app: XRM, people: Cast) -> None:
    with app.session() as s, pytest.raises((ConsentRequired, Undeliverable)):
        xrm_commerce.send_recommendations(s, people.marie)
    with app.session() as s:
        s.consents.grant(people.marie, "marketing", source="web form", channel="email")
        message = xrm_commerce.send_recommendations(s, people.marie, limit=2)
        assert message is not None
        assert (message.template, message.purpose, message.address) == (
            "commerce_recommendations", "marketing", "marie@example.com",
        )  # fmt: skip
        assert "- Toaster (rated 4.0/5 by 1 of them)" in message.text
        nobody = s.parties.create("person", "Nobody")
        assert xrm_commerce.send_recommendations(s, nobody) is None


def test_the_recommend_command_builds_and_suggests(app: XRM, people: Cast) -> None:
    from xrm_commerce._cli import recommend_command

    runner = CliRunner()
    built = runner.invoke(recommend_command, ["--build"], obj=Root(app))
    assert built.exit_code == 0, built.output
    assert "model built: 4 products, 4 parties" in built.output
    shown = runner.invoke(recommend_command, [str(people.marie.id)], obj=Root(app))
    assert shown.exit_code == 0, shown.output
    assert "TOASTER" in shown.output and "Crisp toast" in shown.output
    bare = runner.invoke(recommend_command, [], obj=Root(app))
    assert bare.exit_code == 2
