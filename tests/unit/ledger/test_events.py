"""Events: the leaf template the writer completes with ``prev`` equals the canonical form of the whole event."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical
from ledger.errors import MalformedInput
from ledger.events import check_claim, leaf_template
from ledger.ids import ID_PATTERN
from tests.helpers import TENANT, make_actor, signed_item

_id = st.from_regex(ID_PATTERN, fullmatch=True)


def _event(kind_suffix: str, permit: str, actor_id: str, location: dict[str, float] | None) -> dict[str, Any]:
    item = signed_item(make_actor(actor_id or "a"), permit=permit or None, kind=f"guardian.{kind_suffix}",
                       location=location)
    return {**item["event"], "received_at": "2026-11-23T08:00:00.000Z"}


@settings(max_examples=150, deadline=None)
@given(
    kind_suffix=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    permit=_id,
    actor_id=_id,
    location=st.none() | st.fixed_dictionaries({"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)}),
    prev=st.none() | st.binary(min_size=32, max_size=32),
)
def test_leaf_template_fill_equals_canonical_event(kind_suffix: str, permit: str, actor_id: str,
                                                    location: dict[str, float] | None, prev: bytes | None) -> None:
    event = _event(kind_suffix, permit, actor_id, location)
    check_claim({k: v for k, v in event.items() if k != "received_at"}, tenant=TENANT)
    template = leaf_template(event)
    assert template.fill(prev) == canonical({**event, "prev": prev.hex() if prev else None})


def test_leaf_template_refuses_a_nested_prev_key() -> None:
    event = {"v": 1, "subject": {"prev": None}, "tenant": TENANT}
    with pytest.raises(MalformedInput, match="nested 'prev' key"):
        leaf_template(event)


def _reference_uuid_ok(value: str) -> bool:
    """What ``check_claim`` accepted as an event id before its regular expression: the canonical UUID form."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


_UUID_LIKE = st.one_of(
    st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.uuids().map(lambda u: "{" + str(u) + "}"),
    st.uuids().map(lambda u: "urn:uuid:" + str(u)), st.uuids().map(lambda u: u.hex), st.uuids().map(lambda u: str(u) + "\n"),
    st.text(alphabet="0123456789abcdefABCDEF-{}:urn ", max_size=45), st.text(max_size=40))


@settings(max_examples=500, deadline=None)
@given(value=_UUID_LIKE)
def test_check_claim_event_id_accepts_exactly_what_the_uuid_reference_did(value: str) -> None:
    event = signed_item(make_actor("guardian-1"))["event"] | {"event_id": value}
    if _reference_uuid_ok(value):
        check_claim(event, tenant=TENANT)
    else:
        with pytest.raises(MalformedInput, match="event_id must be a lower-case UUID string"):
            check_claim(event, tenant=TENANT)
