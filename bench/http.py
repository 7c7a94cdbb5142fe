"""The caller-ID lookup over HTTP: ``GET /identity/resolve?phone=…`` at 100 concurrent
clients against one ``xrm serve`` process, beside the same lookup in-process.

    .venv/bin/python -m bench.http --parties 10000 --seconds 10

1. N people (a mobile phone and an email each) are imported into a fresh database:
   a SQLite file, then PostgreSQL (``XRM_BENCH_DATABASE_URL``, default
   ``postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench``; its schema is dropped and
   created again; skipped with a one-line reason when it cannot be reached).
2. **In-process**: ``s.identity.resolve(phone=...)`` in a read-only unit of work of its
   own per lookup (as each HTTP request has), one thread, with the role-based policy on,
   as ``xrm serve`` runs.
3. **HTTP**: ``xrm serve`` (one uvicorn process, started as a subprocess) with an API key;
   ``--clients`` (100) httpx clients on one event loop, each sending its next lookup as
   soon as its last one is answered, for ``--seconds``; a random known number each time,
   written the national way (``06 12 34 56 78``, default region FR) so that every lookup
   normalises it. Every answer must be 200 with the right party.

Prints lookups per second and the latency percentiles (p50, p99) of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from xrm import XRM, RolePolicy

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"
ROOT = Path(__file__).resolve().parent.parent


def phone(i: int) -> str:
    return f"+336{10_000_000 + i:08d}"


def national(e164: str) -> str:
    digits = "0" + e164[3:]
    return " ".join(digits[j : j + 2] for j in range(0, 10, 2))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def prepare(url: str, parties: int) -> None:
    app = XRM(url, default_region="FR")
    if app.engine.dialect.name == "postgresql":
        with app.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    app.upgrade()
    batch = 2_000
    for start in range(0, parties, batch):
        rows = [
            {"name": f"Person {i}", "phones": [phone(i)], "emails": [f"p{i}@example.com"]}
            for i in range(start, min(parties, start + batch))
        ]
        with app.session(actor="bench") as s:
            results = s.imports.import_many(rows)
            bad = [r for r in results if r.error is not None]
            assert not bad, bad[0].error
    app.dispose()


def in_process(url: str, parties: int, lookups: int) -> dict[str, float]:
    app = XRM(url, default_region="FR", policy=RolePolicy())
    rng = random.Random(1)
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(lookups):
        i = rng.randrange(parties)
        t0 = time.perf_counter()
        with app.session(actor="bench", roles=["agent"], readonly=True) as s:
            party = s.identity.resolve(phone=national(phone(i)))
        latencies.append(time.perf_counter() - t0)
        assert party is not None
        assert party.display_name == f"Person {i}"
    elapsed = time.perf_counter() - started
    app.dispose()
    return {
        "per_second": lookups / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str, keys: Path, port: int) -> subprocess.Popen[bytes]:
    """``xrm serve`` in a process of its own (the command, or what it runs when the
    command is not registered in this checkout)."""
    from xrm.cli import cli

    env = {**os.environ, "XRM_DATABASE_URL": url, "XRM_DEFAULT_REGION": "FR"}
    if "serve" in cli.commands:
        args = ["-m", "xrm.cli", "serve", "--port", str(port), "--keys", str(keys),
                "--log-level", "warning"]  # fmt: skip
    else:
        args = ["-c", (
            "import uvicorn; from xrm import XRM, RolePolicy; "
            "from xrm.web import ApiKeys, create_app; "
            f"app = XRM(policy=RolePolicy()); "
            f"uvicorn.run(create_app(app, ApiKeys({str(keys)!r})), host='127.0.0.1', "
            f"port={port}, log_level='warning')"
        )]  # fmt: skip
    server = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"xrm serve exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("xrm serve did not start within 30 s")


async def load(port: int, key: str, parties: int, clients: int, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, headers=headers, timeout=30
    ) as client:
        await client.get("/identity/resolve", params={"phone": national(phone(0))})  # warm

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                i = rng.randrange(parties)
                t0 = time.perf_counter()
                response = await client.get(
                    "/identity/resolve", params={"phone": national(phone(i))}
                )
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or response.json()["display_name"] != f"Person {i}":
                    failures.append(f"{response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
    }


_WRK_SCRIPT = """
math.randomseed(%(seed)d)
local parties = %(parties)d
request = function()
  local n = 10000000 + math.random(0, parties - 1)
  local d = "06" .. string.sub(tostring(n), 1, 8)
  local national = string.sub(d, 1, 2) .. "%%20" .. string.sub(d, 3, 4) .. "%%20" ..
    string.sub(d, 5, 6) .. "%%20" .. string.sub(d, 7, 8) .. "%%20" .. string.sub(d, 9, 10)
  return wrk.format("GET", "/identity/resolve?phone=" .. national)
end
"""


def load_wrk(port: int, key: str, parties: int, clients: int, seconds: float,
             work: Path) -> dict[str, Any]:  # fmt: skip
    """The same load from wrk (C, one thread): the load generator takes little of the two
    cores the server shares with it. Every answer must be a 200."""
    script = work / "lookup.lua"
    script.write_text(_WRK_SCRIPT % {"seed": 7, "parties": parties})
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
         "-H", f"Authorization: Bearer {key}", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(text: str) -> float:
        number = float(text.rstrip("usm"))
        if text.endswith("us"):
            return number / 1000
        if text.endswith("ms"):
            return number
        return number * 1000  # seconds

    lines = out.splitlines()
    latency = {
        line.split()[0]: ms(line.split()[1])
        for line in lines
        if line.strip().startswith(("50%", "99%"))
    }
    requests = int(next(line.split()[0] for line in lines if "requests in" in line))
    failed = sum(int(line.split(":")[1]) for line in lines if line.strip().startswith("Non-2xx"))
    per_second = float(
        next(line.split(":")[1] for line in lines if line.startswith("Requests/sec"))
    )
    return {
        "requests": requests,
        "per_second": per_second,
        "p50_ms": latency["50%"], "p99_ms": latency["99%"], "failures": failed,
        "first_failure": "non-2xx answers (see wrk's output)" if failed else None,
    }  # fmt: skip


def run(name: str, url: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"\n== {name}: {args.parties:,} parties")
    t0 = time.perf_counter()
    prepare(url, args.parties)
    print(f"   seeded in {time.perf_counter() - t0:.1f} s")
    local = in_process(url, args.parties, args.lookups)
    print(f"   in-process: {local['per_second']:,.0f} lookups/s, p50 {local['p50_ms']:.2f} ms, "
          f"p99 {local['p99_ms']:.2f} ms (one thread, a read-only unit of work each)")  # fmt: skip
    from xrm.web import ApiKeys

    keys_file = work / f"keys-{name}.json"
    key = ApiKeys(keys_file).create("bench", ["agent"])
    port = free_port()
    server = start_server(url, keys_file, port)
    try:
        if args.driver == "wrk":
            remote = load_wrk(port, key, args.parties, args.clients, args.seconds, work)
        else:
            remote = asyncio.run(load(port, key, args.parties, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"   HTTP ({args.driver}), {args.clients} clients, one xrm serve process: "
          f"{remote['per_second']:,.0f} requests/s, p50 {remote['p50_ms']:.1f} ms, "
          f"p99 {remote['p99_ms']:.1f} ms ({remote['requests']:,} requests, "
          f"{remote['failures']} failed)")  # fmt: skip
    if remote["failures"]:
        print(f"   first failure: {remote['first_failure']}")
    return {"in_process": local, "http": remote}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lookups", type=int, default=5_000, help="in-process lookups")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--driver",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="the load generator: wrk (C; Debian's wrk package) when installed, else httpx",
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["sqlite"] = run("sqlite", f"sqlite:///{work / 'bench.db'}", args, work)
        if not args.no_postgresql:
            url = os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT)
            try:
                XRM(url).engine.connect().close()
            except Exception as exc:
                print(f"\n== postgresql: skipped, {url} cannot be reached: "
                      f"{str(exc).splitlines()[0]}")  # fmt: skip
            else:
                results["postgresql"] = run("postgresql", url, args, work)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
