"""Event flags in their stored form (``ledger.storage.encode_flags``, migration 0011): one character for each
flag the service sets, any other flag kept by name, and every flag read back as it was set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.storage import _FLAGS, decode_flags, encode_flags

_CODES = {encode_flags([flag]) for flag in _FLAGS}

_FLAG = st.one_of(st.sampled_from(_FLAGS), st.sampled_from(["1", "9", "=", "=1", "==x", "x.custom"]),
                  st.text(st.characters(blacklist_characters=","), min_size=1, max_size=12))


def test_known_flags_take_one_character_each() -> None:
    stored = encode_flags(("occurred_long_before_receipt", "received_late"))

    assert stored == "1,2" and decode_flags(stored) == ("occurred_long_before_receipt", "received_late")


def test_rows_written_before_the_codes_read_the_same() -> None:
    assert decode_flags("occurred_long_before_receipt,received_late,x.custom") == (
        "occurred_long_before_receipt", "received_late", "x.custom")
    assert decode_flags("") == ()


@settings(max_examples=400, deadline=None)
@given(st.lists(_FLAG, max_size=6))
def test_any_flags_read_back_as_they_were_set(flags: list[str]) -> None:
    assert decode_flags(encode_flags(flags)) == tuple(flags)
    names = [f for f in flags if f[:1] != "=" and f not in _CODES]  # any flag stored by name before 0011
    assert decode_flags(",".join(names)) == tuple(names)
