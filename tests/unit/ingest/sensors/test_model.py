"""Detector-model files: the shipped ones load; every impossible layout or unknown unit is refused by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ingest.sensors.errors import ModelFileError
from ingest.sensors.model import BUILTIN_MODELS, load_model, load_models, parse_model

M4 = json.loads((BUILTIN_MODELS / "tz-m4.json").read_text())


def _with(change: Any) -> bytes:
    model = copy.deepcopy(M4)
    change(model)
    return json.dumps(model).encode()


def test_load_models_builtin_has_both_layouts() -> None:
    models = load_models()
    assert set(models) == {"tz-m4", "tz-s1-h2s"}
    assert [f.endian for f in models["tz-m4"].fields] == ["little"] * 5
    assert models["tz-s1-h2s"].role("timestamp") is not None and models["tz-s1-h2s"].fields[1].type == "i16"


MUTATIONS = {
    "unknown-unit": (lambda m: m["fields"][2].update(unit="percent"), r"fields\.2.*unit 'percent' is not defined for oxygen"),
    "ppm-oxygen": (lambda m: m["fields"][2].update(unit="ppm"), r"unit 'ppm' is not defined for oxygen"),
    "no-unit": (lambda m: m["fields"][1].pop("unit"), r"measurement field 'lel' needs quantity, unit and range"),
    "lel-without-calibration": (lambda m: m.pop("calibration"), r"%LEL field needs calibration"),
    "overlap": (lambda m: m["fields"][2].update(offset=3), r"fields 'lel' and 'o2' overlap at byte 3"),
    "past-end": (lambda m: m["fields"][4].update(offset=9), r"field 'co' ends at byte 11, past the notification length 10"),
    "no-endian": (lambda m: m["fields"][1].pop("endian"), r"fields\.1\.endian: Field required"),
    "bad-type": (lambda m: m["fields"][1].update(type="u24"), r"fields\.1\.type"),
    "string-offset": (lambda m: m["fields"][1].update(offset="2"), r"fields\.1\.offset: Input should be a valid integer"),
    "zero-scale": (lambda m: m["fields"][1].update(scale=0), r"fields\.1\.scale: Input should be greater than 0"),
    "toxic-without-gas": (lambda m: m["fields"][3].pop("gas"), r"'gas' names the gas of a toxic field"),
    "empty-range": (lambda m: m["fields"][3].update(range=[5, 5]), r"min < max"),
    "two-oxygen": (lambda m: m["fields"][1].update(quantity="oxygen", unit="%vol"), r"one field only"),
    "bad-uuid": (lambda m: m.update(service_uuid="not-a-uuid"), r"service_uuid.*not a UUID"),
    "extra-key": (lambda m: m.update(colour="red"), r"colour: Extra inputs are not permitted"),
    "wrong-format": (lambda m: m.update(format="v2"), r"format"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_parse_model_mutation_refused(case: str) -> None:
    change, message = MUTATIONS[case]
    with pytest.raises(ModelFileError, match=message):
        parse_model(_with(change), ".json", "tz-m4.json")


def test_parse_model_duplicate_key_refused() -> None:
    text = (BUILTIN_MODELS / "tz-m4.json").read_bytes().replace(b'"length": 10,', b'"length": 10, "length": 12,')
    with pytest.raises(ModelFileError, match=r"duplicate keys in an object: \['length'\]"):
        parse_model(text, ".json", "tz-m4.json")


def test_load_model_unreadable_and_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"missing\.json: cannot read the detector model"):
        load_model(tmp_path / "missing.json")
    (tmp_path / "m.yaml").write_text("model: x")
    with pytest.raises(ModelFileError, match=r"unknown file type '.yaml'"):
        load_model(tmp_path / "m.yaml")
    (tmp_path / "bad.toml").write_text("model = ")
    with pytest.raises(ModelFileError, match=r"bad\.toml: not valid toml"):
        load_model(tmp_path / "bad.toml")


def test_load_models_duplicate_model_refused(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_bytes((BUILTIN_MODELS / "tz-m4.json").read_bytes())
    with pytest.raises(ModelFileError, match=r"b\.json: model 'tz-m4' is defined twice"):
        load_models(tmp_path)
    with pytest.raises(ModelFileError, match=r"no detector model files"):
        load_models(tmp_path / "empty")
