"""Decoding a detector's GATT notification with its declarative model, and the inverse for virtual detectors.

``decode`` checks the size first (a truncated or oversized notification is refused whole), then reads each
field with its width, signedness and byte order, applies the scale, checks the detector's range in the
field's own unit, and converts to the rules' units (``units``). Nothing is guessed: any doubt is a
``ReadingRefused`` naming the model, the field and the value.

>>> from ingest.sensors.model import load_models
>>> m4 = load_models()["tz-m4"]
>>> reading = decode(m4, encode(m4, {"lel": 10.0, "o2": 20.9, "h2s": 1.5, "co": 12}, sequence=7))
>>> reading.gas_readings()
{'combustible_pct_vol': 0.44, 'o2_pct_vol': 20.9, 'toxic_mg_m3': {'h2s': 2.1265, 'co': 13.9817}}
>>> decode(m4, b"\\x00" * 9)
Traceback (most recent call last):
...
ingest.sensors.errors.NotificationSizeError: tz-m4: notification of 9 bytes is truncated; the model sends exactly 10
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ingest.sensors.errors import NotificationSizeError, OutOfRange
from ingest.sensors.model import WIDTHS, DetectorModel, FieldSpec
from ingest.sensors.units import to_rule_unit

__all__ = ["Measurement", "Reading", "decode", "encode"]

_MAX_PCT_VOL = 100.0  # a gas fraction above 100 %vol is no reading, whatever the range says


@dataclass(frozen=True)
class Measurement:
    """One decoded field: its value as the detector meant it (``value`` ``unit``) and in the rules' unit."""

    field: str
    quantity: str
    gas: str | None
    value: float
    unit: str
    rule_value: float


@dataclass(frozen=True)
class Reading:
    """A decoded notification: the measurements, the detector's sequence number and clock if it has them,
    and the raw bytes (kept as evidence of exactly what the detector sent)."""

    model: str
    measurements: tuple[Measurement, ...]
    sequence: int | None
    detector_time: datetime | None
    raw: bytes

    def gas_readings(self) -> dict[str, Any]:
        """The ``readings`` object of a gas test (``GasReadings`` on the server: %vol, %vol, mg/m³)."""
        out: dict[str, Any] = {}
        toxic: dict[str, float] = {}
        for m in self.measurements:
            if m.quantity == "combustible":
                out["combustible_pct_vol"] = m.rule_value
            elif m.quantity == "oxygen":
                out["o2_pct_vol"] = m.rule_value
            else:
                toxic[m.gas or ""] = m.rule_value
        return out | {"toxic_mg_m3": toxic}


def decode(model: DetectorModel, data: bytes) -> Reading:
    """The reading in notification ``data`` of ``model``.

    Requires ``len(data) == model.length``; raises ``NotificationSizeError`` otherwise, ``OutOfRange`` for a
    value outside the detector's range (or above 100 %vol), ``UnknownUnit`` for a conversion without its constant.
    """
    if len(data) != model.length:
        state = "truncated" if len(data) < model.length else "oversized"
        raise NotificationSizeError(f"{model.model}: notification of {len(data)} bytes is {state}; "
                                    f"the model sends exactly {model.length}")
    measurements = tuple(_measure(model, f, _integer(f, data)) for f in model.measurements())
    sequence = model.role("sequence")
    stamp = model.role("timestamp")
    return Reading(model=model.model, measurements=measurements,
                   sequence=None if sequence is None else _integer(sequence, data),
                   detector_time=None if stamp is None else _time(model, stamp, _integer(stamp, data)),
                   raw=bytes(data))


def _integer(spec: FieldSpec, data: bytes) -> int:
    return int.from_bytes(data[spec.offset:spec.end], _order(spec.endian), signed=spec.type.startswith("i"))


def _order(endian: str) -> Literal["little", "big"]:
    return "little" if endian == "little" else "big"


def _measure(model: DetectorModel, spec: FieldSpec, raw: int) -> Measurement:
    assert spec.quantity is not None and spec.unit is not None and spec.range is not None  # checked at load
    value = round(raw * spec.scale, 6)
    low, high = spec.range
    if not low <= value <= high:
        raise OutOfRange(f"{model.model}: field {spec.name!r} reads {value:g} {spec.unit}, outside the detector's "
                         f"range {low:g}–{high:g} {spec.unit}; reading refused (check the sensor)")
    lel = model.calibration.lel_pct_vol if model.calibration else None
    converted = to_rule_unit(spec.quantity, spec.unit, value, lel_pct_vol=lel, gas=spec.gas)
    if spec.quantity != "toxic" and converted > _MAX_PCT_VOL:
        raise OutOfRange(f"{model.model}: field {spec.name!r} gives {converted:g} %vol, more than the whole gas; "
                         "reading refused (check the model's scale and unit)")
    return Measurement(spec.name, spec.quantity, spec.gas, value, spec.unit, converted)


def _time(model: DetectorModel, spec: FieldSpec, seconds: int) -> datetime:
    if seconds < 0:
        raise OutOfRange(f"{model.model}: field {spec.name!r} is {seconds} s, before 1970; reading refused")
    return datetime.fromtimestamp(seconds, UTC)


def encode(model: DetectorModel, values: Mapping[str, float], *, sequence: int = 0,
           detector_time: datetime | None = None) -> bytes:
    """The notification ``model`` sends for ``values`` (field name → value in the field's unit): what a
    virtual detector transmits. Raises ``OutOfRange`` if a value does not fit its field's integer type."""
    out = bytearray(model.length)
    for spec in model.fields:
        if spec.role == "measurement":
            raw = round(values[spec.name] / spec.scale)
        elif spec.role == "sequence":
            raw = sequence % (1 << (8 * WIDTHS[spec.type]))
        else:
            raw = int((detector_time or datetime.now(UTC)).timestamp())
        _put(model, spec, raw, out)
    return bytes(out)


def _put(model: DetectorModel, spec: FieldSpec, raw: int, out: bytearray) -> None:
    try:
        out[spec.offset:spec.end] = raw.to_bytes(WIDTHS[spec.type], _order(spec.endian),
                                                 signed=spec.type.startswith("i"))
    except OverflowError as exc:
        raise OutOfRange(f"{model.model}: {raw} does not fit field {spec.name!r} ({spec.type})") from exc
