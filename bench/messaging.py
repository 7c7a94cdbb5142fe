"""Messaging throughput: rendering, choosing and enqueuing, then delivering to a local SMTP
server, beside the plain driver writing the same outbox rows.

    .venv/bin/python -m bench.messaging --parties 10000

1. N people (an email and a mobile each) are imported into a fresh SQLite file.
2. **Enqueue, one at a time**: ``s.messages.send(party, "notice", purpose="service",
   data=...)`` for the first ``--one-by-one`` parties, 1,000 per unit of work: the
   preferences read, the cap checked, the template found and rendered (Jinja2 sandbox, a
   date and an amount formatted by Babel), the address chosen and checked against the
   consent ledger, the outbound interaction recorded (the ledger asked again), the message
   and its journal events written.
3. **Enqueue in one call**: ``s.messages.send_many`` of the other parties, in one unit of
   work: the same choices, set-based (per 1,000 parties a handful of statements, the
   consent audience in SQL, the rows inserted together).
4. **Plain driver**: ``sqlite3`` inserting the rows one enqueue writes (interaction,
   participant, message, two journal events with their party links), already rendered,
   no check: the floor under the library's cost.
5. **Deliver**: ``app.deliver(limit=1000)`` for ``--deliver`` messages, to an aiosmtpd
   server on 127.0.0.1 (one SMTP connection per message, as ``SmtpTransport`` does).

Peak RSS is the process's ``VmHWM`` after each phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from xrm import XRM, SmtpTransport, Template, TemplateSet

TEMPLATES = TemplateSet([
    Template("notice", "email", "fr", subject="Commande {{ data.order }}",
             body="Bonjour {{ party.given_name }}, votre commande {{ data.order }} de "
                  "{{ data.amount | currency('EUR') }} sera livrée le {{ data.due | date }}."),
])  # fmt: skip


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def load(app: XRM, n: int) -> list[int]:
    rows = [
        {"given_name": f"Marie{i}", "family_name": "Dupont", "name": f"Marie{i} Dupont",
         "emails": [f"marie{i}@example.com"], "phones": [f"+3361{i:07d}"]}
        for i in range(n)
    ]  # fmt: skip
    ids: list[int] = []
    for start in range(0, n, 1000):
        with app.session() as s:
            ids += [r.party_id for r in s.imports.import_many(rows[start : start + 1000])]  # type: ignore[misc]
    return ids


DATA = {"order": "C-1042", "amount": Decimal("89.90"), "due": dt.date(2027, 3, 12)}


def enqueue_many(app: XRM, ids: list[int]) -> float:
    """``s.messages.send_many`` of every party, one call, one unit of work."""
    started = time.perf_counter()
    with app.session(actor="bench") as s:
        report = s.messages.send_many(ids, "notice", purpose="service", data=DATA)
    assert len(report.sent) == len(ids), report.refused
    return time.perf_counter() - started


def enqueue(app: XRM, ids: list[int]) -> float:
    data = DATA
    started = time.perf_counter()
    for start in range(0, len(ids), 1000):
        with app.session(actor="bench") as s:
            for party in ids[start : start + 1000]:
                s.messages.send(party, "notice", purpose="service", data=data)
    return time.perf_counter() - started


def plain(path: Path, n: int) -> float:
    """The rows one enqueue writes, by the driver, in batches of 1,000."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    text = "Bonjour Marie, votre commande C-1042 de 89,90 € sera livrée le 12 mars 2027."
    started = time.perf_counter()
    for start in range(0, n, 1000):
        with con:
            for i in range(start, min(n, start + 1000)):
                party = i + 1
                cur = con.execute(
                    "INSERT INTO interaction (channel, direction, purpose, occurred_at, subject,"
                    " content, attributes, created_at) VALUES ('email','outbound','service',?,?,?,"
                    "'{}',?)", (now, "Commande C-1042", text, now),
                )  # fmt: skip
                interaction = cur.lastrowid
                con.execute(
                    "INSERT INTO interaction_participant (interaction_id, party_id, role,"
                    " contact_point_id, occurred_at) VALUES (?,?,'recipient',NULL,?)",
                    (interaction, party, now),
                )
                cur = con.execute(
                    "INSERT INTO message (party_id, interaction_id, template, purpose, channel,"
                    " transport, address, language, subject, body_text, status, not_before,"
                    " attempts, idempotency_key, created_at) VALUES (?,?,'notice','service',"
                    "'email','smtp',?,'fr','Commande C-1042',?,'queued',?,0,?,?)",
                    (party, interaction, f"m{i}@example.com", text, now, f"plain-{i}", now),
                )  # fmt: skip
                for kind, entity in (("interaction.recorded", interaction),
                                     ("message.queued", cur.lastrowid)):  # fmt: skip
                    event = con.execute(
                        "INSERT INTO journal_event (type, entity, entity_id, occurred_at,"
                        " recorded_at, actor, data) VALUES (?,?,?,?,?,'bench','{}')",
                        (kind, kind.split(".")[0], entity, now, now),
                    ).lastrowid
                    con.execute(
                        "INSERT INTO journal_party (event_id, party_id, occurred_at) "
                        "VALUES (?,?,?)", (event, party, now),
                    )  # fmt: skip
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument(
        "--one-by-one",
        type=int,
        default=2000,
        help="parties sent one s.messages.send at a time (the first ones)",
    )
    parser.add_argument(
        "--deliver",
        type=int,
        default=5000,
        help="messages delivered to the SMTP server (the worker's rate)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    n = args.parties
    folder = Path(tempfile.mkdtemp(prefix="xrm-bench-messaging-"))
    sink = _Sink()
    with socket.socket() as probe:  # a free port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    app = XRM(f"sqlite:///{folder / 'xrm.db'}", discover=False, templates=TEMPLATES,
              default_language="fr",
              transports=[SmtpTransport("127.0.0.1", port, sender="s@acme.example")])  # fmt: skip
    app.upgrade()
    ids = load(app, n)
    one = min(len(ids), args.one_by_one)
    enqueue_s = enqueue(app, ids[:one])
    bulk_s = enqueue_many(app, ids[one:]) if one < len(ids) else float("nan")
    rss_enqueue = peak_rss_mb()
    started = time.perf_counter()
    for _ in range(max(1, args.deliver // 1000)):
        if not app.deliver(limit=min(1000, args.deliver)):
            break
    deliver_s = time.perf_counter() - started
    app.dispose()
    smtp.stop()
    base = XRM(f"sqlite:///{folder / 'plain.db'}", discover=False)
    base.upgrade()
    load(base, n)
    base.dispose()
    plain_s = plain(folder / "plain.db", n)
    bulk = n - one
    result = {
        "parties": n,
        "one_by_one": one,
        "enqueue_s": round(enqueue_s, 2),
        "enqueue_per_s": round(one / enqueue_s),
        "send_many": bulk,
        "send_many_s": round(bulk_s, 2),
        "send_many_per_s": round(bulk / bulk_s) if bulk else None,
        "send_many_ratio_to_plain": round((bulk_s / bulk) / (plain_s / n), 1) if bulk else None,
        "plain_s": round(plain_s, 2),
        "plain_per_s": round(n / plain_s),
        "ratio_to_plain": round((enqueue_s / one) / (plain_s / n), 1),
        "deliver_s": round(deliver_s, 2),
        "deliver_per_s": round(sink.count / deliver_s),
        "delivered": sink.count,
        "peak_rss_mb_after_enqueue": round(rss_enqueue),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
