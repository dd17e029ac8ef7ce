"""``tiezheng demo``: a newcomer's first run, end to end over real HTTP on the embedded default.

Starts the service (SQLite, local files, local anchor journal) on a free loopback port, registers the
people and devices of one 一级 hot-work permit (动火作业), logs their signed evidence — submission, two
approval signatures, the gas analysis, the guardian's check-in and a batch of detector readings — prints the
receipts and the checkpoint, exports one bundle and verifies it offline, then shows a tampered copy failing.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.signing import Actor, attest_batch, new_item, sign_item
from ledger.sm import Signer, SM2PrivateKey

__all__ = ["run_demo"]

_console = Console()
_TENANT = "demo-chem"
_SITE = {"lat": 30.2741, "lon": 120.1551, "accuracy_m": 3.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """uvicorn on a background thread, stopped (and drained) by ``stop``."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
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


def _at(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds").replace("+00:00", "Z")


def _setup(client: httpx.Client, admin: dict[str, str], run: str) -> tuple[dict[str, str], dict[str, Actor]]:
    """Tenant, token and one registered key per actor; key ids are fresh each run (keys are immutable)."""
    response = client.post("/v1/tenants", json={"id": _TENANT, "name": "演示化工有限公司 Demo Chemical"}, headers=admin)
    if response.status_code not in (201, 409):
        response.raise_for_status()
    token = client.post("/v1/tokens", json={"tenant": _TENANT, "role": "admin", "label": "demo"}, headers=admin)
    headers = {"Authorization": f"Bearer {token.raise_for_status().json()['token']}"}
    people = {"applicant": ("user", "zhang.wei"), "workshop_head": ("user", "li.na"),
              "safety_officer": ("user", "wang.fang"), "gas_analyst": ("user", "chen.jie"),
              "guardian": ("user", "liu.yang"), "detector": ("device", "lel-detector-07")}
    actors = {}
    for role, (kind, actor_id) in people.items():
        key = SM2PrivateKey.generate()
        key_id = f"{actor_id}#{run}"
        client.post("/v1/keys", headers=headers, json={"tenant": _TENANT, "key_id": key_id, "actor_type": kind,
                                                       "actor_id": actor_id, "public_key_pem": key.public.to_pem()}
                    ).raise_for_status()
        actors[role] = Actor(kind, actor_id, key_id, Signer.from_private_key(key))
    return headers, actors


def _permit_events(actors: dict[str, Actor], permit: str) -> list[dict[str, Any]]:
    subject = {"permit": permit}
    steps = [
        ("applicant", "permit.submitted", {"type": "hot_work", "level": "一级", "place": "罐区 T-101 管廊",
                                           "window": [_at(0), _at(480)], "workers": ["W-0012", "W-0031"]}, -40),
        ("workshop_head", "permit.signed", {"step": "workshop_head", "opinion": "同意"}, -35),
        ("safety_officer", "permit.signed", {"step": "safety_department", "opinion": "措施落实，同意动火"}, -32),
        ("gas_analyst", "gas.analysis", {"lel_pct_vol": 0.1, "o2_pct_vol": 20.9, "h2s_ppm": 0, "point": "动火点 5 m"}, -20),
        ("guardian", "guardian.checkin", {"qr": "site-T101", "checks": ["ventilation", "isolation", "detection",
                                                                          "protection", "communication"]}, -5),
    ]
    return [sign_item(actors[role], new_item(actors[role], tenant=_TENANT, kind=kind, payload=payload,
                                             occurred_at=_at(minutes), subject=subject, location=_SITE))
            for role, kind, payload, minutes in steps]


def _detector_batch(detector: Actor, permit: str) -> dict[str, Any]:
    readings = [new_item(detector, tenant=_TENANT, kind="detector.reading", subject={"permit": permit},
                         payload={"lel_pct": round(0.1 + i * 0.01, 2), "o2_pct_vol": 20.9}, occurred_at=_at(i))
                for i in range(20)]
    return {"events": readings, "attestation": attest_batch(detector, _TENANT, readings)}


def _print_receipts(receipts: list[dict[str, Any]], kinds: list[str]) -> None:
    table = Table(title="Receipts (durably committed)")
    for column in ("leaf", "kind", "event id", "leaf hash (SM3)"):
        table.add_column(column)
    for receipt, kind in zip(receipts, kinds, strict=True):
        table.add_row(str(receipt["leaf_index"]), kind, receipt["event_id"], receipt["leaf_hash"][:24] + "…")
    _console.print(table)


def _wait_for_anchor(client: httpx.Client, size: int) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        checkpoint = client.get("/v1/log/checkpoint")
        if checkpoint.status_code == 200 and checkpoint.json()["tree_size"] >= size:
            anchors = client.get("/v1/log/anchors", params={"tree_size": checkpoint.json()["tree_size"]}).json()
            if anchors["anchors"]:
                return dict(checkpoint.json())
        time.sleep(0.2)
    raise RuntimeError(f"no anchored checkpoint covers {size} events after 15 s")


def _verify(path: Path, log_key: Path) -> int:
    from verifier.cli import verify_command

    return verify_command(str(path), json_output=False, log_key=str(log_key), verbose=False)


def run_demo(*, data_dir: Path, out: Path) -> int:
    """Run the demo; returns the exit code (0 when the bundle verifies and the tampered copy does not)."""
    admin_token = secrets.token_urlsafe(24)
    # anchoring every second (default: 5 s) so the demo's bundle carries its anchor without a wait
    server = _Server(Settings(data_dir=data_dir, admin_token=admin_token, anchor_interval=1.0))
    base = server.start()
    _console.print(f"[bold]Tiezheng demo[/] — service on {base}, data in {data_dir.resolve()}")
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            return _run(client, {"Authorization": f"Bearer {admin_token}"}, data_dir, out)
    finally:
        server.stop()


def _run(client: httpx.Client, admin: dict[str, str], data_dir: Path, out: Path) -> int:
    run = secrets.token_hex(3)
    headers, actors = _setup(client, admin, run)
    permit = f"HW-2026-{run.upper()}"
    items = _permit_events(actors, permit)
    signed = client.post("/v1/events", json={"events": items}, headers=headers).raise_for_status().json()["receipts"]
    batch = client.post("/v1/events", json=_detector_batch(actors["detector"], permit), headers=headers)
    readings = batch.raise_for_status().json()["receipts"]
    _print_receipts(signed + readings[:3], [i["event"]["kind"] for i in items] + ["detector.reading (batch-signed)"] * 3)
    _console.print(f"… and {len(readings) - 3} more detector readings, one SM2 attestation for all {len(readings)}")
    checkpoint = _wait_for_anchor(client, readings[-1]["leaf_index"] + 1)
    _console.print("[bold]Checkpoint[/] (C2SP signed note, SM2), anchored in the local journal:")
    _console.print(checkpoint["text"], markup=False, highlight=False, soft_wrap=True)
    guardian = signed[4]["event_id"]
    bundle = client.get(f"/v1/events/{guardian}/bundle", headers=headers).raise_for_status().json()
    out.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    key_file = data_dir / "log-public-key.pem"
    key_file.write_text(client.get("/v1/log/public-key").json()["public_key_pem"])
    _console.print(f"[bold]Bundle[/] of the guardian check-in written to {out}; verifying it offline:")
    valid = _verify(out, key_file)
    tampered = out.with_suffix(".tampered.json")
    tampered.write_text(out.read_text(encoding="utf-8").replace("liu.yang", "liu.yanG", 1), encoding="utf-8")
    _console.print(f"[bold]Tampered copy[/] {tampered} (one letter of the guardian's id changed):")
    rejected = _verify(tampered, key_file)
    _console.print(f"Try it yourself: [cyan]tiezheng verify {out} --log-key {key_file}[/]")
    return 0 if valid == 0 and rejected == 1 else 1
