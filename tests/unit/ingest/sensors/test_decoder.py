"""The declarative decoders, property-tested: round trips, wrong sizes, out-of-range values, any bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.sensors.decoder import decode, encode
from ingest.sensors.errors import NotificationSizeError, OutOfRange, ReadingRefused, UnknownUnit
from ingest.sensors.model import DetectorModel, load_models, parse_model
from ingest.sensors.units import MOLAR_MASS_G_MOL, to_rule_unit

MODELS = load_models()
M4, S1 = MODELS["tz-m4"], MODELS["tz-s1-h2s"]


def _values(model: DetectorModel) -> st.SearchStrategy[dict[str, float]]:
    """Values inside each field's range, on the field's resolution (what the detector can send)."""
    fields = {f.name: st.integers(round(f.range[0] / f.scale), round(f.range[1] / f.scale))
              .map(lambda n, s=f.scale: round(n * s, 6)) for f in model.measurements() if f.range}
    return st.fixed_dictionaries(fields)


@settings(max_examples=200)
@given(st.sampled_from(sorted(MODELS)), st.data())
def test_decode_roundtrip_within_range(name: str, data: st.DataObject) -> None:
    model = MODELS[name]
    values = data.draw(_values(model))
    sequence = data.draw(st.integers(0, 255))
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    reading = decode(model, encode(model, values, sequence=sequence, detector_time=when))
    assert {m.field: m.value for m in reading.measurements} == pytest.approx(values)
    assert reading.sequence == sequence
    assert reading.detector_time == (when if model.role("timestamp") else None)
    for m in reading.measurements:
        lel = model.calibration.lel_pct_vol if model.calibration else None
        assert m.rule_value == to_rule_unit(m.quantity, m.unit, m.value, lel_pct_vol=lel, gas=m.gas)


@given(st.sampled_from(sorted(MODELS)), st.binary(max_size=600))
def test_decode_wrong_size_refused(name: str, data: bytes) -> None:
    model = MODELS[name]
    if len(data) == model.length:
        data += b"\x00"
    state = "truncated" if len(data) < model.length else "oversized"
    with pytest.raises(NotificationSizeError, match=rf"notification of {len(data)} bytes is {state}; "
                                                    rf"the model sends exactly {model.length}"):
        decode(model, data)


@settings(max_examples=300)
@given(st.sampled_from(sorted(MODELS)), st.data())
def test_decode_any_bytes_reading_in_range_or_refused(name: str, data: st.DataObject) -> None:
    """Whatever a detector (or an attacker near it) sends, the decoder gives a reading inside every range or
    refuses it naming the field: it never raises anything else and never returns a value outside the range."""
    model = MODELS[name]
    raw = data.draw(st.binary(min_size=model.length, max_size=model.length))
    try:
        reading = decode(model, raw)
    except OutOfRange as exc:
        assert any(f"field {f.name!r}" in str(exc) for f in model.fields)
        return
    for m, spec in zip(reading.measurements, model.measurements(), strict=True):
        assert spec.range and spec.range[0] <= m.value <= spec.range[1]
        assert m.quantity == "toxic" or 0 <= m.rule_value <= 100
    assert reading.raw == raw


def test_decode_out_of_range_names_field_and_range() -> None:
    raw = encode(M4, {"lel": 10, "o2": 20.9, "h2s": 0, "co": 0})
    over = raw[:4] + (400).to_bytes(2, "little") + raw[6:]  # 40.0 %vol O2, beyond the sensor's 0–30
    with pytest.raises(OutOfRange, match=r"tz-m4: field 'o2' reads 40 %vol, outside the detector's range 0–30 %vol"):
        decode(M4, over)
    negative = encode(S1, {"h2s": 1.0})[:4] + (-25).to_bytes(2, "big", signed=True) + b"\x00\x00"
    with pytest.raises(OutOfRange, match=r"field 'h2s' reads -0.25 ppm, outside the detector's range 0–200 ppm"):
        decode(S1, negative)


def test_decode_byte_order_matters() -> None:
    """The same two bytes mean different things in the two layouts: each model reads its own endianness."""
    reading = decode(S1, bytes.fromhex("6a4e6f80" "0190" "07" "00"))
    assert reading.measurements[0].value == 4.0  # 0x0190 big-endian = 400 × 0.01 ppm
    assert reading.sequence == 7
    assert reading.detector_time == datetime.fromtimestamp(0x6A4E6F80, UTC)


def test_to_rule_unit_conversions_and_refusals() -> None:
    assert to_rule_unit("combustible", "%LEL", 100, lel_pct_vol=4.4) == 4.4
    assert to_rule_unit("combustible", "ppm", 5000) == 0.5
    assert to_rule_unit("toxic", "mg/m3", 7.5, gas="h2s") == 7.5
    assert to_rule_unit("toxic", "ppm", 24.04, gas="co") == MOLAR_MASS_G_MOL["co"]
    with pytest.raises(UnknownUnit, match=r"%LEL needs the calibration gas's LEL"):
        to_rule_unit("combustible", "%LEL", 10)
    with pytest.raises(UnknownUnit, match=r"ppm of gas 'benzene' cannot be converted to mg/m3"):
        to_rule_unit("toxic", "ppm", 1, gas="benzene")
    with pytest.raises(UnknownUnit, match=r"quantity 'humidity' is not one the rules know"):
        to_rule_unit("humidity", "%", 1)
    assert issubclass(UnknownUnit, ReadingRefused)


def test_encode_value_too_large_refused() -> None:
    with pytest.raises(OutOfRange, match=r"does not fit field 'co' \(u16\)"):
        encode(M4, {"lel": 0, "o2": 20.9, "h2s": 0, "co": 70000})


_TYPE_MAX = {"u8": 255, "i8": 127, "u16": 65535, "i16": 32767, "u32": 2**32 - 1, "i32": 2**31 - 1}
_QUANTITIES = [("combustible", None, "%vol"), ("combustible", None, "ppm"), ("oxygen", None, "%vol"),
               ("toxic", "h2s", "ppm"), ("toxic", "co", "mg/m3"), ("toxic", "cl2", "ppm")]


@st.composite
def _models(draw: st.DrawFn) -> DetectorModel:
    """A random valid model: 1–4 measurements of distinct quantities, any integer types and byte orders, in
    any order with gaps, an optional sequence field; ranges that fit the integer type."""
    chosen = draw(st.lists(st.sampled_from(_QUANTITIES), min_size=1, max_size=4, unique_by=lambda q: (q[0], q[1])))
    fields, offset = [], draw(st.integers(0, 3))
    for n, (quantity, gas, unit) in enumerate(chosen):
        kind = draw(st.sampled_from(sorted(_TYPE_MAX)))
        scale = draw(st.sampled_from([0.001, 0.01, 0.1, 1.0]))
        top = min(_TYPE_MAX[kind] * scale, 100.0 if unit == "%vol" else 10_000.0)
        field = {"name": f"f{n}", "quantity": quantity, "offset": offset, "type": kind,
                 "endian": draw(st.sampled_from(["little", "big"])), "scale": scale, "unit": unit,
                 "range": [0.0, max(top, scale)]}
        fields.append(field | ({"gas": gas} if gas else {}))
        offset += int(kind[1:]) // 8 + draw(st.integers(0, 2))
    if draw(st.booleans()):
        fields.append({"name": "seq", "role": "sequence", "offset": offset, "type": "u16", "endian": "big"})
        offset += 2
    text = json.dumps({"format": "tiezheng.detector-model/v1", "model": "random", "name": "random",
                        "service_uuid": "7a3c0001-5d1f-4a52-9c1e-2b8e6f0d4a10",
                        "reading_characteristic": "7a3c0002-5d1f-4a52-9c1e-2b8e6f0d4a10",
                        "length": offset + draw(st.integers(0, 3)), "fields": fields})
    return parse_model(text.encode(), ".json")


@settings(max_examples=150)
@given(_models(), st.data())
def test_decode_random_layouts_roundtrip_and_refuse(model: DetectorModel, data: st.DataObject) -> None:
    """Any valid layout: what encode writes, decode reads back (each type, byte order and offset); any other
    bytes of the right length decode within range or are refused naming a field; other lengths are refused."""
    values = data.draw(_values(model))
    reading = decode(model, encode(model, values, sequence=data.draw(st.integers(0, 65535))))
    assert {m.field: m.value for m in reading.measurements} == pytest.approx(values)
    raw = data.draw(st.binary(min_size=model.length, max_size=model.length))
    try:
        decoded = decode(model, raw)
    except OutOfRange as exc:
        assert "field 'f" in str(exc)
    else:
        assert all(s.range and s.range[0] <= m.value <= s.range[1]
                   for m, s in zip(decoded.measurements, model.measurements(), strict=True))
    with pytest.raises(NotificationSizeError):
        decode(model, raw + b"\x00")
