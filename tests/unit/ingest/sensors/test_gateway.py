"""The gateway's folder and relay without a radio: files written safely, bad input refused by name, and the
reading payload's clocks."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.sensors.cli import status_command
from ingest.sensors.config import GatewayConfig, GatewayFolder
from ingest.sensors.decoder import decode, encode
from ingest.sensors.errors import SensorError
from ingest.sensors.gateway import Binding, reading_payload
from ingest.sensors.model import load_models

MODELS = load_models()
CONFIG = GatewayConfig("http://127.0.0.1:1", "acme-chem", "gw-1", "gw-1#1")
BINDING = Binding("F2:00:00:00:00:02", "s1-0002", "tz-s1-h2s", "HW-1", "地沟口")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_folder_create_secrets_private_and_no_overwrite(tmp_path: Path) -> None:
    folder = GatewayFolder(tmp_path / "gw")
    actor = folder.create(CONFIG, "ingest-token")
    assert (actor.type, actor.id, actor.key_id) == ("device", "gw-1", "gw-1#1")
    for secret in ("gateway.key", "token"):
        assert stat.S_IMODE((tmp_path / "gw" / secret).stat().st_mode) == 0o600
    assert folder.config() == CONFIG and folder.token() == "ingest-token"
    assert folder.actor().signer.public.to_pem() == actor.signer.public.to_pem()
    with pytest.raises(SensorError, match=r"already holds gateway 'gw-1'; use another --dir"):
        folder.create(CONFIG, "other")


def test_folder_bindings_rebind_unbind_and_damage(tmp_path: Path) -> None:
    folder = GatewayFolder(tmp_path)
    folder.bind(BINDING)
    folder.bind(Binding(BINDING.address, "s1-0002", "tz-s1-h2s", "HW-2", "罐顶"))
    assert [(b.permit, b.point) for b in folder.bindings()] == [("HW-2", "罐顶")]
    folder.unbind(BINDING.address)
    with pytest.raises(SensorError, match=r"no detector is bound at F2:00:00:00:00:02"):
        folder.unbind(BINDING.address)
    (tmp_path / "bindings.json").write_text(json.dumps([{"address": "x"}]))
    with pytest.raises(SensorError, match=r"bindings\.json is damaged"):
        folder.bindings()
    (tmp_path / "bindings.json").write_text("[")
    with pytest.raises(SensorError, match=r"bindings\.json is not valid JSON"):
        folder.bindings()


def test_status_without_gateway_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert status_command(tmp_path / "none") == 2
    assert "holds no gateway; create one with `tiezheng gateway init`" in capsys.readouterr().err.replace("\n", " ")


def test_reading_payload_keeps_detector_clock_unless_ahead() -> None:
    model = MODELS["tz-s1-h2s"]
    own = decode(model, encode(model, {"h2s": 2.5}, sequence=4, detector_time=NOW - timedelta(seconds=30)))
    payload = reading_payload(BINDING, own, NOW)
    assert payload["sampled_at"] == "2026-12-01T07:59:30.000Z" and payload["detector"]["clock"] == "detector"
    assert payload["readings"] == {"toxic_mg_m3": {"h2s": 3.5441}} and payload["detector"]["sequence"] == 4
    ahead = decode(model, encode(model, {"h2s": 2.5}, detector_time=NOW + timedelta(hours=2)))
    payload = reading_payload(BINDING, ahead, NOW)
    assert payload["sampled_at"] == "2026-12-01T08:00:00.000Z" and payload["detector"]["clock"] == "gateway"


def test_relay_outbox_failure_counted_not_raised(tmp_path: Path) -> None:
    from ingest.outbox import Outbox, OutboxError
    from ingest.sensors.gateway import Relay
    from tests.helpers import TENANT, make_actor

    box = Outbox(tmp_path / "outbox.db", gateway=make_actor("gw-1", kind="device"), tenant=TENANT)
    relay = Relay(box, MODELS)
    box.close()  # the file can no longer be written (as with a failed disk)
    with pytest.raises(OutboxError, match=r"cannot write the outbox \(.*\); nothing of this change was stored"):
        relay.on_notification(BINDING, encode(MODELS["tz-s1-h2s"], {"h2s": 1.0}))
    relay.relay(BINDING, encode(MODELS["tz-s1-h2s"], {"h2s": 1.0}))  # what the radio callback calls
    assert relay.counts.failed == 1 and relay.counts.queued == 0
    assert relay.counts.last_failure and relay.counts.last_failure.startswith("s1-0002: ")
