"""The reading verdict decided from memory (the worker's values, the server's limit check) agrees with the
workflow's full check (``permits.decide`` on the opened payload) for any payload, permit state and limits."""

from __future__ import annotations

import pickle
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence_api.services import permits
from evidence_api.services.monitored import FIELD_STATES, NOT_A_GAS_TEST, read_values, values_readings
from evidence_api.services.permit_model import Permit
from evidence_api.services.permit_rules import reading_failures
from evidence_api.services.rules import rules_from_overrides
from ledger.errors import MalformedInput
from tests.unit.evidence_api.test_permit_rules import RULES, T0, content

_VALUE = st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False), st.integers(-5, 120),
                   st.text(max_size=3))
_TOXIC = st.dictionaries(st.sampled_from(["h2s", "co", "cl2", "nh3", "voc"]),
                         st.floats(min_value=0, max_value=200, allow_nan=False), max_size=3)
_READINGS = st.fixed_dictionaries({}, optional={"combustible_pct_vol": _VALUE, "o2_pct_vol": _VALUE,
                                                "toxic_mg_m3": _TOXIC, "ppm": st.integers(0, 9)})
_PAYLOAD = st.one_of(
    st.fixed_dictionaries({"sampled_at": st.just(T0.isoformat()), "point": st.just("p"), "readings": _READINGS}),
    st.fixed_dictionaries({"ppm": st.integers(0, 9)}), st.text(max_size=5), st.none())
_CONTENT = st.sampled_from([
    content(), content(combustible_lel_pct=3.0), content(combustible_lel_pct=6.0),
    content(type="confined_space", level=None, workers=[{"worker": "w", "hours_per_day": 2}], jsa="j"),
])
_RULES = st.sampled_from([RULES, rules_from_overrides({"combustible_limit_high_lel_pct_vol": 0.3,
                                                        "toxic_limits_mg_m3": {"h2s": 5.0}})])


def _full(state: str, payload: Any, permit_content: Any, rules: Any) -> list[permits.FollowUp] | str:
    """What the workflow's full check decides: its follow-ups, or the message it logs."""
    permit = Permit(id="P-1", state=state, applicant="a", content=permit_content, route=())
    event = {"event_id": "e-1", "actor": {"type": "device", "id": "d-1", "key_id": "d-1#1"}}
    act = permits.Act("detector.reading", event, payload, permits.Actor("device", "d-1"), T0.isoformat())
    try:
        return permits.decide(permit, act, rules, permits.Facts(), T0 + timedelta(minutes=1))
    except MalformedInput as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(payload=_PAYLOAD, permit_content=_CONTENT, rules=_RULES, state=st.sampled_from(sorted(FIELD_STATES)))
def test_verdict_from_values_agrees_with_the_full_check(payload: Any, permit_content: Any, rules: Any,
                                                        state: str) -> None:
    values = pickle.loads(pickle.dumps(read_values(payload)))  # as it crosses from the intake worker
    full = _full(state, payload, permit_content, rules)
    if isinstance(values, str):
        assert values == NOT_A_GAS_TEST and isinstance(full, str) and full.startswith("gas test payload: ")
        return
    assert not isinstance(full, str)
    gas = rules.level(permit_content.type, permit_content.level).gas
    failures = reading_failures(values_readings(values), permit_content, gas, rules)
    assert bool(failures) == bool(full)
    if full:
        assert full[-1][1]["detail"].endswith("; ".join(failures))
