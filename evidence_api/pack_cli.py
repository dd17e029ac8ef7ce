"""``tiezheng pack build``: ask the service for an evidence pack, show its progress, save the verified zip.

Thin (STYLE.md item 3): one scope from the flags, ``POST /v1/evidence-packs`` through the typed client,
poll ``GET /v1/evidence-packs/{id}`` with a progress bar while it builds, download the zip. Exit 0 saved,
1 the service could not build it (its reason shown), 2 unusable flags, no answer or a refusal.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from ingest.client import ApiClient, ClientError
from ingest.records import PackStatus

__all__ = ["pack_build_command", "scope_from_flags"]

_console = Console(highlight=False)


def scope_from_flags(*, permit: str | None, area: str | None, start: str | None, end: str | None,
                     worker: str | None) -> dict[str, Any]:
    """The scope the flags name (exactly one of ``--permit``, ``--area`` with ``--from``/``--to``, ``--worker``);
    raises ``ValueError`` saying what to pass otherwise."""
    given = [name for name, value in (("--permit", permit), ("--area", area), ("--worker", worker)) if value]
    if len(given) != 1:
        raise ValueError("name one scope: --permit ID, or --area ID --from T --to T, or --worker ID")
    if permit:
        return {"kind": "permit", "permit": permit}
    if worker:
        return {"kind": "worker", "worker": worker}
    if not start or not end:
        raise ValueError("--area needs --from and --to (RFC 3339 times, e.g. 2026-12-01T00:00:00+08:00)")
    return {"kind": "area", "area": area, "from": start, "to": end}


def pack_build_command(client: ApiClient, scope: dict[str, Any], out: Path, *, poll: float = 0.5) -> int:
    """Build the pack of ``scope`` on the service behind ``client`` and save it to ``out``; the exit code."""
    try:
        status = client.create_pack(scope)
        status = _follow(client, status, poll)
        if status.status != "ready":
            _console.print(f"[red]the service could not build the pack {status.id}: {status.error}[/red]")
            return 1
        out.write_bytes(client.download_pack(status.id))
    except ClientError as exc:
        _console.print(f"[red]{exc}[/red]")
        return 2
    except OSError as exc:
        _console.print(f"[red]cannot write {out}: {exc.strerror or exc}[/red]")
        return 2
    _console.print(f"saved evidence pack {status.id} to {out} ({status.size} bytes, SM3 {status.sm3})")
    _console.print(f"certificate digest (SM3 of the evidence): {status.evidence_digest}; assurance {status.assurance}")
    _console.print(f"check it offline: tiezheng verify {out} --trust-root trust-root.json")
    return 0


def _follow(client: ApiClient, status: PackStatus, poll: float) -> PackStatus:
    if status.status != "building":
        return status
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=_console, transient=True) as bar:
        task = bar.add_task("queued", total=max(status.total, 1))
        while status.status == "building":
            bar.update(task, description=status.stage, completed=status.done, total=max(status.total, 1))
            time.sleep(poll)
            status = client.pack_status(status.id)
    return status
