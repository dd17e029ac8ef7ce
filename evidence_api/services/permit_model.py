"""What a permit (作业票) holds, what each signed permit action carries, and the permit's projected state,
as strict pydantic models.

The content follows GB 30871-2022 附录A: type and level, place and work point, time window, work unit and
leader, workers with the special operation each performs, guardian, risks, numbered measures with their
confirmer, emergency plan, JSA, and the type's extras (combustible medium, voltage, height, load).
Every model forbids unknown fields, so a typo is refused instead of silently ignored. ``Permit`` is the
projected document (``GET /v1/permits/{id}``): frozen, changed only by ``permits.evolve`` from logged events;
its times are RFC 3339 text taken from the events themselves (``received_at``), never from a clock.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ledger.errors import MalformedInput
from ledger.ids import ID_PATTERN

__all__ = [
    "STATES", "Acceptance", "AcceptanceRecord", "AlarmRecord", "Approval", "ApprovalRecord", "Checks",
    "ChecksRecord", "DetectorRef", "DetectorStamp", "GasReadings", "GasRecord", "GasTest", "GuardianCheckin", "GuardianState",
    "Handover", "HandoverRecord", "HistoryEntry", "Measure", "Note", "Permit", "PermitContent", "PermitWorker",
    "Point", "State", "SuspensionRecord", "parse_payload",
]

_ID = ID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    """The work point (动火点, entry of the confined space ...)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class PermitWorker(_Strict):
    """A worker on the permit; ``operation`` is the certificate sub-type of what they do (e.g. 2.1 welding)."""

    worker: str = Field(pattern=_ID)
    operation: str | None = None
    hours_per_day: float = Field(8.0, gt=0, le=24)


class Measure(_Strict):
    """A numbered safety measure: whether it applies, and who confirmed it."""

    measure: str = Field(min_length=1, max_length=500)
    applies: bool
    confirmer: str = Field(pattern=_ID)


class PermitContent(_Strict):
    """The permit as the applicant drafts it (payload of ``permit.drafted``)."""

    type: str
    level: str | None = None
    area: str = Field(pattern=_ID)
    location: Point
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    content: str = Field(min_length=1, max_length=2000)
    work_unit: str = Field(min_length=1, max_length=200)
    team_leader: str = Field(pattern=_ID)
    guardian: str = Field(pattern=_ID)
    workers: list[PermitWorker] = Field(min_length=1, max_length=100)
    risks: list[str] = Field(min_length=1)
    measures: list[Measure] = Field(min_length=1)
    emergency_plan: str = Field(min_length=1, max_length=5000)
    jsa: str | None = Field(None, min_length=1, max_length=20000)
    combustible_lel_pct: float | None = Field(None, gt=0, le=100)  # LEL of the combustible medium (5.3.2)
    voltage_v: float | None = Field(None, gt=0)                   # temporary power
    height_m: float | None = Field(None, gt=0)                    # work at height
    load_t: float | None = Field(None, gt=0)                      # lifting
    linked_permits: list[str] = []
    base_level: str | None = None      # hot work: the level the place alone requires, before an upgrade (5.2.15)
    outdoor: bool = False
    wind_force: int | None = Field(None, ge=0, le=17)  # Beaufort, at the time of application

    @model_validator(mode="after")
    def _window(self) -> PermitContent:
        if self.ends_at <= self.starts_at:
            raise ValueError(f"ends_at {self.ends_at.isoformat()} must be after starts_at {self.starts_at.isoformat()}")
        if len({w.worker for w in self.workers}) != len(self.workers):
            raise ValueError("a worker is listed twice")
        return self


class Note(_Strict):
    """A free-text reason (submit, reject, cancel, suspend, resume, complete)."""

    note: str = Field("", max_length=2000)


class Approval(_Strict):
    """An approver's signature on one route step, in the role they sign for (location is on the event)."""

    role: str
    opinion: str = Field(min_length=1, max_length=2000)


class GasReadings(_Strict):
    """One sample: combustible gas and oxygen in %vol, toxic gases in mg/m³ (GBZ 2.1 units)."""

    combustible_pct_vol: float | None = Field(None, ge=0, le=100)
    o2_pct_vol: float | None = Field(None, ge=0, le=100)
    toxic_mg_m3: dict[str, float] = {}


class DetectorRef(_Strict):
    """Which detector took a reading a gateway relays (the gateway's key signs the batch, so the detector's
    identity travels in each reading), its sequence number, the notification as sent (hex), and whose clock
    ``sampled_at`` is: the detector's own, or the gateway's when the detector has none."""

    id: str = Field(pattern=ID_PATTERN)
    model: str = Field(min_length=1, max_length=40)
    sequence: int | None = Field(None, ge=0, le=2**32)
    raw: str = Field("", pattern=r"^([0-9a-f]{2}){0,512}$")
    clock: Literal["detector", "gateway"] = "gateway"


class GasTest(_Strict):
    """A gas analysis (payload of ``gas.analysed`` and of a detector's ``detector.reading`` on a permit)."""

    sampled_at: AwareDatetime
    point: str = Field(min_length=1, max_length=200)
    purpose: Literal["pre_start", "periodic", "retest"] = "periodic"
    readings: GasReadings
    detector: DetectorRef | None = None


class GuardianCheckin(_Strict):
    """The token scanned from the area's QR code (location is on the event)."""

    qr_token: str = Field(min_length=8, max_length=200)


class Checks(_Strict):
    """The guardian's five checks before work starts; each must be true."""

    ventilation: bool
    isolation: bool
    detection: bool
    protection: bool
    communication: bool


class Handover(_Strict):
    """A new guardian taking over: the outgoing guardian and the QR token scanned on arrival."""

    from_guardian: str = Field(pattern=_ID)
    qr_token: str = Field(min_length=8, max_length=200)


class Acceptance(_Strict):
    """The close-out acceptance (完工验收)."""

    result: Literal["accepted"]
    remarks: str = Field("", max_length=2000)


_M = TypeVar("_M", bound=BaseModel)


def parse_payload(model: type[_M], payload: Any, kind: str) -> _M:
    """``payload`` as ``model``; raises ``MalformedInput`` naming each bad field of the ``kind`` payload."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors())
        raise MalformedInput(f"{kind} payload: {fields}") from exc



# -- the projected permit document --------------------------------------------------------------------

State = Literal["draft", "submitted", "approving", "approved", "active", "suspended", "completed", "closed",
                "rejected", "cancelled", "expired"]
STATES: tuple[str, ...] = State.__args__  # type: ignore[attr-defined]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApprovalRecord(_Record):
    """One approver's signature: route step (0-based), role, who, opinion, where (metres from the work point)."""

    step: int
    role: str
    user: str
    opinion: str
    at: str
    distance_m: float
    accuracy_m: float | None
    event_id: str


class GasRecord(_Record):
    """A gas test on the permit (an analyst's, or a detector reading out of limits) with its verdict."""

    event_id: str
    by: str
    kind: str
    sampled_at: str
    purpose: str
    point: str
    readings: GasReadings
    passed: bool
    failures: tuple[str, ...]
    flags: tuple[str, ...]
    at: str
    detector: str | None = None


class ChecksRecord(_Record):
    """When the guardian confirmed the five checks."""

    confirmed_at: str
    event_id: str


class GuardianState(_Record):
    """The guardian on watch: who, when they checked in, when they were last heard from at the work point."""

    user: str | None = None
    checked_in_at: str | None = None
    last_seen_at: str | None = None
    checks: ChecksRecord | None = None


class HandoverRecord(_Record):
    """A guardian handing the watch to another."""

    from_: str = Field(alias="from")
    to: str
    at: str
    event_id: str


class SuspensionRecord(_Record):
    """A pause of the work: why, by whom, and when it was resumed (None while suspended)."""

    at: str
    by: str
    reason: str
    event_id: str
    resumed_at: str | None = None


class AlarmRecord(_Record):
    """An alarm the service raised, with the parties it went to and the event that triggered it."""

    at: str
    event_id: str
    reason: str
    detail: str
    trigger_event: str | None = None
    parties: tuple[str, ...] = ()


class AcceptanceRecord(_Record):
    """The close-out acceptance signature."""

    by: str
    remarks: str
    event_id: str


class DetectorStamp(_Record):
    """The last passing detector reading (passing readings are not copied into the document)."""

    last_reading_at: str
    event_id: str


class HistoryEntry(_Record):
    """One permit.* event (or state change) in the permit's history."""

    kind: str
    event_id: str
    by: str
    at: str
    from_: str | None = Field(alias="from")
    to: str


class Permit(_Record):
    """A permit's projected state; ``version`` counts the logged events folded into it."""

    id: str
    state: State
    applicant: str
    content: PermitContent
    route: tuple[tuple[str, ...], ...]
    approvals: tuple[ApprovalRecord, ...] = ()
    gas_tests: tuple[GasRecord, ...] = ()
    guardian: GuardianState = GuardianState()
    handovers: tuple[HandoverRecord, ...] = ()
    suspensions: tuple[SuspensionRecord, ...] = ()
    alarms: tuple[AlarmRecord, ...] = ()
    activated_at: str | None = None
    completed_at: str | None = None
    closed_at: str | None = None
    acceptance: AcceptanceRecord | None = None
    detector: DetectorStamp | None = None
    history: tuple[HistoryEntry, ...] = ()
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        """The document as the API returns it and the ``permits`` table stores it."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, doc: Any) -> Permit:
        """Inverse of ``to_json``."""
        return cls.model_validate(doc)
