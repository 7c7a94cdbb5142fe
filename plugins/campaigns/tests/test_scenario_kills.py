"""No scenario step runs twice for a party, whatever moment its worker is killed at: two
worker processes are started and killed with SIGKILL at random moments while they run a
scenario's steps for many parties, then a last worker finishes; every step's effect is
there exactly once per party (one message, one activity, one tag, one step run each)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import xrm_campaigns as xc
from campaigns_support import Recorder, campaigns_app
from sqlalchemy import func, select, text

from xrm import XRM, Email
from xrm.tables import ActivityPartyRow, PartyTagRow

HERE = Path(__file__).resolve().parent

_WORKER = """
import sys, time
sys.path.insert(0, sys.argv[3])
from campaigns_support import Recorder, PROMO
import xrm_campaigns, xrm_employees, xrm_sales
from xrm import XRM, TemplateSet, hookimpl

class Slow:
    # each message's interaction takes a while: the kills land inside steps
    __xrm_name__ = "slow"

    @staticmethod
    @hookimpl
    def xrm_interaction_recorded(session, interaction):
        time.sleep(0.02)

url, schema = sys.argv[1], sys.argv[2]
options = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema else None
app = XRM(url, plugins=[xrm_campaigns, xrm_sales, xrm_employees, Slow], discover=False,
          templates=xrm_campaigns.with_default_templates(TemplateSet(PROMO)),
          transports=[Recorder()], engine_options=options)
print("ready", flush=True)
while True:
    xrm_campaigns.work(app, limit=1000)
"""

STEPS = [
    {"type": "send", "template": "campaigns_welcome", "purpose": "marketing"},
    {"type": "activity", "kind": "call", "subject": "Welcome call"},
    {"type": "tag", "tag": "welcomed"},
    {"type": "wait", "minutes": 0},
    {"type": "activity", "kind": "task", "subject": "Send the catalogue"},
]
PARTIES = 20


def test_a_killed_worker_never_runs_a_step_twice(
    xrm_factory: Callable[..., XRM], tmp_path: Path
) -> None:
    app = campaigns_app(xrm_factory, Recorder())
    with app.session() as s:
        xc.create_scenario(s, {"name": "welcome", "steps": STEPS, "trigger": {
            "type": "event", "event": "role.assigned", "role": "customer"}})  # fmt: skip
        parties = []
        for i in range(PARTIES):
            p = s.parties.create("person", f"P{i}", contact_points=[Email(f"p{i}@example.com")])
            s.consents.grant(p, "marketing", source="web form")
            s.roles.assign(p, "customer")
            parties.append(p.id)
    schema = ""
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as conn:
            schema = str(conn.execute(text("select current_schema()")).scalar())
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    rng = random.Random(19)
    command = [sys.executable, str(script), app.url, schema, str(HERE)]
    progress: list[int] = []
    for _ in range(12):
        workers = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(2)]
        for worker in workers:  # started: xrm imported, the application built
            assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.5))
        for worker in workers:
            worker.kill()  # SIGKILL: no cleanup, no rollback handler runs
            worker.wait()
            assert worker.stdout is not None
            worker.stdout.close()
        with app.session() as s:
            progress.append(s.db.scalar(select(func.count()).select_from(xc.StepRunRow)) or 0)
        if progress[-1] == PARTIES * len(STEPS):
            break
    # the workers were killed while steps were left, after some had run
    assert any(0 < done < PARTIES * len(STEPS) for done in progress), progress
    xc.work(app, limit=10_000)  # what the killed workers left

    with app.session() as s:
        enrolled = xc.enrolments(s, scenario="welcome")
        runs = Counter(s.db.execute(select(xc.StepRunRow.enrolment_id, xc.StepRunRow.step)).all())
        activities = Counter(
            s.db.scalars(select(ActivityPartyRow.party_id).where(
                ActivityPartyRow.party_id.in_(parties)))
        )  # fmt: skip
        tagged = s.db.scalar(
            select(func.count()).where(PartyTagRow.tag == "welcomed",
                                       PartyTagRow.party_id.in_(parties))
        )  # fmt: skip
        messages = Counter(m.party_id for p in parties for m in s.messages.of(p))
    assert sorted(e.party_id for e in enrolled) == sorted(parties)
    assert {e.status for e in enrolled} == {"done"}
    assert set(runs.values()) == {1}  # each step of each enrolment ran once
    assert len(runs) == PARTIES * len(STEPS)
    assert messages == dict.fromkeys(parties, 1)
    assert activities == dict.fromkeys(parties, 2)
    assert tagged == PARTIES
