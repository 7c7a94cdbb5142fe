"""A hypothesis state machine over stage moves and the customer role: no opportunity is
ever won while its account is not a customer, and the pipeline read as of any past day
equals a replay of the recorded stage history."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import xrm_sales
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sales_support import sales_app
from xrm_sales import DEFAULT_PIPELINE, Pipeline, end_of_day

from xrm import XRM, Role

T0 = dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)
STAGES = [s.name for s in DEFAULT_PIPELINE.stages]
#: what the machine does to an account's customer role, between the moves
ROLE_CHANGES = {"lead": "lost", "prospect": "lost", "customer": "inactive"}


def _state_at(roles: list[Role], at: dt.datetime) -> str | None:
    """The customer role's state at ``at``, from the recorded transitions."""
    for role in roles:
        if role.started_at <= at and (role.ended_at is None or role.ended_at > at):
            steps = [t for t in role.transitions if t.at <= at]
            return steps[-1].to_state if steps else None
    return None


def test_wins_make_customers_and_the_past_pipeline_replays_the_history(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = sales_app(xrm_factory)
    names = itertools.count()

    class Sales(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # a pipeline per run, so each run reads its own opportunities only
            self.pipeline = f"run{next(names)}"
            xrm_sales.configure(app, pipelines=[Pipeline(self.pipeline, DEFAULT_PIPELINE.stages)])
            self.clock = T0
            self.opportunities: list[int] = []
            with app.session() as s:
                self.accounts = [
                    s.parties.create("organization", f"{self.pipeline} account {i}").id
                    for i in range(2)
                ]

        def tick(self, hours: int) -> dt.datetime:
            self.clock += dt.timedelta(hours=hours)
            return self.clock

        @rule(
            account=st.integers(0, 1),
            amount=st.decimals(0, 100_000, places=2),
            currency=st.sampled_from(["EUR", "USD"]),
            hours=st.integers(1, 60),
        )
        def open(self, account: int, amount: Decimal, currency: str, hours: int) -> None:
            with app.session() as s:
                opened = xrm_sales.open_opportunity(
                    s, self.accounts[account], "deal", amount=amount, currency=currency,
                    pipeline=self.pipeline, at=self.tick(hours),
                )  # fmt: skip
            self.opportunities.append(opened.id)

        @precondition(lambda self: self.opportunities)
        @rule(pick=st.integers(0, 1000), stage=st.sampled_from(STAGES), hours=st.integers(1, 60))
        def move(self, pick: int, stage: str, hours: int) -> None:
            ident = self.opportunities[pick % len(self.opportunities)]
            with app.session() as s:
                if xrm_sales.get(s, ident).stage == stage:
                    return
                reason = "price" if stage == "lost" else None
                moved = xrm_sales.move(s, ident, stage, at=self.tick(hours), lost_reason=reason)
                if moved.status == "won":
                    role = s.roles.current(moved.account_id, "customer")
                    assert role is not None
                    assert role.state == "customer"

        @rule(account=st.integers(0, 1), end=st.booleans(), hours=st.integers(1, 60))
        def change_the_customer_role(self, account: int, end: bool, hours: int) -> None:
            with app.session() as s:
                role = s.roles.current(self.accounts[account], "customer")
                if role is None:
                    s.roles.assign(
                        self.accounts[account], "customer", state="lead", at=self.tick(hours)
                    )
                elif end:
                    s.roles.end(role, at=self.tick(hours))
                elif role.state in ROLE_CHANGES:
                    s.roles.transition(role, ROLE_CHANGES[role.state], at=self.tick(hours))

        @invariant()
        def every_win_happened_with_the_account_a_customer(self) -> None:
            with app.session() as s:
                for ident in self.opportunities:
                    roles: list[Role] | None = None
                    for step in xrm_sales.history(s, ident):
                        if step.outcome != "won":
                            continue
                        account = xrm_sales.get(s, ident).account_id
                        roles = roles or s.roles.of(account, type="customer", include_ended=True)
                        assert _state_at(roles, step.at) == "customer"

        @invariant()
        def the_pipeline_as_of_any_day_replays_the_history(self) -> None:
            with app.session() as s:
                histories = {i: xrm_sales.history(s, i) for i in self.opportunities}
                amounts = {i: xrm_sales.get(s, i) for i in self.opportunities}
                first, last = T0.date() - dt.timedelta(days=1), self.clock.date()
                days = {first, last, *(h.at.date() for steps in histories.values() for h in steps)}
                for day in sorted(days):
                    expected: dict[tuple[str, str, str], list[Decimal]] = defaultdict(
                        lambda: [Decimal(0), Decimal(0), Decimal(0)]
                    )
                    for ident, steps in histories.items():
                        known = [h for h in steps if h.at < end_of_day(day)]
                        if not known:
                            continue
                        step, opp = known[-1], amounts[ident]
                        line = expected[(step.to_stage, step.outcome, opp.currency)]
                        line[0] += 1
                        line[1] += opp.amount
                        line[2] += opp.amount * step.probability / 100
                    got = {
                        (line.stage, line.outcome, line.currency): [
                            Decimal(line.opportunities),
                            line.amount,
                            line.weighted,
                        ]
                        for line in xrm_sales.pipeline_report(s, as_of=day, pipeline=self.pipeline)
                    }
                    assert got == dict(expected), day
                now = {
                    (line.stage, line.outcome, line.currency): line.opportunities
                    for line in xrm_sales.pipeline_report(s, pipeline=self.pipeline)
                }
                current: dict[tuple[str, str, str], int] = defaultdict(int)
                for opp in amounts.values():
                    current[(opp.stage, opp.status, opp.currency)] += 1
                assert now == dict(current)

    run_state_machine_as_test(
        Sales,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
