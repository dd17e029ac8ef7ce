"""Service settings, read once from ``TIEZHENG_*`` environment variables (and a dev ``.env``)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import BaseModel, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evidence_api.cors import check_origin
from ledger.clock import DEFAULT_PLANT_TZ, zone

__all__ = ["ANCHOR_BACKENDS", "Settings", "WitnessSetting"]

ANCHOR_BACKENDS = ("local", "fabric", "evm")
"""The anchor backends ``TIEZHENG_ANCHOR_BACKENDS`` may name."""
_PLACEHOLDERS = {"changethis", "admin", "secret", "dev-admin-token"}


class WitnessSetting(BaseModel):
    """A tlog-witness the log asks for cosignatures: its key ``name``, submission prefix ``url`` and
    Ed25519 ``public_key`` (PEM text, or the path of a PEM file)."""

    name: str
    url: str
    public_key: str


class Settings(BaseSettings):
    """Everything ``create_app`` needs; built by the caller, never at import time."""

    model_config = SettingsConfigDict(env_prefix="TIEZHENG_", env_file=".env", env_ignore_empty=True, extra="ignore")

    environment: str = "dev"
    data_dir: Path = Path(".tiezheng/data")
    database_url: str = ""
    admin_token: str | None = None
    master_key: str | None = None
    log_origin: str = "tiezheng.local/log"
    checkpoint_interval: float = 0.5
    anchor_interval: float = 5.0  # seconds between anchoring rounds (only when the tree grew)
    anchor_backends: str = "local"  # comma-separated, one worker each: local, fabric (business chain), evm (regulator)
    fabric_profile: Path | None = None  # the Fabric network's client profile (network.json), for "fabric"
    fabric_client_org: str | None = None  # MSP id whose user_msp identity the service uses; default: the first
    max_batch: int = 1000
    reading_late_after: float = 300.0  # seconds after its occurred_at that a detector reading is flagged received_late
    max_body_bytes: int = 16 * 1024 * 1024
    watchdog_interval: float = 10.0  # seconds between permit checks (expiry, guardian silence, overdue gas tests)
    certificate_registry_url: str | None = None  # e.g. https://registry.example/api/certs/{number}?name={holder_name}
    intake_workers: int | None = None  # processes that check and seal batches; None: one per core, 0: in-process
    public_url: str = "http://127.0.0.1:8080"  # where relying parties reach the service: the pack certificate's QR
    plant_timezone: str = DEFAULT_PLANT_TZ  # IANA zone of the plant: calendar days, night hours, daily jobs
    digest_time: time = time(2, 0)  # plant time at which yesterday's regulator digests are built (HH:MM)
    media_store_url: str | None = None  # http[s]://KEY:SECRET@host:port of an S3 server; None: files in data_dir/media
    media_bucket: str = "tiezheng-media"  # created with Object Lock if missing
    max_media_bytes: int = 16 * 1024**3  # largest upload (tus Upload-Length)
    max_media_chunk_bytes: int = 64 * 1024**2  # largest tus PATCH body (clients: chunk_size / chunkSize below this)
    media_upload_expiry: float = 86400.0  # seconds an unfinished tus upload lives after its last PATCH (tus expiration)
    media_cors_origins: list[str] = []  # JSON list of web origins whose pages may use /v1/media (tus-js-client)
    retention_interval: float = 3600.0  # seconds between media-retention runs (they also remove expired uploads)
    evm_rpc_url: str | None = None  # the regulator chain's JSON-RPC URL (evm backend)
    evm_contract: str | None = None  # the registry's address, as `tiezheng evm deploy` printed it
    evm_operator_key: Path | None = None  # file with an operator account's private key (mode 0600)
    evm_from_block: int = 0  # the registry's deployment block: where recovery starts reading its logs
    evm_confirmations: int = 1  # blocks that must hold a transaction before its receipt counts
    tsa_url: str | None = None  # RFC 3161 TSA that timestamps checkpoints (None: no timestamps)
    tsa_name: str = "tsa"  # the TSA's name in receipts; the trust root names its roots under the same name
    tsa_roots: Path | None = None  # PEM file of the TSA's root certificates: replies are checked before storing
    witnesses: list[WitnessSetting] = []  # JSON list of {"name", "url", "public_key"}; cosign each checkpoint

    def backends(self) -> list[str]:
        """The anchor backends named by ``anchor_backends``, in order, without repeats."""
        return list(dict.fromkeys(b.strip() for b in self.anchor_backends.split(",") if b.strip()))

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'tiezheng.db').resolve()}"
        if self.environment != "dev" and (not self.admin_token or self.admin_token in _PLACEHOLDERS):
            raise ValueError("TIEZHENG_ADMIN_TOKEN must be set to a real secret outside dev")
        if not self.log_origin or any(c.isspace() or c == "+" for c in self.log_origin):
            raise ValueError(f"TIEZHENG_LOG_ORIGIN names the log in checkpoints: no spaces or '+', got {self.log_origin!r}")
        if self.admin_token is not None and len(self.admin_token) < 12:
            raise ValueError("TIEZHENG_ADMIN_TOKEN must be at least 12 characters")
        zone(self.plant_timezone)  # refuses an unknown zone with its name
        if not (0 < self.reading_late_after < 86400 * 365):  # inf and nan fail this test too
            raise ValueError(f"TIEZHENG_READING_LATE_AFTER is seconds above 0 (default 300), got {self.reading_late_after}")
        self._check_media()
        self._check_anchor_backends()
        if "fabric" in self.backends() and self.fabric_profile is None:
            raise ValueError("TIEZHENG_ANCHOR_BACKENDS names fabric: set TIEZHENG_FABRIC_PROFILE to the network's "
                             "client profile (network.json; network/fabric/up.sh writes one)")
        return self

    def _check_media(self) -> None:
        if not self.media_upload_expiry > 0:
            raise ValueError(f"TIEZHENG_MEDIA_UPLOAD_EXPIRY is seconds above 0, got {self.media_upload_expiry}")
        for origin in self.media_cors_origins:
            try:
                check_origin(origin)
            except ValueError as exc:
                raise ValueError(f"TIEZHENG_MEDIA_CORS_ORIGINS: {exc}") from None

    def _check_anchor_backends(self) -> None:
        names = self.backends()
        if not names or set(names) - set(ANCHOR_BACKENDS):
            raise ValueError(f"TIEZHENG_ANCHOR_BACKENDS lists one or more of {', '.join(ANCHOR_BACKENDS)} "
                             f"(comma-separated), got {self.anchor_backends!r}")
        if "evm" in names:
            missing = [f"TIEZHENG_{n.upper()}" for n in ("evm_rpc_url", "evm_contract", "evm_operator_key")
                       if getattr(self, n) in (None, "")]
            if missing:
                raise ValueError(f"the evm anchor backend needs {', '.join(missing)} (see `tiezheng evm deploy`)")
        if self.evm_confirmations < 1 or self.evm_from_block < 0:
            raise ValueError("TIEZHENG_EVM_CONFIRMATIONS must be at least 1 and TIEZHENG_EVM_FROM_BLOCK at least 0")
