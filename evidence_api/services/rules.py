"""The rules the system enforces, with their defaults from GB 30871-2022 and 安监总局令第30号 (see
``shared/domain/rules.md``), each overridable per tenant.

A tenant stores only its overrides (a JSON object merged over ``DEFAULTS``); ``Rules`` validates the merged
whole, so a bad override is refused when it is set, not when a permit trips over it.
Values the standard does not set (validity of lifting, blinding, excavation and road closure; toxic limits,
which GBZ 2.1 holds) are marked ``unconfirmed`` here: defaults a safety officer is expected to review.
"""

from __future__ import annotations

import copy
import logging
from datetime import date
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledger.errors import MalformedInput

__all__ = ["DEFAULTS", "GUARDIAN_CHECKS", "PHOTO_STEPS", "GasRule", "HotWorkUpgrade", "LevelRule", "PhotoRequirement", "Rules",
           "WorkType", "encode_overrides",
           "load_rules", "merge", "rules_from_overrides"]

_log = logging.getLogger(__name__)

GUARDIAN_CHECKS = ("ventilation", "isolation", "detection", "protection", "communication")


class _RuleModel(BaseModel):
    """Rule values are finite numbers: ``inf`` or ``NaN`` would disable a limit, and JSON stores them as null.
    Unknown names are refused: a misspelt override would otherwise be stored and silently leave the default."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class GasRule(_RuleModel):
    """When gas must be analysed for a permit, and what passes (GB 30871 5.3, 6.3–6.5)."""

    max_age_at_start_min: int = Field(30, gt=0)          # sample → start (5.3.1c, 6.3a)
    reanalyse_after_pause_min: int | None = Field(None, gt=0)  # pause longer than this → re-test (5.3.1d, 6.3f)
    interval_during_work_min: int | None = Field(None, gt=0)   # a passing test at least this often while active (6.5)
    o2_min_pct: float | None = None                      # confined space 19.5 (6.4)
    o2_max_pct: float | None = None                      # confined space 21 (6.4); hot work on O2 equipment 23.5 (5.2.7)
    monitoring_gap_min: int | None = Field(None, gt=0)   # continuous monitoring (特级 hot work, 5.3.1d): the
                                                         # longest silence of detectors allowed while active


class LevelRule(_RuleModel):
    """One level of a work type: validity, approval route, gas rule, JSA."""

    max_hours: float | None = Field(gt=0)                # None: the standard sets none (unconfirmed, configure)
    route: list[list[str]] = Field(min_length=1)         # steps in order; every role of a step signs (会签)
    gas: GasRule | None = None
    jsa_required: bool = False


class WorkType(_RuleModel):
    """A GB 30871 special-work type with its levels and template."""

    name: str
    levels: dict[str, LevelRule]                         # "-" for a type without levels
    operations: list[str] = []                           # certificate sub-types a worker may hold for it; [] = none required
    risks: list[str] = Field(min_length=1)               # the template's mandatory risk list
    measures: list[str] = Field(min_length=1)            # mandatory safety measures, each confirmed before approval


class HotWorkUpgrade(_RuleModel):
    """When hot work must be handled one level higher (GB 30871 5.2.15): on holidays, rest days, at night,
    and outdoors in wind of force 5 or more. The standard does not define "night"; 22:00–06:00 is our
    default (unconfirmed). ``holidays`` is the tenant's official holiday calendar (ISO dates)."""

    night_from_hour: int | None = Field(22, ge=0, le=23)  # None: no night upgrade
    night_to_hour: int = Field(6, ge=0, le=23)
    rest_days: list[int] = [5, 6]                         # weekday numbers, Monday = 0
    holidays: list[date] = []
    wind_force: int = Field(5, ge=0, le=12)


PHOTO_STEPS = ("permit.submitted", "permit.activated", "permit.resumed", "permit.completed", "permit.closed")
"""The permit actions a tenant may make wait for on-site photos (``photo_steps``)."""


class PhotoRequirement(_RuleModel):
    """At least ``min_count`` photos of ``purpose`` (e.g. ``ppe``) before a step, taken inside the area's
    geofence when ``within_geofence``."""

    purpose: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    min_count: int = Field(2, ge=1, le=100)
    within_geofence: bool = True


class Rules(_RuleModel):
    """Every configurable rule of one tenant."""

    work_types: dict[str, WorkType]
    conflicts: list[tuple[str, str]]                     # type pairs that may not overlap nearby (4.7, 5.2.9, 6.7, 7.6)
    conflict_radius_m: float = Field(gt=0)
    approver_max_distance_m: float = Field(gt=0)         # 审批人 approves on site (4.11)
    max_location_accuracy_m: float = Field(gt=0)
    guardian_max_distance_m: float = Field(gt=0)
    guardian_heartbeat_timeout_s: int = Field(gt=0)
    violation_lookback_days: int = Field(ge=0)
    max_daily_hours: float = Field(gt=0)
    high_voltage_v: float = Field(gt=0)                  # ≥ this needs 高压电工 (1.1), below 低压电工 (1.2)
    combustible_lel_threshold_pct: float = Field(gt=0)   # 5.3.2: LEL ≥ 4 % → 0.5 %vol, else 0.2 %vol
    combustible_limit_high_lel_pct_vol: float = Field(gt=0)
    combustible_limit_low_lel_pct_vol: float = Field(gt=0)
    toxic_limits_mg_m3: dict[str, float]                 # unconfirmed (GBZ 2.1 not consulted): review per tenant
    certificate_warning_days: list[int] = Field(min_length=1)
    hot_work_upgrade: HotWorkUpgrade
    utc_offset_hours: float = Field(8.0, ge=-12, le=14)  # the plant's local time (China: +8, no DST)
    notify: Literal["webhook", "wecom", "none"] = "webhook"
    photo_steps: dict[str, list[PhotoRequirement]] = {}  # permit action → the photos it needs first
    media_retention_days: int = Field(180, gt=0, le=36500)  # process video is deleted this long after storing

    @field_validator("photo_steps")
    @classmethod
    def _known_steps(cls, steps: dict[str, list[PhotoRequirement]]) -> dict[str, list[PhotoRequirement]]:
        unknown = sorted(set(steps) - set(PHOTO_STEPS))
        if unknown:
            raise ValueError(f"photo_steps names {unknown}; steps that may need photos: {list(PHOTO_STEPS)}")
        return steps

    def work_type(self, name: str) -> WorkType:
        """The rules of work type ``name``; raises ``MalformedInput`` naming the known types."""
        if name not in self.work_types:
            raise MalformedInput(f"unknown work type {name!r}; one of {sorted(self.work_types)}")
        return self.work_types[name]

    def level(self, work_type: str, level: str | None) -> LevelRule:
        """The rules of ``level`` of ``work_type``; raises ``MalformedInput`` naming the known levels."""
        levels = self.work_type(work_type).levels
        key = level if level is not None else "-"
        if key not in levels:
            raise MalformedInput(f"work type {work_type!r} has levels {sorted(levels)}, got {level!r}")
        return levels[key]


_HOT_GAS = {"max_age_at_start_min": 30, "reanalyse_after_pause_min": 30, "o2_max_pct": 23.5}
_CONFINED_GAS = {"max_age_at_start_min": 30, "reanalyse_after_pause_min": 60, "interval_during_work_min": 120,
                 "o2_min_pct": 19.5, "o2_max_pct": 21.0}

DEFAULTS: dict[str, Any] = {
    "work_types": {
        "hot_work": {
            "name": "动火作业", "operations": ["2.1", "2.2", "2.3"],
            "levels": {
                "special": {"max_hours": 8, "route": [["workshop_head"], ["safety_officer"],
                                                       ["safety_officer", "production_manager"]],
                            "gas": _HOT_GAS | {"monitoring_gap_min": 5}, "jsa_required": True},
                "1": {"max_hours": 8, "route": [["workshop_head"], ["safety_officer"]], "gas": _HOT_GAS},
                "2": {"max_hours": 72, "route": [["workshop_head"]],
                      "gas": _HOT_GAS | {"reanalyse_after_pause_min": 60}},
            },
            "risks": ["火灾", "爆炸", "灼烫", "中毒窒息"],
            "measures": ["动火设备内部构件清理干净，蒸汽吹扫或水洗置换合格", "断开与动火设备相连的所有管线，加盲板",
                         "清除动火点周围及下方易燃物", "配备灭火器材，消防设施可用",
                         "气瓶间距不小于5 m，距动火点不小于10 m"],
        },
        "confined_space": {
            "name": "受限空间作业",
            "levels": {"-": {"max_hours": 24, "route": [["workshop_head"]], "gas": _CONFINED_GAS, "jsa_required": True}},
            "risks": ["中毒窒息", "缺氧", "火灾爆炸", "淹溺"],
            "measures": ["与受限空间相连的管道已隔离（盲板或拆除）", "通风置换合格", "入口设置警示标识，监护人在外全程监护",
                         "配备救援器材与正压式空气呼吸器"],
        },
        "blinding": {
            "name": "盲板抽堵作业",
            "levels": {"-": {"max_hours": 24, "route": [["workshop_head"]]}},  # validity unconfirmed
            "risks": ["介质泄漏", "中毒", "灼烫"],
            "measures": ["确认系统压力、温度降至安全范围", "盲板位置图已编号并现场挂牌", "使用防爆工具"],
        },
        "height": {
            "name": "高处作业", "operations": ["3.1", "3.2"],
            "levels": {
                "I": {"max_hours": 168, "route": [["workshop_head"]]},
                "II": {"max_hours": 168, "route": [["workshop_head"], ["safety_officer"]]},
                "III": {"max_hours": 168, "route": [["workshop_head"], ["safety_officer"]]},
                "IV": {"max_hours": 168, "route": [["workshop_head"], ["safety_officer"], ["production_manager"]],
                       "jsa_required": True},
            },
            "risks": ["高处坠落", "物体打击"],
            "measures": ["安全带高挂低用", "作业平台与护栏完好", "下方设警戒区"],
        },
        "lifting": {
            "name": "吊装作业",
            "levels": {
                "1": {"max_hours": 24, "route": [["workshop_head"], ["safety_officer"], ["production_manager"]],
                      "jsa_required": True},
                "2": {"max_hours": 24, "route": [["workshop_head"], ["safety_officer"]]},
                "3": {"max_hours": 24, "route": [["workshop_head"], ["safety_officer"]]},
            },  # validity unconfirmed
            "risks": ["起重伤害", "物体打击"],
            "measures": ["吊装区域设警戒，监护人清场", "吊索具检查合格", "风力超过5级停止室外吊装"],
        },
        "temp_power": {
            "name": "临时用电作业", "operations": ["1.1", "1.2"],
            "levels": {"-": {"max_hours": 360, "route": [["workshop_head"]]}},
            "risks": ["触电", "电气火灾"],
            "measures": ["配电箱漏电保护器完好", "线路绝缘良好、架空或穿管", "接拆线时监护人在场"],
        },
        "excavation": {
            "name": "动土作业",
            "levels": {"-": {"max_hours": 24, "route": [["workshop_head"], ["safety_officer"]]}},
            "risks": ["坍塌", "地下管线损坏"],
            "measures": ["地下管线、电缆已标识", "挖掘坑槽设护栏和警示灯"],
        },
        "road_closure": {
            "name": "断路作业",
            "levels": {"-": {"max_hours": 24, "route": [["workshop_head"], ["safety_officer"]]}},
            "risks": ["车辆伤害", "消防通道阻断"],
            "measures": ["设置路障与警示标志", "消防通道另有替代"],
        },
    },
    "conflicts": [["hot_work", "confined_space"], ["hot_work", "blinding"], ["blinding", "blinding"]],
    "conflict_radius_m": 30.0,
    "approver_max_distance_m": 5.0,
    "max_location_accuracy_m": 20.0,
    "guardian_max_distance_m": 50.0,
    "guardian_heartbeat_timeout_s": 300,
    "violation_lookback_days": 30,
    "max_daily_hours": 8.0,
    "high_voltage_v": 1000.0,
    "combustible_lel_threshold_pct": 4.0,
    "combustible_limit_high_lel_pct_vol": 0.5,
    "combustible_limit_low_lel_pct_vol": 0.2,
    "toxic_limits_mg_m3": {"h2s": 10.0, "co": 30.0, "cl2": 1.0, "nh3": 30.0},
    "certificate_warning_days": [90, 30, 7],
    "hot_work_upgrade": {"night_from_hour": 22, "night_to_hour": 6, "rest_days": [5, 6], "holidays": [], "wind_force": 5},
    "utc_offset_hours": 8.0,
    # on-site photos (issue 13): protective equipment worn and isolation in place before the start, the
    # site cleared at close-out; at least two each, taken inside the work area's geofence
    "photo_steps": {
        "permit.activated": [{"purpose": "ppe", "min_count": 2}, {"purpose": "isolation", "min_count": 2}],
        "permit.closed": [{"purpose": "site_cleared", "min_count": 2}],
    },
    "media_retention_days": 180,
}


def merge(base: Any, overrides: Any) -> Any:
    """``overrides`` merged into a copy of ``base``: objects recursively, anything else replaced."""
    if not isinstance(base, dict) or not isinstance(overrides, dict):
        return copy.deepcopy(overrides)
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
    return merged


def rules_from_overrides(overrides: dict[str, Any]) -> Rules:
    """The ``Rules`` of a tenant with ``overrides``; raises ``MalformedInput`` naming each bad field.

    >>> rules_from_overrides({"approver_max_distance_m": 8}).approver_max_distance_m
    8.0
    >>> rules_from_overrides({}).level("hot_work", "1").max_hours
    8.0
    """
    try:
        return Rules.model_validate(merge(DEFAULTS, overrides))
    except ValidationError as exc:
        raise MalformedInput(f"rule overrides are invalid: {_fields(exc)}") from exc


def encode_overrides(overrides: dict[str, Any]) -> tuple[str, Rules]:
    """The JSON text to store for ``overrides`` and the ``Rules`` it gives; raises ``MalformedInput`` naming each
    bad field. The rules are validated from the text as it will be read back, so what is stored always loads.

    >>> encode_overrides({"approver_max_distance_m": 8})[0]
    '{"approver_max_distance_m":8}'
    """
    try:
        text = orjson.dumps(overrides).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise MalformedInput(f"rule overrides cannot be stored as JSON: {exc}") from exc
    return text, rules_from_overrides(orjson.loads(text))


def load_rules(tenant: str, overrides: dict[str, Any]) -> Rules:
    """The ``Rules`` of ``tenant`` from its stored ``overrides``; never raises for a bad override.

    Writes refuse invalid overrides, but a stored one can still go bad (written by an older version, or made
    invalid by a changed default). Refusing to load would stop the permit watchdog for the tenant (no expiry,
    no silent-guardian or overdue-gas suspensions), so each offending override is dropped, the standard's
    default stands in its place, and the log says so at ERROR until an admin sets valid rules.
    """
    kept = copy.deepcopy(overrides) if isinstance(overrides, dict) else {}
    for _ in range(100):  # each round drops at least one override
        try:
            return Rules.model_validate(merge(DEFAULTS, kept))
        except ValidationError as exc:
            dropped = [path for path in (_drop(kept, tuple(e["loc"])) for e in exc.errors()) if path]
            _log.error("tenant %r: stored rule overrides %s are invalid (%s); using the defaults for them until an "
                       "admin sets valid rules with PUT /v1/settings/rules", tenant, dropped or "(all)", _fields(exc))
            if not dropped:
                break
    return Rules.model_validate(DEFAULTS)


def _drop(overrides: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    """Remove the deepest override on the path ``loc`` of a validation error; its dotted path, or None."""
    node, path = overrides, []
    for key in loc:
        if not isinstance(node, dict) or key not in node:
            break
        path.append(str(key))
        parent, node = node, node[key]
    if not path:
        return None
    del parent[path[-1]]
    return ".".join(path)


def _fields(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
