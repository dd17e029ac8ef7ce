"""The intake's claim fast paths answer exactly as their references: ``check_claim`` (``_plainly_valid``, then
``reference_check_claim`` for anything else) accepts and refuses as ``reference_check_claim`` alone, with the
same message, and ``claim_fast_safe`` equals ``canonical.fast_path_safe`` on every claim ``check_claim`` accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical, fast_path_safe
from ledger.errors import MalformedInput
from ledger.events import check_claim, claim_fast_safe, claim_of, reference_check_claim
from ledger.ids import ID_PATTERN
from tests.helpers import TENANT, make_actor, signed_item

_BASE = signed_item(make_actor("guardian-1"), permit="HW-1", location={"lat": 30.27, "lon": 120.15})["event"]

_ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(), st.text(max_size=8),
                 st.lists(st.integers(0, 2), max_size=2), st.dictionaries(st.sampled_from(["a", "type"]), st.none(),
                                                                          max_size=1))
_ID = st.one_of(st.from_regex(ID_PATTERN, fullmatch=True), st.text(max_size=6), _ODD)
_NUMBER = st.one_of(st.floats(), st.integers(-200, 200), st.sampled_from([0.0, 1.0, 1e-6, 1e-5, 90, 90.0, -180.5, True]),
                    st.floats(-180, 180), _ODD)
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "v": st.one_of(st.just(1), st.just(1.0), st.just(True), st.integers(0, 2), _ODD),
    "event_id": st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), _ODD),
    "tenant": st.one_of(st.just(TENANT), st.just("other"), _ODD),
    "kind": st.one_of(st.sampled_from(["detector.reading", "permit.signed", "Bad.kind", "x"]), _ODD),
    "subject": st.one_of(st.dictionaries(st.sampled_from(["permit", "worker", "media", "other"]),
                                         st.one_of(st.none(), _ID), max_size=3), _ODD),
    "actor": st.one_of(st.fixed_dictionaries({"type": st.one_of(st.sampled_from(["user", "device", "service", "robot"]),
                                                                _ODD),
                                              "id": _ID, "key_id": _ID}),
                       st.dictionaries(st.sampled_from(["type", "id", "key_id", "x"]), _ID, max_size=4), _ODD),
    "occurred_at": st.one_of(st.sampled_from(["2026-11-23T08:00:00Z", "2026-02-30T08:00:00Z", "2026-11-23T08:00:00",
                                              "2026-11-23T08:00:00.123456789+08:00", "2026-13-01T00:00:00Z"]), _ODD),
    "payload_commitment": st.one_of(st.just("ab" * 32), st.just("AB" * 32), st.text("0123456789abcdef", max_size=65),
                                    _ODD),
    "location": st.one_of(st.fixed_dictionaries({"lat": _NUMBER, "lon": _NUMBER}),
                          st.fixed_dictionaries({"lat": _NUMBER, "lon": _NUMBER, "accuracy_m": _NUMBER}),
                          st.dictionaries(st.sampled_from(["lat", "lon", "alt"]), _NUMBER, max_size=3), _ODD),
    "signature": st.one_of(st.text(max_size=4), _ODD),
}


@st.composite
def _events(draw: st.DrawFn) -> Any:
    """A valid event with some fields replaced, dropped or added (a few, so most draws stay near valid)."""
    event = dict(_BASE)
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=2, unique=True)):
        event[name] = draw(_FIELDS[name])
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=1)):
        del event[name]
    if draw(st.booleans()) and draw(st.booleans()):
        event[draw(st.sampled_from(["received_at", "prev", "extra"]))] = "x"
    return event


_IN_RANGE = st.one_of(st.floats(-90, 90), st.integers(-90, 90), st.sampled_from([0.0, 1.0, -90.0, 1e-5, 9.99e-6, 2.5]))
_VALID = st.builds(lambda lat, lon, accuracy, subject, signed: {
    **{k: v for k, v in _BASE.items() if signed or k != "signature"}, "subject": subject,
    "location": {"lat": lat, "lon": lon} | ({} if accuracy is None else {"accuracy_m": accuracy})},
    _IN_RANGE, _IN_RANGE, st.none() | _IN_RANGE.map(abs), st.dictionaries(
        st.sampled_from(["permit", "worker", "media"]), st.none() | st.from_regex(ID_PATTERN, fullmatch=True),
        max_size=3), st.booleans())


def _answer(check: Any, event: Any) -> tuple[str, str]:
    try:
        check(event, tenant=TENANT)
    except (MalformedInput, TypeError) as exc:  # the exact refusal (TypeError: an unhashable actor type)
        return type(exc).__name__, str(exc)
    return "ok", ""


@settings(max_examples=1500, deadline=None)
@given(event=st.one_of(_events(), _VALID))
def test_check_claim_answers_as_its_reference(event: Any) -> None:
    assert _answer(check_claim, event) == _answer(reference_check_claim, event)


@settings(max_examples=800, deadline=None)
@given(event=st.one_of(_events(), _VALID))
def test_claim_fast_safe_equals_the_walk_on_checked_claims(event: Any) -> None:
    if _answer(reference_check_claim, event)[0] != "ok":
        return
    claim = claim_of(event)
    assert claim_fast_safe(claim) == fast_path_safe(claim)
    assert canonical(claim, known_fast=claim_fast_safe(claim)) == canonical(claim)
