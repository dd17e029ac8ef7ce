"""``tiezheng gateway …``: set up a gateway, find detectors, bind them to permits, relay and sync, show status.

Each function backs one subcommand (``evidence_api/cli.py`` parses the arguments and calls it lazily) and
returns the exit code: 0 done, 1 a failure worth a retry (server unreachable, queue not empty), 2 unusable
input (unknown model, no gateway in the folder). ``adapter`` is ``bleak`` (the host's Bluetooth) or
``virtual`` (bumble detectors of every shipped model on a virtual link: a plant without hardware).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

from rich.console import Console

from ingest.client import ApiClient, ClientError
from ingest.outbox import OutboxError, OutboxStatus
from ingest.outbox_sync import OutboxSync, SyncReport
from ingest.sensors.config import GatewayConfig, GatewayFolder
from ingest.sensors.detector import DetectorLink
from ingest.sensors.errors import SensorError
from ingest.sensors.gateway import Binding, Relay, watch
from ingest.sensors.model import DetectorModel, load_models

__all__ = ["bind_command", "init_command", "run_command", "scan_command", "status_command", "sync_command",
           "unbind_command"]

_console = Console(highlight=False)
_err = Console(stderr=True, highlight=False)
_SAFE = {"lel": 1.0, "o2": 20.9, "h2s": 0.2, "co": 2.0}


def _guarded(action: Callable[[], int]) -> int:
    try:
        return action()
    except (SensorError, OutboxError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        return 2
    except ClientError as exc:
        _err.print(f"[red]error:[/red] {exc}")
        return 1


def init_command(root: Path, *, server: str, tenant: str, gateway: str, token: str,
                 register_token: str | None = None, area: str | None = None) -> int:
    """Create the gateway in ``root``; with ``register_token`` (a tenant admin's) also register its key."""
    def run() -> int:
        folder = GatewayFolder(root)
        actor = folder.create(GatewayConfig(server, tenant, gateway, f"{gateway}#1"), token)
        _console.print(f"gateway {gateway!r} of tenant {tenant!r} created in {root} (key {actor.key_id})")
        if register_token:
            with ApiClient.connect(server, register_token) as admin:
                admin.create_device(actor, kind="gateway", area=area)
            _console.print(f"registered with {server} as device kind 'gateway'")
        else:
            _console.print(f"register its public key before running it (device kind 'gateway'):\n"
                           f"{actor.signer.public.to_pem()}")
        return 0
    return _guarded(run)


def bind_command(root: Path, *, address: str, detector: str, model: str, permit: str, point: str,
                 models: Path | None = None) -> int:
    """Bind the detector at ``address`` (model ``model``) to ``permit`` at ``point``."""
    def run() -> int:
        known = load_models(models) if models else load_models()
        if model not in known:
            raise SensorError(f"unknown detector model {model!r}; known models {sorted(known)}")
        GatewayFolder(root).bind(Binding(address, detector, model, permit, point))
        _console.print(f"detector {detector} ({model}, {address}) now measures for permit {permit} at {point!r}")
        return 0
    return _guarded(run)


def unbind_command(root: Path, *, address: str) -> int:
    """Forget the detector at ``address``."""
    def run() -> int:
        GatewayFolder(root).unbind(address)
        _console.print(f"detector at {address} unbound")
        return 0
    return _guarded(run)


def scan_command(*, adapter: str, timeout: float) -> int:
    """List the detectors in range, naming the model each one's service matches."""
    models = load_models()
    by_service = {m.service_uuid: m.model for m in models.values()}

    async def scan() -> int:
        """Scan and print."""
        async with _link(adapter, models) as (link, _):
            _console.print(f"scanning for {timeout:g} s ({adapter}) …")
            seen = await link.scan(timeout, service_uuids=list(by_service))
        for advert in seen:
            model = next((by_service[u] for u in advert.service_uuids if u in by_service), "?")
            _console.print(f"{advert.address}  {advert.name or '(no name)':20}  model {model}  rssi {advert.rssi}")
        _console.print(f"{len(seen)} detector(s) found")
        return 0
    return _guarded(lambda: asyncio.run(scan()))


def _status_line(config: GatewayConfig, status: OutboxStatus, connected: int, bound: int, sync: str,
                 relay: Relay | None = None) -> str:
    faults = f" · unreadable notifications {relay.counts.refused}" if relay and relay.counts.refused else ""
    lost = f" · [red]NOT QUEUED {relay.counts.failed}: {relay.counts.last_failure}[/red]" if relay and relay.counts.failed else ""
    return (f"gateway {config.gateway} · detectors {connected}/{bound} connected · queued {status.queued} · "
            f"sent {status.sent} · pending {status.pending} · refused {status.refused}{faults} · {sync}{lost}")


class _StatusLine:
    """One live status line on a terminal; elsewhere (logs, pipes) a line printed whenever it changes."""

    def __init__(self) -> None:
        self._last = ""
        self._live = _console.status("starting …") if _console.is_terminal else None

    def __enter__(self) -> Self:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def show(self, line: str) -> None:
        """Show ``line`` (a no-op if it did not change)."""
        if line == self._last:
            return
        self._last = line
        if self._live is not None:
            self._live.update(line)
        else:
            _console.print(line)


def _sync_state(report: SyncReport | None) -> str:
    if report is None:
        return "not synced yet"
    if report.done:
        return "in sync"
    return f"offline, next try {report.next_attempt_at:%H:%M:%S} ({report.error})"


def status_command(root: Path, *, as_json: bool = False) -> int:
    """Print the queue's state, the bindings and any refused batches."""
    def run() -> int:
        folder = GatewayFolder(root)
        config, bindings = folder.config(), folder.bindings()
        outbox = folder.outbox()
        status = outbox.status()
        outbox.close()
        if as_json:
            _console.print_json(json.dumps({"config": config.to_json(), "outbox": asdict(status),
                                            "bindings": [b.to_json() for b in bindings]}))
            return 0
        _console.print(_status_line(config, status, 0, len(bindings), f"last error: {status.last_error or 'none'}"))
        for b in bindings:
            _console.print(f"  {b.detector} ({b.model}, {b.address}) → permit {b.permit} at {b.point!r}")
        for refusal in status.refusals:
            _console.print(f"  [red]refused[/red] {refusal}")
        return 0
    return _guarded(run)


def sync_command(root: Path) -> int:
    """Send what is queued once; exit 0 when the queue is empty, 1 when something is left."""
    def run() -> int:
        folder = GatewayFolder(root)
        config, outbox = folder.config(), folder.outbox()
        with ApiClient.connect(config.server, folder.token(), retries=0) as api:
            report = OutboxSync(outbox, api).sync_once()
        status = outbox.status()
        outbox.close()
        _console.print(_status_line(config, status, 0, len(folder.bindings()), _sync_state(report)))
        return 0 if report.done else 1
    return _guarded(run)


def run_command(root: Path, *, adapter: str, duration: float | None, sync_every: float = 2.0,
                interval: float = 1.0) -> int:
    """Relay every bound detector into the outbox and sync it, until ``duration`` s (or Ctrl-C)."""
    def run() -> int:
        try:
            return asyncio.run(_run(GatewayFolder(root), adapter, duration, sync_every, interval))
        except KeyboardInterrupt:
            return 0
    return _guarded(run)


async def _run(folder: GatewayFolder, adapter: str, duration: float | None, sync_every: float,
               interval: float) -> int:
    config, bindings, models = folder.config(), folder.bindings(), load_models()
    if not bindings:
        raise SensorError("no detector is bound; bind one with `tiezheng gateway bind`")
    outbox = folder.outbox()
    relay, connected = Relay(outbox, models), set[str]()
    stop = asyncio.Event()

    def on_state(binding: Binding, state: str) -> None:
        (connected.add if state == "connected" else connected.discard)(binding.address)
        _console.print(f"{binding.detector} ({binding.address}): {state}")

    async with _link(adapter, models, interval=interval) as (link, _):
        tasks = [asyncio.create_task(watch(link, b, relay, stop, on_state=on_state)) for b in bindings]
        line = _StatusLine()
        with ApiClient.connect(config.server, folder.token(), retries=0, timeout=10) as api, line:
            report = await _sync_loop(OutboxSync(outbox, api), stop, duration, sync_every,
                                      lambda r: line.show(_status_line(config, outbox.status(), len(connected),
                                                                       len(bindings), _sync_state(r), relay)))
        _console.print(_status_line(config, outbox.status(), len(connected), len(bindings), _sync_state(report), relay))
        stop.set()
        _, stuck = await asyncio.wait(tasks, timeout=10)  # a connect in flight does not hear stop
        for task in stuck:
            task.cancel()
    outbox.close()
    return 0 if report is not None and report.done else 1


async def _sync_loop(sync: OutboxSync, stop: asyncio.Event, duration: float | None, every: float,
                     show: Callable[[SyncReport | None], None]) -> SyncReport | None:
    end = None if duration is None else time.monotonic() + duration
    report: SyncReport | None = None
    while end is None or time.monotonic() < end:
        report = await asyncio.to_thread(sync.sync_once)  # waits out its backoff itself (sealing meanwhile)
        show(report)
        wait = every if end is None else max(0.0, min(every, end - time.monotonic()))
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            continue
    return await asyncio.to_thread(sync.sync_once)


@asynccontextmanager
async def _link(adapter: str, models: dict[str, DetectorModel] | Any, *,
                interval: float = 1.0) -> AsyncIterator[tuple[DetectorLink, list[Any]]]:
    if adapter == "bleak":
        from ingest.sensors.bleak_link import BleakLink

        yield BleakLink(), []
        return
    if adapter != "virtual":
        raise SensorError(f"unknown adapter {adapter!r}; use 'bleak' or 'virtual'")
    from ingest.sensors.virtual import VirtualRadio

    radio = VirtualRadio()
    link = await radio.start()
    for n, model in enumerate(sorted(models.values(), key=lambda m: m.model), start=1):
        await radio.add(model, f"{model.model.upper()}-{n:04d}", address=f"F2:00:00:00:00:{n:02X}")
    feeders = [asyncio.create_task(_feed(d, interval)) for d in radio.detectors]
    try:
        yield link, radio.detectors
    finally:
        for task in feeders:
            task.cancel()


async def _feed(detector: Any, interval: float) -> None:
    """A virtual detector's readings: safe values with a little noise, every ``interval`` seconds."""
    rng = random.Random(detector.address)
    await detector.subscribed.wait()
    while True:
        values = {f.name: round(max(0.0, _SAFE.get(f.name, 1.0) * (1 + 0.05 * rng.uniform(-1, 1))), 1)
                  for f in detector.model.measurements()}
        await detector.send(values)
        await asyncio.sleep(interval)
