"""The ``xrm`` command line, command by command, with its error paths.

Exit codes: 0 success, 1 a user error on one line (never a traceback), 2 a usage error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from xrm import XRM, hookimpl
from xrm.cli import cli

Run = Callable[..., Result]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def run(url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, one_line: bool = True, **kw: object) -> Result:
        result = runner.invoke(cli, ["--database", url, "--region", "FR", *args], **kw)  # type: ignore[arg-type]
        assert result.exit_code == code, (result.output, result.exception)
        if code == 1 and one_line:
            assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
            assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
def ready(run: Run) -> Run:
    run("db", "upgrade")
    run("party", "add", "organization", "ACME", "--identifier", "fr.siren=732829320")
    run("party", "add", "person", "Marie Dupont", "--email", "Marie.Dupont@Example.com",
        "--phone", "06 12 34 56 78", "--tag", "vip")  # fmt: skip
    return run


def data(result: Result) -> object:
    return json.loads(result.stdout)


class TestDb:
    def test_a_new_database_must_be_upgraded_first(self, run: Run) -> None:
        result = run("party", "list", code=1)
        assert "xrm db upgrade" in result.stderr
        run("db", "check", code=1)
        assert data(run("db", "current", "--json"))["up_to_date"] is False  # type: ignore[index]
        assert "schema at" in run("db", "upgrade").stdout
        run("db", "check")
        current = data(run("db", "current", "--json"))
        assert current["up_to_date"] is True and "0011_segment" in current["current"]  # type: ignore[index]
        assert "up to date: yes" in run("db", "current").stdout


class TestParty:
    def test_add_show_find_list(self, ready: Run) -> None:
        shown = ready("party", "show", "marie.dupont@example.com").stdout
        assert "party 2: Marie Dupont (person)" in shown and "+" not in shown.split("phone")[0]
        assert data(ready("party", "show", "+33 6 12 34 56 78", "--json"))["id"] == 2  # type: ignore[index]
        assert data(ready("party", "show", "fr.siren:732 829 320", "--json"))["id"] == 1  # type: ignore[index]
        found = data(ready("party", "find", "--email", "MARIE.DUPONT@EXAMPLE.COM", "--json"))
        assert [p["id"] for p in found] == [2]  # type: ignore[union-attr, index]
        assert "Marie Dupont" in ready("party", "find", "--phone", "0612345678").stdout
        assert [p["id"] for p in data(ready("party", "find", "--identifier",  # type: ignore[union-attr, index]
                                            "fr.siren=732829320", "--json"))] == [1]  # fmt: skip
        listed = data(ready("party", "list", "--kind", "person", "--json"))
        assert [p["display_name"] for p in listed["items"]] == ["Marie Dupont"]  # type: ignore[index]
        table = ready("party", "list").stdout.splitlines()
        assert table[0].split() == ["ID", "KIND", "NAME", "EMAIL", "PHONE", "TAGS"]
        page = ready("party", "list", "--limit", "1").stdout
        assert "more: --after" in page

    def test_update_and_tag(self, ready: Run) -> None:
        assert "Marie Curie" in ready("party", "update", "2", "--name", "Marie Curie").stdout
        ready("party", "update", "2", "--name", "Stale", "--version", "1", code=1)
        assert data(ready("party", "tag", "2", "gold", "--json"))["tags"] == ["gold", "vip"]  # type: ignore[index]
        assert data(ready("party", "tag", "2", "vip", "--remove", "--json"))["tags"] == ["gold"]  # type: ignore[index]

    def test_preferences_are_shown_changed_and_cleared(self, ready: Run) -> None:
        assert "language:    -" in ready("party", "prefs", "2").stdout
        shown = ready("party", "prefs", "marie.dupont@example.com", "--language", "fr_fr",
                      "--time-zone", "Europe/Paris", "--quiet-hours", "21:00-08:00",
                      "--channel", "service=sms", "--cap", "marketing=2/7d").stdout  # fmt: skip
        assert "language:    fr-FR" in shown and "quiet hours: 21:00-08:00" in shown
        assert "service: channel sms, cap -" in shown and "marketing: channel -, cap 2/7d" in shown
        cleared = data(ready("party", "prefs", "2", "--json", "--cap", "marketing=none",
                             "--quiet-hours", "none"))  # fmt: skip
        assert cleared == {"language": "fr-FR", "time_zone": "Europe/Paris", "quiet_hours": None,
                           "channels": {"service": "sms"}, "caps": {}}  # fmt: skip
        refused = ready("party", "prefs", "2", "--channel", "service=pigeon", code=1)
        assert "channels.service: unknown channel 'pigeon'" in refused.stderr
        assert "language=fr-FR" in ready("timeline", "2").stdout

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["party", "add", "robot", "R2"], "unknown party kind 'robot'"),
            (["party", "add", "person", "Jo", "--email", "jo@"], "contact_points.0.value"),
            (["party", "add", "person", "Jo", "--identifier", "nope"], None),
            (["party", "show", "99"], "party 99 not found"),
            (["party", "show", "nobody@example.com"], "not found"),
            (["party", "show", "??"], "is not an id"),
            (["party", "update", "2", "--version", "7", "--name", "X"], "changed since"),
        ],
    )
    def test_user_errors_are_one_line_with_exit_code_1(
        self, ready: Run, args: list[str], message: str | None
    ) -> None:
        result = ready(*args, code=2 if message is None else 1)
        if message:
            assert message in result.stderr

    @pytest.mark.parametrize(
        "args",
        [["party", "show"], ["party", "find"], ["party", "update", "2"], ["nope"],
         ["party", "list", "--limit", "0"]],
    )  # fmt: skip
    def test_usage_errors_exit_with_code_2(self, ready: Run, args: list[str]) -> None:
        ready(*args, code=2)


class TestRolesAndRelationships:
    def test_assign_move_list_end(self, ready: Run) -> None:
        role = data(ready("role", "assign", "1", "customer", "--attr", "segment=smb", "--json"))
        assert role[0]["attributes"]["segment"] == "smb"  # type: ignore[index]
        assert "prospect" in ready("role", "move", "1", "prospect", "--note", "quote").stdout
        ready("role", "move", "1", "inactive", code=1)
        assert "customer" in ready("role", "list", "1").stdout
        ready("role", "end", "1")
        assert ready("role", "list", "1").stdout.strip() == "(none)"
        assert len(data(ready("role", "list", "1", "--all", "--json"))) == 1  # type: ignore[arg-type]
        ready("role", "assign", "2", "astronaut", code=1)

    def test_relate_and_read_from_both_ends(self, ready: Run) -> None:
        ready("role", "assign", "1", "customer")
        ready("relate", "account_manager", "1", "marie.dupont@example.com",
              "--from-date", "2024-01-01")  # fmt: skip
        marie = ready("relationships", "2").stdout
        assert "manages" in marie and "ACME" in marie
        acme = data(ready("relationships", "1", "--json", "--as-of", "2024-06-01"))
        assert acme[0]["label"] == "is managed by"  # type: ignore[index]
        assert data(ready("relationships", "1", "--as-of", "2023-06-01", "--json")) == []
        ready("relate", "account_manager", "1", "1", code=1)
        ready("relate", "married_to", "1", "2", code=1)


class TestInteractionsTimelineConsent:
    def test_interact_and_timeline(self, ready: Run) -> None:
        out = ready("interact", "--channel", "phone", "--direction", "inbound",
                    "--party", "06 12 34 56 78=caller", "--party", "1=about",
                    "--touchpoint", "support", "--subject", "Printer jams").stdout  # fmt: skip
        assert out.startswith("interaction 1: inbound phone with 2 (caller), 1 (about)")
        events = data(ready("timeline", "2", "--json"))["items"]  # type: ignore[index]
        assert [e["type"] for e in events] == ["interaction.recorded", "party.created"]
        assert "Printer jams" in ready("timeline", "2").stdout
        ready("timeline", "2", "--limit", "1")
        ready("interact", "--channel", "telepathy", "--direction", "inbound", "--party", "2",
              code=1)  # fmt: skip

    def test_consent_grant_check_audience_and_enforcement(self, ready: Run) -> None:
        outbound = ["interact", "--channel", "email", "--direction", "outbound",
                    "--purpose", "marketing", "--party", "2"]  # fmt: skip
        refused = ready(*outbound, code=1)
        assert "no consent recorded" in refused.stderr
        ready("consent", "grant", "2", "marketing", "--source", "web_form",
              "--evidence", "form 7")  # fmt: skip
        assert ready("consent", "check", "2", "marketing", "email").stdout.startswith("allowed")
        ready(*outbound)
        assert ready("consent", "audience", "marketing", "email").stdout == (
            "2\t1\tMarie.Dupont@Example.com\n"
        )
        member = json.loads(ready("consent", "audience", "marketing", "email", "--json").stdout)
        assert member["party_id"] == 2
        ready("consent", "withdraw", "2", "marketing", "--source", "unsubscribe_link")
        decision = data(ready("consent", "check", "2", "marketing", "email", "--json"))
        assert decision["allowed"] is False and decision["rule"] == "withdrawn"  # type: ignore[index]
        ready("consent", "object", "2", "surveys", "--source", "call", "--channel", "phone")
        ready("consent", "refuse", "2", "marketing", "--source", "call",
              "--contact-point", "+33612345678")  # fmt: skip
        ready("consent", "grant", "2", "nope", "--source", "x", code=1)
        ready("consent", "grant", "2", "marketing", code=2)


class TestPluginsImportExport:
    def test_plugins_lists_the_built_in_one(self, run: Run) -> None:
        infos = data(run("plugins", "--json"))
        # the essential plugin first: the core's defaults
        assert {"name": "xrm", "status": "loaded", "essential": True}.items() <= infos[0].items()  # type: ignore[index]
        assert {"name": "customers", "status": "loaded"}.items() <= infos[1].items()  # type: ignore[index]
        assert "customers" in run("plugins").stdout

    def test_export_writes_everything_known(self, ready: Run, tmp_path: Path) -> None:
        ready("role", "assign", "2", "customer")
        doc = data(ready("export", "2"))
        assert doc["party"]["display_name"] == "Marie Dupont"  # type: ignore[index]
        assert [r["type"] for r in doc["roles"]] == ["customer"]  # type: ignore[index]
        ready("export", "2", "-o", str(tmp_path / "marie.json"))
        assert json.loads((tmp_path / "marie.json").read_text())["party"]["id"] == 2

    def test_plugins_add_their_own_commands(self) -> None:
        class Greeter:
            __name__ = "greeter"

            @hookimpl
            def xrm_cli_commands(self, cli: click.Group) -> None:
                @cli.command("hello")
                def hello() -> None:
                    click.echo("hello from a plugin")

        group = click.Group("xrm-copy", commands=dict(cli.commands))
        XRM("sqlite://", plugins=[Greeter()], discover=False).plugins.cli_commands(group)
        assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"

    def test_demo_runs(self, run: Run) -> None:
        out = run("demo").stdout
        assert "refused: party" in out and "timeline of Marie Dupont" in out


def test_import_reads_preferences_from_csv_columns_and_jsonl(ready: Run, tmp_path: Path) -> None:
    csv = tmp_path / "prefs.csv"
    csv.write_text("name,email,language,time_zone,quiet_hours\n"
                   "Ana Lopez,ana@example.com,es_ES,Europe/Madrid,22:00-08:00\n")  # fmt: skip
    ready("import", str(csv))
    assert data(ready("party", "prefs", "ana@example.com", "--json")) == {
        "language": "es-ES", "time_zone": "Europe/Madrid", "quiet_hours": "22:00-08:00",
        "channels": {}, "caps": {},
    }  # fmt: skip
    jsonl = tmp_path / "prefs.jsonl"
    jsonl.write_text('{"name": "Ana Lopez", "emails": ["ana@example.com"], "preferences": '
                     '{"language": "fr", "channels": {"service": "sms"}}}\n')  # fmt: skip
    ready("import", str(jsonl))
    shown = data(ready("party", "prefs", "ana@example.com", "--json"))
    assert shown["language"] == "es-ES" and shown["channels"] == {"service": "sms"}  # type: ignore[index]


def test_import_recognises_known_parties_and_reports_bad_rows(ready: Run, tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text(
        "kind,name,email,phone,tags,roles,consents,source\n"
        "person,Marie Dupont,MARIE.DUPONT@example.com,,imported,customer,marketing@email,fair\n"
        "person,Paul,paul@example.com,+33 6 98 76 54 32,,customer:prospect,,\n"
        "person,Bad,not-an-email,,,,,\n"
        "robot,R2,r2@example.com,,,,,\n"
    )
    first = ready("import", str(csv), code=1, one_line=False)
    assert "people.csv: 1 created, 1 updated, 0 unchanged, 2 rejected" in first.stdout
    assert "line 4: contact_points.0.value" in first.stderr
    assert "line 5: kind: unknown party kind 'robot'" in first.stderr
    second = ready("import", str(csv), code=1, one_line=False)
    assert "0 created, 0 updated, 2 unchanged, 2 rejected" in second.stdout
    marie = data(ready("party", "show", "2", "--json"))
    assert marie["tags"] == ["imported", "vip"]  # type: ignore[index]
    assert len(data(ready("party", "list", "--json"))["items"]) == 3  # type: ignore[index, arg-type]
    assert "allowed" in ready("consent", "check", "2", "marketing", "email").stdout


def test_import_all_or_nothing_writes_nothing_on_a_bad_row(ready: Run, tmp_path: Path) -> None:
    jsonl = tmp_path / "people.jsonl"
    jsonl.write_text(
        '{"name": "Ann", "emails": ["ann@example.com"], "roles": [{"type": "customer"}]}\n'
        '{"name": "Bob", "phones": ["nope"]}\n'
    )
    out = ready("import", str(jsonl), "--all-or-nothing", code=1)
    assert "line 2: contact_points.0.value" in out.stderr and "nothing was imported" in out.stderr
    assert len(data(ready("party", "list", "--json"))["items"]) == 2  # type: ignore[index, arg-type]
    extra = tmp_path / "extra.csv"
    extra.write_text("name,colour\nJo,blue\n")
    warned = ready("import", str(extra))
    assert warned.stderr.startswith("warning: column(s) colour not imported")
    assert "0 created, 0 updated, 0 unchanged, 0 rejected, 1 not recognisable" in warned.stdout


def test_erase_asks_first_and_then_leaves_no_personal_data(ready: Run) -> None:
    refused = ready(
        "erase", "2", "--reason", "art. 17 request", input="n\n", code=1, one_line=False
    )
    assert "Aborted" in refused.output
    assert "Marie Dupont" in ready("party", "show", "2").stdout
    done = ready("erase", "marie.dupont@example.com", "--reason", "art. 17 request",
                 input="y\n")  # fmt: skip
    assert "party 2 erased" in done.stdout
    shown = ready("party", "show", "2").stdout
    assert "Marie" not in shown and "example.com" not in shown
    report = data(ready("erase", "1", "--reason", "closed", "--yes", "--json"))
    assert report["party_id"] == 1  # type: ignore[index]
    ready("erase", "1", "--reason", "again", "--yes", code=1)
    again = ready("party", "add", "person", "Someone", "--email", "MARIE.DUPONT@example.com")
    assert "suppressed" in again.stdout


def test_dedupe_reports_pairs_with_their_evidence(ready: Run) -> None:
    ready("party", "add", "person", "DUPONT Marie", "--email", "marie.dupont@example.com")
    ready("party", "add", "person", "Someone Else", "--email", "else@example.com")
    pairs = data(ready("dedupe", "--json"))
    assert [(p["left"], p["right"], p["verdict"]) for p in pairs] == [(2, 3, "definite")]  # type: ignore[union-attr, index]
    assert "definite" in ready("dedupe", "--kind", "person").stdout
    ready("dedupe", "--kind", "robot", code=1)
    lines = ready("dedupe", "--stream").stdout.splitlines()
    assert [json.loads(line) for line in lines] == pairs  # one JSON document a line
    ready("dedupe", "--stream", "--limit", "3", code=2)


def test_merge_shows_the_plan_merges_and_unmerge_undoes_it(ready: Run) -> None:
    ready("party", "add", "person", "DUPONT Marie", "--email", "m.dupont@work.example",
          "--phone", "+33612345678")  # fmt: skip
    plan = ready("merge", "2", "m.dupont@work.example", "--dry-run")
    assert "would merge party 3 into party 2" in plan.stdout
    assert "contact points both had" in plan.stdout
    assert data(ready("party", "show", "3", "--json"))["id"] == 3  # type: ignore[index]
    done = data(ready("merge", "2", "3", "--prefer", "survivor", "--json"))
    assert done["dry_run"] is False and len(done["contact_points_moved"]) == 1  # type: ignore[index, arg-type]
    # the duplicate's address now finds the survivor
    assert data(ready("party", "show", "m.dupont@work.example", "--json"))["id"] == 2  # type: ignore[index]
    ready("merge", "2", "3", code=1)
    back = ready("unmerge", "3")
    assert "party 3 unmerged from party 2: 2 contact_point(s) moved back" in back.stdout
    assert data(ready("party", "show", "m.dupont@work.example", "--json"))["id"] == 3  # type: ignore[index]
    assert "not merged" in ready("unmerge", "3", code=1).stderr


def test_an_empty_email_or_phone_is_a_line_error_not_a_traceback(
    ready: Run, tmp_path: Path
) -> None:
    jsonl = tmp_path / "blank.jsonl"
    jsonl.write_text(
        '{"name": "Ann", "emails": [""]}\n{"name": "Bob", "phones": ["  "]}\n'
        '{"name": "Cy", "emails": ["cy@example.com"]}\n'
    )
    out = ready("import", str(jsonl), code=1, one_line=False)
    assert "line 1: emails.0: Value error, must not be empty" in out.stderr
    assert "line 1: emails.0" in out.stderr and "line 2: phones.0" in out.stderr
    assert "must not be empty" in out.stderr and "Traceback" not in out.output
    names = [p["display_name"] for p in data(ready("party", "list", "--json"))["items"]]  # type: ignore[index]
    assert "Cy" in names and "Ann" not in names


def test_messages_are_previewed_sent_and_delivered_by_the_worker_as_files(
    ready: Run, tmp_path: Path
) -> None:
    folder = tmp_path / "templates" / "welcome"
    folder.mkdir(parents=True)
    (folder / "email.en.subject").write_text("Welcome {{ party.name }}")
    (folder / "email.en.txt").write_text("Hello {{ party.name }}, your code is {{ data.code }}.")
    (folder / "sms.en.txt").write_text("Code {{ data.code }}")
    outbox = tmp_path / "outbox"
    opts = ["--templates", str(tmp_path / "templates"), "--outbox", str(outbox)]
    shown = ready(*opts, "message", "preview", "2", "welcome", "--purpose", "service",
                  "--data", "code=42").stdout  # fmt: skip
    assert "by email: Marie.Dupont@Example.com" in shown and "Hello Marie Dupont" in shown
    ready(*opts, "party", "prefs", "2", "--channel", "service=sms")
    sent = data(ready(*opts, "message", "send", "2", "welcome", "--purpose", "service",
                      "--data", "code=42", "--json"))  # fmt: skip
    assert sent["channel"] == "sms" and sent["status"] == "queued"  # type: ignore[index]
    refused = ready(*opts, "message", "send", "2", "welcome", "--purpose", "marketing", code=1)
    assert "cannot be sent a 'marketing' message" in refused.stderr
    assert ready(*opts, "worker", "--once").stdout == "1 sent\n"
    assert json.loads((outbox / "1.json").read_text())["text"] == "Code 42"
    listed = data(ready(*opts, "message", "list", "2", "--json"))
    assert [m["status"] for m in listed] == ["sent"]  # type: ignore[union-attr, index]
    assert ready(*opts, "worker", "--once").stdout == "nothing due\n"


def test_inbound_records_a_reply_and_names_an_unknown_sender(ready: Run, tmp_path: Path) -> None:
    mail = tmp_path / "reply.eml"
    mail.write_text("From: Marie <marie.dupont@example.com>\nSubject: Re: quote\n\nYes please.\n")
    assert ready("inbound", str(mail)).stdout == (
        "message from party 2 (marie.dupont@example.com)\n"
    )
    sms = tmp_path / "sms.json"
    sms.write_text('{"from": "+33 6 98 76 54 32", "text": "who is this?"}')
    assert "unknown_sender from an unknown sender" in ready("inbound", str(sms)).stdout
    made = data(ready("inbound", str(sms), "--create-unknown", "--json"))
    assert made["kind"] == "message" and made["party_id"] == 3  # type: ignore[index]
    assert "interaction.recorded" in ready("timeline", "2").stdout


def test_segments_are_defined_counted_listed_and_frozen(ready: Run, tmp_path: Path) -> None:
    assert "every criterion holds" in ready("segment", "criteria").stdout
    vip = (
        '{"type": "all", "of": [{"type": "tag", "tag": "vip"}, {"type": "kind", "kind": "person"}]}'
    )
    assert ready("segment", "define", "vips", vip, "--description", "our best").stdout == (
        "segment 'vips' saved: 1 parties now\n"
    )
    assert ready("segment", "count", "vips").stdout == "1\n"
    criterion = tmp_path / "orgs.json"
    criterion.write_text('{"type": "kind", "kind": "organization"}')
    assert ready("segment", "count", f"@{criterion}").stdout == "1\n"
    assert ready("segment", "members", "vips").stdout == "2\n"
    assert data(ready("segment", "preview", "vips", "--json"))[0]["display_name"] == "Marie Dupont"  # type: ignore[index]
    shown = data(ready("segment", "show", "vips", "--json"))
    assert shown["count"] == 1 and shown["criterion"]["of"][0] == {"type": "tag", "tag": "vip"}  # type: ignore[index]
    assert "frozen with 1 parties" in ready("segment", "freeze", "vips", "--as", "vips dec").stdout
    listed = data(ready("segment", "list", "--json"))
    assert [(x["name"], x["members"]) for x in listed] == [("vips", None), ("vips dec", 1)]  # type: ignore[union-attr, index]
    ready("segment", "update", "vips", "--description", "still our best")
    # errors: one line naming the field, or a usage error for JSON that is not
    bad = ready("segment", "define", "x", '{"type": "role", "role": "nope"}', code=1)
    assert "criterion.role: unknown role type 'nope'" in bad.stderr
    ready("segment", "count", '{"type":', code=2)
    assert "segment 'nope' not found" in ready("segment", "count", "nope", code=1).stderr
    ready("segment", "update", "vips", code=2)
    assert ready("segment", "delete", "vips dec").stdout == "segment 'vips dec' deleted\n"
