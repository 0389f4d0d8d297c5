"""Row accounting: how many rows were read, used and dropped, and why.

Nothing in geoattr drops rows silently.  Every reader and every step that removes
rows records it in an :class:`Accounting` object, which ends up in ``run.json``.

Each account adds up: ``read + sum(added) == used + sum(dropped)``, one count per
reason.  A step that works on the rows another step left (the design matrix on the
panel, the region panel on the municipal one) names that account as its ``source`` and
reads exactly the rows it used, so the accounts chain from the rows read in a file to
the observations of the model (:meth:`Accounting.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Accounting", "RowAccount", "step_name"]


def step_name(base: str, level: str) -> str:
    """The account of a step at a unit level: ``"design"`` for municipalities, else ``"design (region)"``.

    Parameters
    ----------
    base : str
        The step (``"panel"``, ``"flows"``, ``"design"``).
    level : str
        The unit level.

    Returns
    -------
    str
    """
    return base if level == "municipality" else f"{base} ({level})"


@dataclass
class RowAccount:
    """Accounting of one table or step: rows read, added and dropped by reason, and the rows used.

    ``source`` names the account whose used rows this step reads (None for a file).
    """

    table: str
    read: int
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)
    source: str | None = None

    @property
    def used(self) -> int:
        """Rows read plus rows added minus rows dropped."""
        return self.read + sum(self.added.values()) - sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON output (``added`` and ``from`` only when present)."""
        out: dict[str, Any] = {
            "table": self.table,
            "read": int(self.read),
            "used": int(self.used),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "notes": list(self.notes),
        }
        if self.added:
            out["added"] = {k: int(v) for k, v in self.added.items()}
        if self.source is not None:
            out["from"] = self.source
        return out


class Accounting:
    """An ordered collection of :class:`RowAccount` records, one per table or step.

    Examples
    --------
    >>> acc = Accounting()
    >>> acc.record("flows", read=10, dropped={"zero count": 2})
    >>> acc["flows"].used
    8
    >>> acc.record("flows (region)", read=8, source="flows", dropped={"summed": 5})
    >>> [a.table for a in acc.chain("flows")], acc.last_step("flows")
    (['flows', 'flows (region)'], 'flows (region)')
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
        added: dict[str, int] | None = None,
        source: str | None = None,
    ) -> None:
        """Record (or add to) the account of ``table``.

        Calling it twice for the same table adds the dropped (and added) counts and the
        notes but keeps the first ``read`` count and ``source``, so a later step can
        report what it removed.

        Parameters
        ----------
        table : str
            The table or step.
        read : int
            Rows read (of a file, or the rows ``source`` used).
        dropped, added : dict of str to int, optional
            Rows removed (created) by reason; zero counts are left out.
        note : str, optional
        source : str, optional
            The account whose used rows this step reads.
        """
        acc = self._accounts.get(table)
        if acc is None:
            acc = RowAccount(table=table, read=int(read), source=source)
            self._accounts[table] = acc
        for counts, into in ((dropped, acc.dropped), (added, acc.added)):
            for reason, n in (counts or {}).items():
                if n:
                    into[reason] = into.get(reason, 0) + int(n)
        if note:
            acc.notes.append(note)

    def note(self, table: str, note: str) -> None:
        """Attach a note (e.g. a substitution) to an existing or new table account.

        Parameters
        ----------
        table : str
        note : str
        """
        if table not in self._accounts:
            self._accounts[table] = RowAccount(table=table, read=0)
        self._accounts[table].notes.append(note)

    def merge(self, other: "Accounting", *, new_only: bool = False) -> "Accounting":
        """Return a new Accounting with the records of ``self`` followed by ``other``.

        Parameters
        ----------
        other : Accounting
        new_only : bool, default False
            Take only the tables of ``other`` that ``self`` lacks (the later steps of an
            accounting that started as a copy of ``self``); by default the counts of a
            table in both are added.

        Returns
        -------
        Accounting
        """
        out = Accounting()
        out.extend(self)
        for acc in other:
            if new_only and acc.table in self:
                continue
            out.record(acc.table, read=acc.read, dropped=acc.dropped, added=acc.added, source=acc.source)
            for n in acc.notes:
                out.note(acc.table, n)
        return out

    def extend(self, other: "Accounting") -> None:
        """Add the records of ``other`` to this accounting, in place (counts of a shared table add up).

        Parameters
        ----------
        other : Accounting
            For example the accounting of a harmonisation step.
        """
        for acc in other:
            self.record(acc.table, read=acc.read, dropped=acc.dropped, added=acc.added, source=acc.source)
            for n in acc.notes:
                self.note(acc.table, n)

    def chain(self, root: str) -> list[RowAccount]:
        """The steps that lead on from the table ``root``, in order (``root`` first).

        A step belongs to the chain when its ``source`` is ``root`` or a step of the chain:
        ``chain("panel")`` is, for example, panel -> harmonise_panel -> design.

        Parameters
        ----------
        root : str

        Returns
        -------
        list of RowAccount
            Empty when ``root`` is not recorded.
        """
        members: list[RowAccount] = []
        names: set[str] = set()
        for acc in self:
            if acc.table == root or acc.source in names:
                members.append(acc)
                names.add(acc.table)
        return members

    def last_step(self, root: str) -> str:
        """The latest step of ``root``'s chain (``root`` itself when none follows).

        Parameters
        ----------
        root : str

        Returns
        -------
        str
        """
        steps = self.chain(root)
        return steps[-1].table if steps else root

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
        """One row per table: source, read, added, used, dropped (total) and the reasons."""
        rows = []
        for a in self:
            rows.append(
                {
                    "table": a.table,
                    "from": a.source or "",
                    "read": a.read,
                    "added": sum(a.added.values()),
                    "used": a.used,
                    "dropped": sum(a.dropped.values()),
                    "reasons": "; ".join(f"{k}: {v}" for k, v in {**a.added, **a.dropped}.items()),
                    "notes": "; ".join(a.notes),
                }
            )
        return pd.DataFrame(rows, columns=["table", "from", "read", "added", "used", "dropped", "reasons", "notes"])

    def __repr__(self) -> str:
        return f"Accounting({self.to_frame().to_string(index=False)})"
