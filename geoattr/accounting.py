"""Row accounting: how many rows were read, used and dropped, and why.

Nothing in geoattr drops rows silently.  Every reader and every step that removes
rows records it in an :class:`Accounting` object, which ends up in ``run.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Accounting", "RowAccount"]


@dataclass
class RowAccount:
    """Accounting of one table: rows read, rows used and rows dropped by reason."""

    table: str
    read: int
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def used(self) -> int:
        """Rows read minus rows dropped."""
        return self.read - sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON output."""
        return {
            "table": self.table,
            "read": int(self.read),
            "used": int(self.used),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "notes": list(self.notes),
        }


class Accounting:
    """An ordered collection of :class:`RowAccount` records, one per table or step.

    Examples
    --------
    >>> acc = Accounting()
    >>> acc.record("flows", read=10, dropped={"zero count": 2})
    >>> acc["flows"].used
    8
    """

    def __init__(self) -> None:
        self._accounts: dict[str, RowAccount] = {}

    def record(
        self,
        table: str,
        *,
        read: int,
        dropped: dict[str, int] | None = None,
        note: str | None = None,
    ) -> None:
        """Record (or add to) the account of ``table``.

        Calling it twice for the same table adds the dropped counts and notes but keeps
        the first ``read`` count, so a later step can report what it removed.
        """
        acc = self._accounts.get(table)
        if acc is None:
            acc = RowAccount(table=table, read=int(read))
            self._accounts[table] = acc
        for reason, n in (dropped or {}).items():
            if n:
                acc.dropped[reason] = acc.dropped.get(reason, 0) + int(n)
        if note:
            acc.notes.append(note)

    def note(self, table: str, note: str) -> None:
        """Attach a note (e.g. a substitution) to an existing or new table account."""
        if table not in self._accounts:
            self._accounts[table] = RowAccount(table=table, read=0)
        self._accounts[table].notes.append(note)

    def merge(self, other: "Accounting") -> "Accounting":
        """Return a new Accounting with the records of ``self`` followed by ``other``."""
        out = Accounting()
        for src in (self, other):
            for acc in src:
                out.record(acc.table, read=acc.read, dropped=acc.dropped)
                for n in acc.notes:
                    out.note(acc.table, n)
        return out

    def __getitem__(self, table: str) -> RowAccount:
        return self._accounts[table]

    def __contains__(self, table: object) -> bool:
        return table in self._accounts

    def __iter__(self):
        return iter(self._accounts.values())

    def __len__(self) -> int:
        return len(self._accounts)

    def to_dict(self) -> list[dict[str, Any]]:
        """List of plain dicts (JSON-serialisable)."""
        return [a.to_dict() for a in self]

    def to_frame(self) -> pd.DataFrame:
        """One row per table: read, used, dropped (total) and the reasons."""
        rows = []
        for a in self:
            rows.append(
                {
                    "table": a.table,
                    "read": a.read,
                    "used": a.used,
                    "dropped": sum(a.dropped.values()),
                    "reasons": "; ".join(f"{k}: {v}" for k, v in a.dropped.items()),
                    "notes": "; ".join(a.notes),
                }
            )
        return pd.DataFrame(rows, columns=["table", "read", "used", "dropped", "reasons", "notes"])

    def __repr__(self) -> str:
        return f"Accounting({self.to_frame().to_string(index=False)})"
