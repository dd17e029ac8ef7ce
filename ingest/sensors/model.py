"""Declarative detector models: one file per model (``models/*.json`` or ``*.toml``), loaded and checked at
start, so a wrong layout is refused before the first notification (format: docs/formats.md, "Detector model").

A model names the GATT service and the reading characteristic, the exact notification length, and for each
field its offset, width and signedness (``type``), byte order (``endian``), ``scale`` and explicit ``unit``.
Measurement fields say what they measure (``quantity``: combustible, oxygen, toxic with its ``gas``) and the
detector's measuring ``range`` in that unit; ``units.to_rule_unit`` converts them to the rules' units.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.sensors.errors import ModelFileError
from ingest.sensors.units import UNITS

__all__ = ["BUILTIN_MODELS", "FORMAT", "WIDTHS", "Calibration", "DetectorModel", "FieldSpec", "load_model",
           "load_models", "parse_model"]

FORMAT = "tiezheng.detector-model/v1"
BUILTIN_MODELS = Path(__file__).resolve().parent / "models"
"""The model files shipped with the gateway."""

WIDTHS = {"u8": 1, "i8": 1, "u16": 2, "i16": 2, "u32": 4, "i32": 4}
"""Bytes per integer type (``u`` unsigned, ``i`` two's complement)."""

_MAX_FILE_BYTES = 64 * 1024
_MAX_NOTIFICATION = 512  # ATT_MTU ceiling: no characteristic value is longer (Core spec Vol 3 Part F 3.2.9)
_Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Calibration(_Strict):
    """The gas a combustible sensor is calibrated on and that gas's LEL in %vol (for %LEL → %vol)."""

    gas: str = Field(min_length=1, max_length=40)
    lel_pct_vol: float = Field(gt=0, le=100)


class FieldSpec(_Strict):
    """One field of the notification: where it sits, how to read it, and what it means."""

    name: _Name
    role: Literal["measurement", "sequence", "timestamp"] = "measurement"
    offset: int = Field(ge=0, lt=_MAX_NOTIFICATION)
    type: Literal["u8", "i8", "u16", "i16", "u32", "i32"]
    endian: Literal["little", "big"]
    scale: float = Field(1.0, gt=0)
    unit: str | None = None
    quantity: Literal["combustible", "oxygen", "toxic"] | None = None
    gas: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,15}$")] | None = None
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None

    @property
    def end(self) -> int:
        """The offset just past this field."""
        return self.offset + WIDTHS[self.type]

    @model_validator(mode="after")
    def _meaning(self) -> Self:
        if self.role == "measurement":
            self._check_measurement()
        elif self.role == "timestamp" and (self.unit != "unix_s" or self.type not in ("u32", "i32")):
            raise ValueError(f"field {self.name!r}: a timestamp is a u32/i32 with unit 'unix_s' (seconds since 1970 UTC)")
        elif self.role != "timestamp" and (self.unit, self.quantity, self.range) != (None, None, None):
            raise ValueError(f"field {self.name!r}: a {self.role} field has no unit, quantity or range")
        return self

    def _check_measurement(self) -> None:
        if self.quantity is None or self.unit is None or self.range is None:
            raise ValueError(f"measurement field {self.name!r} needs quantity, unit and range")
        if self.unit not in UNITS[self.quantity]:
            raise ValueError(f"field {self.name!r}: unit {self.unit!r} is not defined for {self.quantity}; "
                             f"use one of {list(UNITS[self.quantity])} (units are never guessed)")
        if (self.quantity == "toxic") != (self.gas is not None):
            raise ValueError(f"field {self.name!r}: 'gas' names the gas of a toxic field, and only of one")
        if not self.range[0] < self.range[1]:
            raise ValueError(f"field {self.name!r}: range must be [min, max] with min < max, got {list(self.range)}")


class DetectorModel(_Strict):
    """A detector model's decoder: GATT identifiers, the notification's exact length, and its fields."""

    format: Literal["tiezheng.detector-model/v1"]
    model: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,39}$")]
    name: str = Field(min_length=1, max_length=200)
    service_uuid: str
    reading_characteristic: str
    length: int = Field(ge=1, le=_MAX_NOTIFICATION)
    calibration: Calibration | None = None
    fields: list[FieldSpec] = Field(min_length=1, max_length=32)

    @field_validator("service_uuid", "reading_characteristic")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise ValueError(f"not a UUID: {value!r}") from exc

    @model_validator(mode="after")
    def _layout(self) -> Self:
        _check_layout(self.fields, self.length)
        _check_meanings(self.fields, self.calibration)
        return self

    def measurements(self) -> tuple[FieldSpec, ...]:
        """The measurement fields, in file order."""
        return tuple(f for f in self.fields if f.role == "measurement")

    def role(self, role: str) -> FieldSpec | None:
        """The field with ``role`` (sequence or timestamp), if the model has one."""
        return next((f for f in self.fields if f.role == role), None)


def _check_layout(fields: list[FieldSpec], length: int) -> None:
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"field names must be unique, got {names}")
    taken: dict[int, str] = {}
    for f in fields:
        if f.end > length:
            raise ValueError(f"field {f.name!r} ends at byte {f.end}, past the notification length {length}")
        for byte in range(f.offset, f.end):
            if byte in taken:
                raise ValueError(f"fields {taken[byte]!r} and {f.name!r} overlap at byte {byte}")
            taken[byte] = f.name


def _check_meanings(fields: list[FieldSpec], calibration: Calibration | None) -> None:
    measured = [(f.quantity, f.gas) for f in fields if f.role == "measurement"]
    if not measured:
        raise ValueError("a model needs at least one measurement field")
    if len(set(measured)) != len(measured):
        raise ValueError(f"each quantity (and toxic gas) may be measured by one field only, got {measured}")
    for role in ("sequence", "timestamp"):
        if sum(f.role == role for f in fields) > 1:
            raise ValueError(f"a model has at most one {role} field")
    if any(f.unit == "%LEL" for f in fields) and calibration is None:
        raise ValueError("a %LEL field needs calibration {gas, lel_pct_vol}: the LEL of the calibration gas is "
                         "never assumed")


def load_model(path: Path) -> DetectorModel:
    """The model in ``path`` (``.json`` or ``.toml``); raises ``ModelFileError`` naming the file and field."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the detector model: {exc.strerror}") from exc
    if len(data) > _MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: {len(data)} bytes; a detector model is at most {_MAX_FILE_BYTES}")
    return parse_model(data, path.suffix, str(path))


def parse_model(data: bytes, suffix: str, where: str = "model") -> DetectorModel:
    """The model in ``data`` (``suffix`` ``.json`` or ``.toml``); raises ``ModelFileError`` naming ``where``."""
    try:
        raw = _parse(data, suffix)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{where}: not valid {suffix.lstrip('.') or 'JSON/TOML'}: {exc}") from exc
    try:
        return DetectorModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ModelFileError(f"{where}: invalid detector model: {problems}") from exc


def _parse(data: bytes, suffix: str) -> Any:
    if suffix == ".toml":
        return tomllib.loads(data.decode())
    if suffix == ".json":
        return json.loads(data, object_pairs_hook=_no_duplicates)
    raise ValueError(f"unknown file type {suffix!r}; a detector model is .json or .toml")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in an object: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return dict(pairs)


def load_models(folder: Path = BUILTIN_MODELS) -> Mapping[str, DetectorModel]:
    """Every model file in ``folder`` by model id; raises ``ModelFileError`` for the first bad or duplicate one."""
    models: dict[str, DetectorModel] = {}
    for path in sorted(folder.glob("*")):
        if path.suffix not in (".json", ".toml"):
            continue
        model = load_model(path)
        if model.model in models:
            raise ModelFileError(f"{path}: model {model.model!r} is defined twice in {folder}")
        models[model.model] = model
    if not models:
        raise ModelFileError(f"{folder}: no detector model files (*.json, *.toml)")
    return models


