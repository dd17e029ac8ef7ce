"""A gateway process for the crash test: relays readings into its outbox and syncs every few, printing each
event id once its enqueue has returned (durably committed), until killed. Usage: ROOT COUNT."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.client import ApiClient, ClientError
from ingest.outbox_sync import OutboxSync
from ingest.sensors.config import GatewayFolder
from ingest.sensors.decoder import encode
from ingest.sensors.gateway import Binding, Relay
from ingest.sensors.model import load_models


def main(root: Path, count: int) -> None:
    folder, models = GatewayFolder(root), load_models()
    outbox = folder.outbox(max_batch=5)
    relay, binding = Relay(outbox, models), Binding("F2:00:00:00:00:01", "m4-0001", "tz-m4", "HW-1", "动火点 1 m")
    with ApiClient.connect(folder.config().server, folder.token(), retries=0, timeout=10) as api:
        sync = OutboxSync(outbox, api)
        for n in range(count):
            event_id = relay.on_notification(binding, encode(models["tz-m4"], {"lel": 1, "o2": 20.9, "h2s": 0, "co": n % 50}))
            print(event_id, flush=True)
            if n % 3 == 2:
                try:
                    sync.sync_once()
                except ClientError as exc:
                    print(f"sync: {exc}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
