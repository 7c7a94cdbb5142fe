"""Loading benchmark data fast, without the services: ``COPY`` on PostgreSQL,
``executemany`` on SQLite, a chunk at a time, committed per chunk."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from xrm import XRM

__all__ = ["Loader", "peak_rss_mb"]

CHUNK = 50_000


def peak_rss_mb() -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value


class Loader:
    """``with Loader(app) as load: load("party", "id, kind", rows)``: rows (tuples in the
    order of the columns) written ``CHUNK`` at a time; ``ANALYZE`` at the end."""

    def __init__(self, app: XRM) -> None:
        self.app = app
        self.postgres = app.engine.dialect.name == "postgresql"

    def __enter__(self) -> Loader:
        self.raw = self.app.engine.raw_connection()
        self.driver: Any = self.raw.driver_connection
        return self

    def __call__(self, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> int:
        count = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                count += self._flush(table, columns, batch)
        return count + self._flush(table, columns, batch)

    def _flush(self, table: str, columns: str, batch: list[tuple[Any, ...]]) -> int:
        if not batch:
            return 0
        if self.postgres:
            with (
                self.driver.cursor() as cur,
                cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp,
            ):
                for row in batch:
                    cp.write_row(tuple(map(_pg_value, row)))
        else:
            marks = ", ".join("?" * len(columns.split(",")))
            self.driver.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [tuple(map(_sqlite_value, r)) for r in batch],
            )
        self.driver.commit()
        done = len(batch)
        batch.clear()
        return done

    def __exit__(self, *exc: object) -> None:
        self.raw.close()
        with self.app.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
