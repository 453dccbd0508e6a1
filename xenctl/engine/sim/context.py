"""What one operation on the simulated host works with: the open transaction, the time, the profile.

Every operation reads the clock once, at its start, so all it derives (states, written bytes,
what is due) agrees with itself.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from xenctl.engine.sim.profile import HostProfile


@dataclass(frozen=True)
class Ctx:
    db: sqlite3.Connection
    now: float
    profile: HostProfile
    scale: float
    actor: str = ""

    def duration(self, name: str) -> float:
        """A simulated duration from the profile, scaled (``XENCTL_TIME_SCALE``)."""
        return float(getattr(self.profile.durations, name)) * self.scale

    def meta(self, key: str) -> object:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: object) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def event(
        self, op: str, obj: str, outcome: str = "ok", message: str = "", *, at: float | None = None, by: str = ""
    ) -> None:
        """Log one event; ``by`` names who acted when it was not this process (``xend``)."""
        self.db.execute(
            "INSERT INTO events(at, op, obj, outcome, message, actor) VALUES (?, ?, ?, ?, ?, ?)",
            (self.now if at is None else at, _text(op), _text(obj), outcome, _text(message), by or self.actor),
        )


def _text(value: str) -> str:
    """What a user typed, storable whatever it holds (a lone surrogate becomes its escape)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
