"""``Services``: everything a running service holds, built from ``Settings`` and closed on shutdown."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from evidence_api.config import Settings
from evidence_api.db import migrate
from evidence_api.services.auth import Auth
from evidence_api.services.certificates import Certificates
from evidence_api.services.digests import Digests
from evidence_api.services.events import EventIntake, IntakePool
from evidence_api.services.keys import KeyRegistry
from evidence_api.services.media import MediaService
from evidence_api.services.media_events import MediaEvents
from evidence_api.services.notify import Notifier, WebhookChannel, WeComChannel
from evidence_api.services.pack_jobs import PackJobs
from evidence_api.services.pack_media import StoredMedia
from evidence_api.services.pack_report import ReportRenderer
from evidence_api.services.pack_scope import LogScopes
from evidence_api.services.packs import PackBuilder
from evidence_api.services.people import Organisation
from evidence_api.services.periodic import Periodic
from evidence_api.services.projector import Projector
from evidence_api.services.recorder import Recorder
from evidence_api.services.registry import HttpRegistry
from evidence_api.services.retention import Retention
from evidence_api.services.risk import RiskRecords
from evidence_api.services.trusted_time import tsa_backend, witness_collector
from evidence_api.services.workflow import Workflow
from ingest.objectstore import FilesystemObjectStore, ObjectStore, S3ObjectStore
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import Anchor
from ledger.anchors.local import LocalJournal
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.dayend import DayEndMilestones
from ledger.keystore import LocalKeyWrapper, load_or_create_log_key, load_or_create_master_key
from ledger.log import TransparencyLog
from ledger.sm import Signer
from ledger.witnesses import WitnessCollector

if TYPE_CHECKING:  # web3 and eth-account take ~1.5 s to import: only a service with the evm backend pays it
    from ledger.evm import DigestRecorder

__all__ = ["Services", "open_media_store"]


def _anchor_backends(settings: Settings, signer: Signer, clock: Clock) -> tuple[list[Anchor], DigestRecorder | None]:
    """The anchor backends ``TIEZHENG_ANCHOR_BACKENDS`` names (the local journal, the Fabric chaincode, the
    EVM registry), and the digest writer sharing the evm backend's operator account (None without it)."""
    backends: list[Anchor] = []
    recorder: DigestRecorder | None = None
    for name in settings.backends():
        if name == "local":
            backends.append(LocalJournal(settings.data_dir / "anchors" / "local-journal.jsonl", signer=signer,
                                         clock=clock))
        elif name == "fabric" and settings.fabric_profile is not None:
            from ledger.anchors.fabric import FabricAnchor  # grpc and the Fabric protos, only when configured
            from ledger.fabric.profile import FabricProfile

            profile = FabricProfile.from_file(settings.fabric_profile, client_org=settings.fabric_client_org)
            # peers refuse a message stamped more than 15 min off their own clock (authentication.timewindow):
            # Fabric's protocol stamps come from the system clock, whatever clock the service runs on
            backends.append(FabricAnchor(profile.client(clock=Clock(clock.tz)), origin=settings.log_origin,
                                         log_key_pem=signer.public.to_pem()))
        elif name == "evm":
            from ledger.anchors.evm import EvmAnchor
            from ledger.evm import DigestRecorder, OperatorKey, Registry, Transactor

            assert settings.evm_rpc_url and settings.evm_contract and settings.evm_operator_key  # Settings checks
            transactor = Transactor(Registry(settings.evm_rpc_url, settings.evm_contract),
                                    OperatorKey.from_file(settings.evm_operator_key),
                                    confirmations=settings.evm_confirmations)
            backends.append(EvmAnchor(transactor, origin=settings.log_origin, from_block=settings.evm_from_block))
            recorder = DigestRecorder(transactor)
    return backends, recorder


_log = logging.getLogger(__name__)


def open_media_store(settings: Settings, clock: Clock) -> ObjectStore:
    """The media object store: an S3 bucket (created with Object Lock if missing) or files under data_dir."""
    if settings.media_store_url:
        return S3ObjectStore.connect(settings.media_store_url, settings.media_bucket, clock=clock, create=True,
                                     object_lock=True)
    return FilesystemObjectStore(settings.data_dir / "media")


@dataclass
class Services:
    """The log, its anchorer, the key registry, auth and intake of one running service."""

    settings: Settings
    clock: Clock
    engine: Engine
    log: TransparencyLog
    anchorer: Anchorer
    keys: KeyRegistry
    auth: Auth
    intake: IntakePool
    wrapper: LocalKeyWrapper
    org: Organisation
    recorder: Recorder
    workflow: Workflow
    watchdog: Periodic
    certificates: Certificates
    certificate_job: Periodic
    notifier: Notifier
    sender: Periodic
    projector: Projector
    projection_job: Periodic
    digests: Digests
    digest_job: Periodic
    risk: RiskRecords
    media: MediaService
    media_events: MediaEvents
    retention: Retention
    retention_job: Periodic
    packs: PackJobs
    witness_collector: WitnessCollector | None = None
    evm_digests: DigestRecorder | None = None  # the regulator chain's digest writer, when the evm backend is on
    registry_job: Periodic | None = None  # records each stored digest's hash with evm_digests (digest_registry)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """Migrate the database, load (or create) keys, start the log writer and the anchorer. ``clock``
        replaces the system clock (tests, replays); it must be in the plant's time zone."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(settings.database_url)
        engine = make_engine(settings.database_url, pool_size=8) if not settings.database_url.startswith("sqlite") \
            else make_engine(settings.database_url)
        signer = Signer.from_private_key(load_or_create_log_key(settings.data_dir / "keys" / "log-key.pem"))
        master_key = load_or_create_master_key(settings.data_dir / "keys" / "master.key", env_value=settings.master_key)
        wrapper = LocalKeyWrapper(master_key)
        clock = clock or Clock(settings.plant_timezone)
        log = TransparencyLog(engine, origin=settings.log_origin, signer=signer,
                              checkpoint_interval=settings.checkpoint_interval, clock=clock)
        backends, evm_digests = _anchor_backends(settings, signer, clock)
        backends = [*backends, *tsa_backend(settings)]
        anchorer = Anchorer(log, backends, interval=settings.anchor_interval, clock=clock,
                            milestones=DayEndMilestones(log, clock.tz))
        collector = witness_collector(settings, log, clock)
        keys = KeyRegistry(engine, clock=clock)
        workers = settings.intake_workers if settings.intake_workers is not None else (os.cpu_count() or 1)
        intake = IntakePool(EventIntake(keys, wrapper, max_batch=settings.max_batch, clock=clock,
                                        max_delay=timedelta(seconds=settings.reading_late_after)), workers=workers,
                            database_url=settings.database_url, master_key=master_key)
        intake.start()  # every worker spawned and warm before the first request (and before anything else starts)
        service_signer = Signer.from_private_key(load_or_create_log_key(settings.data_dir / "keys" / "service-key.pem"))
        recorder = Recorder(engine, log, keys, intake.local, service_signer, clock=clock)
        org = Organisation(engine, keys, clock=clock)
        projector = Projector(engine, log, wrapper, org.rules, service_key_id=recorder.service_key_id, clock=clock)
        projector.catch_up()  # whatever was logged before a crash is folded before the first decision
        projection_job = Periodic("tiezheng-projector", 0.5, projector.catch_up)
        workflow = Workflow(engine, org, recorder, wrapper, projector, clock=clock)
        watchdog = Periodic("tiezheng-permit-watchdog", settings.watchdog_interval, workflow.watch_once)
        registry = HttpRegistry(settings.certificate_registry_url) if settings.certificate_registry_url else None
        certificates = Certificates(engine, org, recorder, projector, max_batch=settings.max_batch, registry=registry,
                                    clock=clock)
        certificate_job = Periodic("tiezheng-certificate-warnings", 3600.0, certificates.daily_once)
        notifier = Notifier(engine, org, {"webhook": WebhookChannel(service_signer, key_id=recorder.service_key_id),
                                          "wecom": WeComChannel()}, clock=clock)
        sender = Periodic("tiezheng-notifier", 1.0, notifier.send_pending_once)
        digests = Digests(engine, log, projector, backends=[b.name for b in anchorer.backends], clock=clock,
                          build_at=settings.digest_time, registry=evm_digests is not None)
        digest_job = Periodic("tiezheng-digests", 60.0, digests.daily_once)
        registry_job = _registry_job(settings, engine, evm_digests)
        risk = RiskRecords(engine, log, projector, org, clock=clock)
        store = open_media_store(settings, clock)
        media = MediaService(engine, wrapper, store, settings.data_dir / "media-staging", rules=org.rules, clock=clock,
                             max_length=settings.max_media_bytes,
                             upload_expiry=timedelta(seconds=settings.media_upload_expiry))
        media_events = MediaEvents(engine, media, recorder, rules=org.rules)
        retention = Retention(engine, media, recorder, org, clock=clock)
        retention_job = Periodic("tiezheng-media-retention", settings.retention_interval,
                                 lambda: (media.expire_uploads(), retention.run_once()))
        packs = _packs(settings, engine, log, keys, wrapper, media, clock)
        log.start()
        projection_job.start()
        retention_job.start()
        anchorer.start()
        watchdog.start()
        certificate_job.start()
        sender.start()
        digest_job.start()
        if registry_job is not None:
            registry_job.start()
        if collector is not None:
            collector.start()
        _log.info("log %s open at tree size %d (%s)", settings.log_origin, log.tree_size, settings.database_url)
        return cls(settings, clock, engine, log, anchorer, keys, Auth(engine, admin_token=settings.admin_token, clock=clock), intake, wrapper,
                   org, recorder, workflow, watchdog, certificates, certificate_job, notifier, sender, projector, projection_job,
                   digests, digest_job, risk, media, media_events, retention, retention_job, packs, collector,
                   evm_digests=evm_digests, registry_job=registry_job)

    def close(self) -> None:
        """Stop the watchdog, drain the writer, anchor the last checkpoint, stop the pools."""
        self.digest_job.close()
        if self.registry_job is not None:
            self.registry_job.close()
        self.packs.close()
        self.watchdog.close()
        self.retention_job.close()
        self.certificate_job.close()
        self.sender.close()
        self.projection_job.close()
        self.notifier.close()
        self.log.close()
        self.anchorer.close()
        for backend in self.anchorer.backends:
            close = getattr(backend, "close", None)
            if callable(close):
                close()
        if self.witness_collector is not None:
            self.witness_collector.close()
        self.intake.close()
        self.engine.dispose()


def _registry_job(settings: Settings, engine: Engine, recorder: DigestRecorder | None) -> Periodic | None:
    """The job that records every stored digest's hash on the EVM registry, when the evm backend is on."""
    if recorder is None:
        return None
    from evidence_api.services.digest_registry import DigestRegistry  # web3: only with the evm backend

    registry = DigestRegistry(engine, recorder, from_block=settings.evm_from_block)
    return Periodic("tiezheng-digest-registry", settings.anchor_interval, registry.run_once)


def _packs(settings: Settings, engine: Engine, log: TransparencyLog, keys: KeyRegistry, wrapper: LocalKeyWrapper,
           media: MediaService, clock: Clock) -> PackJobs:
    """The pack builder and its jobs; packs carry the stored media their events name (keyframes, photos;
    deleted media as deleted) and are self-checked against the service's own log key."""
    from verifier.trust import TrustRoot

    builder = PackBuilder(log, keys, wrapper, render=ReportRenderer(confirm_base=settings.public_url),
                          scope_events=LogScopes(log, engine).events, media=StoredMedia(media.pack_file), clock=clock)
    trust = TrustRoot.for_log(log.origin, log.signer.public.to_pem())
    return PackJobs(engine, builder, trust, settings.data_dir / "packs", clock=clock)
