"""``TransparencyLog.heads_since`` (answered from the writer's memory, ``ledger.recent``) equals the database
reference ``LogReader.heads_since`` at every step of random intake — new events with and without permits,
retries, a batch with an id twice, submissions whose commit hook fails — on SQLite and PostgreSQL; and the
same refusals for bad arguments."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from ledger.errors import LedgerError, MalformedInput
from ledger.log import Receipt, TransparencyLog
from ledger.reader import LogReader
from tests.helpers import make_actor, signed_item, submission

ACTOR = make_actor()
STEP = st.tuples(st.integers(1, 4), st.sampled_from(["new", "retry", "failing hook", "twice"]),
                 st.sampled_from([None, "P-1", "P-2"]))


def _fail(conn: Connection, receipts: list[Receipt]) -> None:
    raise RuntimeError("projection refused")


def _check(log: TransparencyLog) -> None:
    size = log.tree_size
    for after in range(-1, size + 1):
        for limit in (1, 2, 5, size + 1):
            assert log.heads_since(after, limit=limit) == LogReader.heads_since(log, after, limit=limit)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=6))
def test_heads_since_from_memory_equals_the_database(log: TransparencyLog,
                                                     steps: list[tuple[int, str, str | None]]) -> None:
    sent: list[dict[str, Any]] = []
    for count, how, permit in steps:
        items = [signed_item(ACTOR, permit=permit) for _ in range(count)]
        if how == "retry" and sent:
            items = [*sent[-count:], *items[:1]]
        elif how == "twice":
            items = [*items, items[0]]
        sub = submission(*items)
        if how == "failing hook":
            sub = replace(sub, on_commit=_fail)
        try:
            log.submit(sub)
            sent.extend(items)
        except LedgerError:
            assert how == "failing hook"
        _check(log)


def test_heads_since_refuses_bad_arguments_as_the_reference(log: TransparencyLog) -> None:
    log.submit(submission(signed_item(ACTOR)))
    for after, limit in ((-2, 5), (0, 0), (0, 10_001)):
        with pytest.raises(MalformedInput, match="heads_since needs after_index >= -1"):
            log.heads_since(after, limit=limit)
