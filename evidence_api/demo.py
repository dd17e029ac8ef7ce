"""``tiezheng demo``: a newcomer's first run, end to end over real HTTP on the embedded default.

Starts the service (SQLite, local files, local anchor journal) on a free loopback port, registers a plant
(site, area with its QR code, people with roles and keys, a certified welder, a gas detector), takes one
一级 hot-work permit (动火作业) from draft to active through the rules — submission, two on-site approvals,
the gas analysis, the guardian's QR/GPS check-in and five checks, the on-site photos (uploaded over tus and
logged as the phone's signed media.stored), the start, a short video's keyframes signed by the camera — then
relays a detector's readings through the gateway outbox, prints the permit's timeline and the anchored
checkpoint, exports one bundle and verifies it offline, then shows a tampered copy failing.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from evidence_api.config import Settings
from evidence_api.main import create_app
from evidence_api.services.permit_model import PermitContent
from evidence_api.services.permit_rules import upgrade_reasons
from evidence_api.services.rules import DEFAULTS, Rules, rules_from_overrides
from ingest.camera import CameraSession, upload_recording
from ingest.client import ApiClient, ApiError
from ingest.media import tus
from ingest.media.keyframes import FORCE_KEYFRAMES, extract_keyframes
from ingest.outbox import Outbox
from ingest.outbox_sync import OutboxSync
from ingest.records import Checkpoint, PermitAnswer, TimelineEntry
from ingest.seed import AreaPlan, CertificatePlan, Plant, PlantPlan, WorkerPlan, open_tenant, seed_plant
from ingest.sensors.decoder import encode
from ingest.sensors.gateway import Binding, Relay
from ingest.sensors.model import load_models
from ingest.signing import new_item, sign_item
from ledger.clock import Clock, rfc3339

__all__ = ["run_demo"]

_console = Console()
_SITE = {"lat": 30.2741, "lon": 120.1551, "accuracy_m": 3.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """uvicorn on a background thread, stopped (and drained) by ``stop``."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.port = _free_port()
        config = uvicorn.Config(create_app(settings, clock=clock), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo server did not start; see the messages above")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()


_clock = Clock()


def _at(minutes: float) -> str:
    return rfc3339(_clock.now() + timedelta(minutes=minutes))


_PEOPLE = {"zhang.wei": ["applicant"], "zhao.lei": ["team_leader"], "li.na": ["workshop_head"],
           "wang.fang": ["safety_officer"], "chen.jie": ["gas_analyst"], "liu.yang": ["guardian"]}


def _plan() -> PlantPlan:
    """The demo plant: a tank farm with its geofence, the people of one hot-work permit, a certified welder,
    and a gas detector. No webhook receiver in the demo: alarms stay in the log and the notifications table."""
    welder = WorkerPlan("W-0012", "孙强", [CertificatePlan("2.1", issued_on=_clock.today() - timedelta(days=400),
                                                            number="T330102199001011234", authority="杭州市应急管理局")])
    return PlantPlan("plant-1", "一厂", areas=[AreaPlan("tank-farm", "罐区 T-101", _SITE["lat"], _SITE["lon"], 150)],
                     people=_PEOPLE, workers=[welder], devices={"lel-detector-07": ("detector", "tank-farm"),
                                                                "phone-zhao": ("phone", "tank-farm"),
                                                                "camera-t101": ("camera", "tank-farm"),
                                                                "gw-07": ("gateway", "tank-farm")},
                     overrides={"notify": "none"})


def _setup(root: ApiClient, tenant: str) -> tuple[ApiClient, Plant]:
    """A fresh tenant with the demo plant; returns the ingest client (phones, detectors) and the plant."""
    access = open_tenant(root, tenant, "演示化工有限公司 Demo Chemical", roles=("admin", "ingest"))
    return access.clients["ingest"], seed_plant(access.admin, tenant, _plan())


def _permit(rules: Rules) -> dict[str, Any]:
    """A hot-work permit (动火作业) on the pipe rack by tank T-101, for the next 7 hours: 二级 by its place,
    declared one level up when it runs at night or on a rest day (GB 30871 5.2.15)."""
    template = DEFAULTS["work_types"]["hot_work"]
    content = {"type": "hot_work", "level": "2", "base_level": "2", "area": "tank-farm",
               "location": {"lat": _SITE["lat"], "lon": _SITE["lon"]}, "starts_at": _at(-5), "ends_at": _at(7 * 60),
               "content": "T-101 出口管线法兰更换，焊接", "work_unit": "维修车间", "team_leader": "zhao.lei",
               "guardian": "liu.yang", "workers": [{"worker": "W-0012", "operation": "2.1", "hours_per_day": 6}],
               "risks": template["risks"],
               "measures": [{"measure": m, "applies": True, "confirmer": "zhao.lei"} for m in template["measures"]],
               "emergency_plan": "着火立即停止作业，灭火器扑救并报告中控室", "combustible_lel_pct": 5.0}
    if upgrade_reasons(PermitContent.model_validate(content), rules):
        content["level"] = "1"
    return content


_APPROVERS = {"workshop_head": "li.na", "safety_officer": "wang.fang"}


def _walk(client: ApiClient, plant: Plant, permit: str) -> list[PermitAnswer]:
    """Every signed step from draft to an active permit; each answer carries the receipt and the new state."""

    def act(who: str, kind: str, payload: Any) -> PermitAnswer:
        actor = plant.people[who]
        item = sign_item(actor, new_item(actor, tenant=plant.tenant, kind=kind, payload=payload, occurred_at=_at(0),
                                         subject={"permit": permit}, location=_SITE))
        return client.send_action(item)

    sample = {"sampled_at": _at(-2), "point": "动火点 5 m", "purpose": "pre_start",
              "readings": {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.9, "toxic_mg_m3": {"h2s": 0.0}}}
    checks = dict.fromkeys(("ventilation", "isolation", "detection", "protection", "communication"), True)
    rules = rules_from_overrides(dict(client.rules().overrides))
    answers = [act("zhang.wei", "permit.drafted", _permit(rules)), act("zhang.wei", "permit.submitted", {"note": ""})]
    for step in answers[-1].permit.document["route"]:
        answers += [act(_APPROVERS[role], "permit.approved", {"role": role, "opinion": "措施落实，同意动火"}) for role in step]
    answers += [act("chen.jie", "gas.analysed", sample), act("liu.yang", "guardian.checkin", {"qr_token": plant.qr["tank-farm"]}),
                act("liu.yang", "guardian.checks_confirmed", checks)]
    _site_photos(client, plant, permit)
    answers.append(act("zhao.lei", "permit.activated", {"note": "开始动火"}))
    return answers


def _site_photos(client: ApiClient, plant: Plant, permit: str) -> None:
    """The photos the start needs (tenant default): two of protective equipment worn, two of the isolation in
    place, each uploaded over tus (SM4-GCM segments at rest) and logged as the phone's signed media.stored."""
    phone = plant.devices["phone-zhao"]
    for purpose in ("ppe", "isolation"):
        for n in range(2):
            data = _jpeg(n)
            upload = tus.upload(client, io.BytesIO(data), content_type="image/jpeg", permit=permit, purpose=purpose)
            client.media_event(upload.id, tus.media_stored_item(
                phone, tenant=plant.tenant, media=upload, content_type="image/jpeg", captured_at=_at(0),
                location=_SITE, permit=permit, purpose=purpose))
    _console.print(f"4 on-site photos (ppe, isolation) uploaded resumably (tus), SM3-checked, encrypted and "
                   f"signed by {phone.id}: the start waits for them")


def _video_keyframes(client: ApiClient, plant: Plant, permit: str, data_dir: Path) -> None:
    """A 16 s clip of the work (ffmpeg's test pattern), its keyframes at most 5 s apart, each signed by the
    camera as captured and chained; the video and the keyframes uploaded encrypted."""
    if shutil.which("ffmpeg") is None:
        _console.print("[yellow]ffmpeg is not installed: no video keyframes in this run[/] (scripts/install-system.sh)")
        return
    video = data_dir / "work-clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10",
                    "-t", "16", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-force_key_frames", FORCE_KEYFRAMES, str(video)], check=True)
    session = CameraSession(plant.devices["camera-t101"], plant.tenant, f"rec-{permit}", permit=permit)
    signed = [session.sign(frame, captured_at=_at(0)) for frame in extract_keyframes(video, data_dir / "keyframes")]
    upload_recording(client, session, video, signed, captured_at=_at(0))
    _console.print(f"video of the work and its {len(signed)} keyframes (≤ 5 s apart, GB/T 25724), each signed by "
                   f"{session.camera.id} as captured and chained to the one before; the video is kept 180 days")


def _jpeg(seed: int) -> bytes:
    """A stand-in photo with the EXIF a phone writes: capture time (with its offset) and GPS of the site."""
    from PIL import Image

    image, exif = Image.new("RGB", (320, 240), (200, 60 + 40 * seed, 40)), Image.Exif()
    now = _clock.local()
    exif.get_ifd(0x8769).update({36867: now.strftime("%Y:%m:%d %H:%M:%S"), 36881: now.strftime("%z")[:3] + ":00"})
    gps = exif.get_ifd(0x8825)
    for ref, tag, value, hemi in ((1, 2, _SITE["lat"], "N"), (3, 4, _SITE["lon"], "E")):
        minutes = (value % 1) * 60
        gps[ref], gps[tag] = hemi, (float(int(value)), float(int(minutes)), round((minutes % 1) * 60, 3))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _relay_detector(api: ApiClient, plant: Plant, permit: str, data_dir: Path) -> int:
    """Twenty notifications of the four-gas detector (model file ``tz-m4``: %LEL, %vol, ppm, little-endian),
    decoded by the gateway into the rules' units, queued in its outbox, then synced under one attestation."""
    models = load_models()
    outbox = Outbox(data_dir / f"gateway-{plant.tenant}.db", gateway=plant.devices["gw-07"], tenant=plant.tenant)
    relay = Relay(outbox, models)
    binding = Binding("F2:00:00:00:00:01", "lel-detector-07", "tz-m4", permit, "动火点 1 m")
    for i in range(20):
        relay.on_notification(binding, encode(models["tz-m4"], {"lel": 1.0 + i / 10, "o2": 20.9, "h2s": 0, "co": 2},
                                              sequence=i))
    report = OutboxSync(outbox, api).sync_once()
    outbox.close()
    return report.sent


def _print_timeline(timeline: list[TimelineEntry]) -> None:
    table = Table(title="Permit timeline: every step a signed event in the log")
    for column in ("leaf", "kind", "signed by", "prev (SM3)", "proof"):
        table.add_column(column)
    for entry in timeline:
        prev = entry.prev[:16] + "…" if entry.prev else "—"
        table.add_row(str(entry.leaf_index), entry.kind, f"{entry.actor['type']} {entry.actor['id']}", prev, entry.proof)
    _console.print(table)


def _wait_for_anchor(client: ApiClient, size: int, backends: set[str]) -> Checkpoint:
    """The newest checkpoint, once it covers ``size`` events and every one of ``backends`` anchored it."""
    chain = "fabric" in backends
    deadline = time.monotonic() + (60 if chain else 15)
    while time.monotonic() < deadline:
        try:
            checkpoint = client.checkpoint()
            anchors = client.anchors(checkpoint.tree_size).anchors if checkpoint.tree_size >= size else ()
            if backends <= {a["backend"] for a in anchors}:
                return checkpoint
        except ApiError as exc:
            if exc.status != 404:  # 404: no checkpoint cut yet
                raise
        time.sleep(0.2)
    raise RuntimeError(f"no anchor of {', '.join(sorted(backends))} covers {size} events in time"
                       + ("; is the Fabric network up? (tiezheng network status)" if chain else ""))


def _write_trust_root(client: httpx.Client, data_dir: Path, fabric_profile: Path | None) -> tuple[Path, Path, str]:
    """What a relying party does once, out of band: take the log's public key (and the Fabric network's org
    CAs) and write a trust root naming it. Returns the key file, the trust root file and the log's origin."""
    from verifier.fabric_profile import fabric_section
    from verifier.trust import TrustRoot

    published = client.get("/v1/log/public-key").raise_for_status().json()
    key_file, root_file = data_dir / "log-public-key.pem", data_dir / "trust-root.json"
    key_file.write_text(published["public_key_pem"], encoding="utf-8")
    fabric = fabric_section(fabric_profile) if fabric_profile is not None else None
    root_file.write_text(TrustRoot.for_log(published["origin"], published["public_key_pem"], fabric=fabric).to_json(),
                         encoding="utf-8")
    return key_file, root_file, str(published["origin"])


def _verify(path: Path, trust_root: Path) -> int:
    from verifier.cli import verify_command

    return verify_command(str(path), trust_root=str(trust_root), json_output=False, verbose=False)


def run_demo(*, data_dir: Path, out: Path, fabric_profile: Path | None = None, dual_chain: bool = False) -> int:
    """Run the demo; returns the exit code (0 when the bundle verifies and the tampered copy does not).

    With ``fabric_profile`` (a running network's client profile) the log is also anchored on that Fabric
    network, under an origin of its own, and the bundle carries the Fabric receipt. With ``dual_chain``
    (which needs ``fabric_profile``) also on a regulator chain of the demo's own, and the next morning the
    day's digest is verified ``dual-chain`` (``evidence_api.demo_chain``).
    """
    admin_token = secrets.token_urlsafe(24)
    # anchoring every second (default: 5 s) so the demo's bundle carries its anchor without a wait
    fabric: dict[str, Any] = {} if fabric_profile is None else {
        "anchor_backends": "local,fabric", "fabric_profile": fabric_profile,
        # the chaincode registers one key per origin, and each demo run makes a new key
        "log_origin": f"tiezheng.demo/{secrets.token_hex(4)}"}
    if dual_chain and fabric_profile is None:
        raise ValueError("the dual-chain demo needs the Fabric network's client profile")
    chain = None
    if dual_chain:
        from evidence_api.demo_chain import DemoChain

        chain = DemoChain.start(data_dir)
        fabric.update(chain.settings())
    settings = Settings(data_dir=data_dir, admin_token=admin_token, anchor_interval=1.0, **fabric)
    server = _Server(settings)
    base = server.start()
    _console.print(f"[bold]Tiezheng demo[/] — service on {base}, data in {data_dir.resolve()}")
    try:
        with ApiClient.connect(base, admin_token, timeout=60) as root:
            code, tenant, root_file = _run(root, data_dir, out, fabric_profile, chain)
    except BaseException:
        if chain is not None:
            chain.stop()
        raise
    finally:
        server.stop()
    if chain is None:
        return code
    from evidence_api.demo_chain import next_morning_digest

    return next_morning_digest(settings, admin_token, tenant, root_file, chain) or code


def _run(root: ApiClient, data_dir: Path, out: Path, fabric_profile: Path | None,
         chain: Any = None) -> tuple[int, str, Path]:
    run = secrets.token_hex(3)
    tenant = f"demo-chem-{run}"
    client: httpx.Client = root.http  # plain HTTP for the verify step: it takes the log's key as anyone would
    api, plant = _setup(root, tenant)
    permit = f"HW-2026-{run.upper()}"
    answers = _walk(api, plant, permit)
    states = [a.permit.state for a in answers]
    path = [state for n, state in enumerate(states) if n == 0 or state != states[n - 1]]
    approvals = answers[-1].permit.document["approvals"]
    content = answers[0].permit.document["content"]
    level = content["level"] + (f", upgraded from {content['base_level']} for night or rest-day work"
                                if content["level"] != content["base_level"] else "")
    _console.print(f"Permit {permit} (hot work, level {level}): {' → '.join(path)}; approved on site by "
                   + ", ".join(f"{a['user']} ({a['distance_m']} m away)" for a in approvals))
    _video_keyframes(api, plant, permit, data_dir)
    relayed = _relay_detector(api, plant, permit, data_dir)
    _console.print(f"{relayed} detector readings decoded by the gateway gw-07 from BLE notifications of detector "
                   "lel-detector-07 (model tz-m4), queued in its outbox and synced under one SM2 attestation, "
                   "each checked against the gas limits")
    backend = "fabric" if fabric_profile is not None else "local"
    backends = {"local", backend} | ({"evm"} if chain is not None else set())
    checkpoint = _wait_for_anchor(api, api.timeline(permit)[-1].leaf_index + 1, backends)
    timeline = api.timeline(permit)
    _print_timeline(timeline[:-20] + timeline[-2:])
    where = "on the Fabric channel (endorsed by both orgs)" if backend == "fabric" else "in the local journal"
    _console.print(f"[bold]Checkpoint[/] (C2SP signed note, SM2), anchored {where}:")
    _console.print(checkpoint.text, markup=False, highlight=False, soft_wrap=True)
    checkin = next(e.event_id for e in timeline if e.kind == "guardian.checkin")
    bundle = api.bundle(checkin).document
    out.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    key_file, root_file, origin = _write_trust_root(client, data_dir, fabric_profile)
    if chain is not None:
        from evidence_api.demo_chain import trust_regulator_chain

        trust_regulator_chain(root_file, chain.trust_entry)
    _console.print(f"[bold]Bundle[/] of the guardian check-in written to {out}; verifying it offline against the "
                   f"trust root {root_file} (the log's key, taken once from GET /v1/log/public-key):")
    valid = _verify(out, root_file)
    tampered = out.with_suffix(".tampered.json")
    tampered.write_text(out.read_text(encoding="utf-8").replace("liu.yang", "liu.yanG", 1), encoding="utf-8")
    _console.print(f"[bold]Tampered copy[/] {tampered} (one letter of the guardian's id changed):")
    rejected = _verify(tampered, root_file)
    extra = f" --fabric-network {fabric_profile}" if fabric_profile is not None else ""
    _console.print(f"Try it yourself: [cyan]tiezheng verify {out} --trust-root {root_file}[/] (made with "
                   f"[cyan]tiezheng trust-root init --origin {origin} --log-key {key_file}{extra} -o {root_file}[/])")
    legal = root.with_token(root.issue_token(tenant, "reader", "legal team").token)  # packs need admin or reader
    pack_ok = _export_pack(legal, permit, out.with_name("demo-pack.zip"), root_file, data_dir)
    return (0 if valid == 0 and rejected == 1 and pack_ok else 1), tenant, root_file


def _export_pack(api: ApiClient, permit: str, path: Path, root_file: Path, data_dir: Path) -> bool:
    """Export the permit's evidence pack, verify it with the CLI, unpack its certificate and browser verifier."""
    import zipfile

    from evidence_api.pack_cli import pack_build_command

    _console.print(f"[bold]Evidence pack[/] of permit {permit} (every event of its chain, with proofs and receipts):")
    if pack_build_command(api, {"kind": "permit", "permit": permit}, path) != 0:
        return False
    verified = _verify(path, root_file)
    folder = data_dir / "pack"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder, members=["report.pdf", "report.html", "verify.html"])
    _console.print(f"Certificate (存证证书): {folder / 'report.pdf'}; browser verifier (offline, pick {path}): "
                   f"{folder / 'verify.html'}")
    return verified == 0
