"""What the projector's folds hand around: the page one transaction loaded and changed (``FoldedPage``), the
commit hook of a workflow submission (``CommitFold``), and how far the projection is (``ProjectionStatus``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from evidence_api.services.foreseen import Foreseen
from evidence_api.services.permit_model import Permit
from ledger.log import Receipt

if TYPE_CHECKING:
    from evidence_api.services.projector import Projector

__all__ = ["CommitFold", "FoldedPage", "ProjectionStatus"]


@dataclass(frozen=True)
class ProjectionStatus:
    """How far the projection is: the last leaf folded, the log's size, and the events it could not fold."""

    cursor: int
    tree_size: int
    failures: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The status as the API returns it."""
        return {"cursor": self.cursor, "tree_size": self.tree_size, "lag": self.tree_size - 1 - self.cursor,
                "failed": len(self.failures), "failures": self.failures}


class FoldedPage:
    """What one transaction of the projector has loaded and changed: the page's permits as folded (None: not
    one the workflow runs), the permits it stopped, and the leaves it could not fold with their error."""

    def __init__(self, conn: Connection, generation: int = 0) -> None:
        self.conn, self.generation, self.until = conn, generation, -1
        self.permits: dict[tuple[str, str], Permit | None] = {}
        self.stopped: dict[tuple[str, str], int] = {}
        self.failures: dict[int, str] = {}


class CommitFold:
    """The commit hook of a workflow submission: folds the log up to its last leaf in the writer's transaction
    (``Projector.fold_committing``), writing ``foreseen`` if that is still what folding gives (see
    ``services.foreseen``). ``page`` is what it folded, None if it left the events to the cursor."""

    def __init__(self, projector: Projector, foreseen: Foreseen | None = None) -> None:
        self._projector, self._foreseen = projector, foreseen
        self.page: FoldedPage | None = None

    def __call__(self, conn: Connection, receipts: list[Receipt]) -> None:
        """Run by the log writer after staging the submission's new events, before its commit."""
        self.page = self._projector.fold_committing(conn, max(r.leaf_index for r in receipts),
                                                    foreseen=self._foreseen, receipts=receipts)
