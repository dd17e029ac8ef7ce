"""Conversion of a detector's units into the units the permit rules use (``evidence_api/services/rules.py``).

The rules compare combustible gas and oxygen in %vol and toxic gases in mg/m³ (GB 30871-2022 5.3.2, 6.4;
GBZ 2.1 limits). Detectors report %LEL, %vol, ppm or mg/m³. Every conversion is explicit:

- %LEL → %vol needs the lower explosive limit of the gas the detector is calibrated on, which the model file
  states (``calibration.lel_pct_vol``: methane is 4.4 %vol by IEC 60079-20-1, 5.0 %vol in older tables — the
  very mix-up this refuses to guess).
- ppm → mg/m³ needs the gas's molar mass and the molar volume at the reference conditions of GBZ 159
  sampling: 20 °C and 101.325 kPa, 24.04 L/mol. ``MOLAR_MASS_G_MOL`` lists the gases we know; any other gas
  in ppm is refused.

A unit not in ``UNITS`` for its quantity raises ``UnknownUnit``.

>>> to_rule_unit("combustible", "%LEL", 10.0, lel_pct_vol=4.4)
0.44
>>> to_rule_unit("toxic", "ppm", 10.0, gas="h2s")
14.1764
>>> to_rule_unit("oxygen", "ppm", 20.9)
Traceback (most recent call last):
...
ingest.sensors.errors.UnknownUnit: unit 'ppm' is not defined for oxygen; use one of ['%vol']
"""

from __future__ import annotations

from typing import Final

from ingest.sensors.errors import UnknownUnit

__all__ = ["MOLAR_MASS_G_MOL", "MOLAR_VOLUME_L_MOL", "QUANTITIES", "RULE_UNITS", "UNITS", "to_rule_unit"]

QUANTITIES: Final = ("combustible", "oxygen", "toxic")
"""What a measurement field measures."""

RULE_UNITS: Final = {"combustible": "%vol", "oxygen": "%vol", "toxic": "mg/m3"}
"""The unit the rules compare each quantity in."""

UNITS: Final = {"combustible": ("%LEL", "%vol", "ppm"), "oxygen": ("%vol",), "toxic": ("ppm", "mg/m3")}
"""The units a model file may declare for each quantity."""

MOLAR_VOLUME_L_MOL: Final = 24.04
"""Molar volume of an ideal gas at 20 °C and 101.325 kPa (GBZ 159 reference conditions)."""

MOLAR_MASS_G_MOL: Final = {"h2s": 34.08, "co": 28.01, "cl2": 70.90, "nh3": 17.03, "so2": 64.06, "no2": 46.01,
                           "hcn": 27.03}
"""Molar masses of the toxic gases a detector may report in ppm."""

_DIGITS: Final = 4  # decoded values are rounded to 0.0001 of the rule unit, well below any detector's resolution


def to_rule_unit(quantity: str, unit: str, value: float, *, lel_pct_vol: float | None = None,
                 gas: str | None = None) -> float:
    """``value`` in ``unit`` converted to the rules' unit of ``quantity`` (``RULE_UNITS``).

    ``lel_pct_vol`` is the calibration gas's LEL (required for %LEL); ``gas`` the toxic gas (required for
    ppm of a toxic gas). Raises ``UnknownUnit`` for a unit not defined for the quantity or a conversion whose
    constant is missing.
    """
    if quantity not in UNITS:
        raise UnknownUnit(f"quantity {quantity!r} is not one the rules know; use one of {list(QUANTITIES)}")
    if unit not in UNITS[quantity]:
        raise UnknownUnit(f"unit {unit!r} is not defined for {quantity}; use one of {list(UNITS[quantity])}")
    return round(value * _factor(quantity, unit, lel_pct_vol, gas), _DIGITS)


def _factor(quantity: str, unit: str, lel_pct_vol: float | None, gas: str | None) -> float:
    if unit == "%LEL":
        if lel_pct_vol is None:
            raise UnknownUnit("%LEL needs the calibration gas's LEL in %vol (calibration.lel_pct_vol in the model)")
        return lel_pct_vol / 100.0
    if quantity == "combustible" and unit == "ppm":
        return 1e-4  # 10 000 ppm = 1 %vol
    if quantity == "toxic" and unit == "ppm":
        if gas not in MOLAR_MASS_G_MOL:
            raise UnknownUnit(f"ppm of gas {gas!r} cannot be converted to mg/m3: its molar mass is not known; "
                              f"known gases {sorted(MOLAR_MASS_G_MOL)}, or have the detector report mg/m3")
        return MOLAR_MASS_G_MOL[gas] / MOLAR_VOLUME_L_MOL
    return 1.0
