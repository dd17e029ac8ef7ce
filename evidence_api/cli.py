"""``tiezheng``: one command, subcommands loaded lazily (``tiezheng verify`` imports only ``verifier``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Tiezheng (铁证): verifiable evidence for high-risk work permits.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
network_app = typer.Typer(help="Start, stop and inspect the real services this project runs natively.")
app.add_typer(network_app, name="network")
gateway_app = typer.Typer(help="The field gateway: BLE gas detectors → offline outbox → the evidence service.",
                          no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")
trust_root_app = typer.Typer(help="Write the trust root that `tiezheng verify` checks evidence against.")
app.add_typer(trust_root_app, name="trust-root")
digest_app = typer.Typer(help="Regulator digests: check one offline.")
app.add_typer(digest_app, name="digest")
risk_app = typer.Typer(help="Insurer risk records: check one offline.")
app.add_typer(risk_app, name="risk")
evm_app = typer.Typer(help="The regulator chain: deploy the registry contract that checkpoints and digests go to.")
app.add_typer(evm_app, name="evm")
witness_app = typer.Typer(help="Run a C2SP tlog-witness that cosigns a log's checkpoints (for a third party).")
app.add_typer(witness_app, name="witness")
pack_app = typer.Typer(help="Evidence packs: one zip a court can keep and check offline.")
app.add_typer(pack_app, name="pack")
tiles_app = typer.Typer(help="The log's hash tiles (C2SP tlog-tiles): publish them where a CDN can serve them, "
                        "and check a copy of them.")
app.add_typer(tiles_app, name="tiles")

_ROOT = Path(__file__).resolve().parent.parent


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Run the evidence service (config from TIEZHENG_* environment variables)."""
    import uvicorn

    from evidence_api.config import Settings
    from evidence_api.main import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port, log_level="info")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its log (a fresh folder each run is fine).")]
    = Path(".tiezheng/demo"),
    out: Annotated[Path, typer.Option(help="Where to write the exported bundle.")] = Path("demo-bundle.json"),
    fabric: Annotated[bool, typer.Option(
        "--fabric", envvar="TIEZHENG_DEMO_FABRIC",
        help="Also anchor on the running Fabric network (tiezheng network up); the bundle then verifies as fabric.",
    )] = False,
    fabric_profile: Annotated[Path, typer.Option(
        help="The Fabric network's client profile, with --fabric.", envvar="TIEZHENG_FABRIC_PROFILE",
    )] = Path(".tiezheng/services/fabric/network.json"),
    dual_chain: Annotated[bool, typer.Option(
        "--dual-chain", envvar="TIEZHENG_DEMO_DUAL_CHAIN",
        help="As --fabric, and also anchor on a regulator chain of its own (anvil); the next morning's digest "
             "then verifies as dual-chain.",
    )] = False,
) -> None:
    """Start the service on the embedded default, log a hot-work permit's evidence, export and verify a bundle."""
    from evidence_api.demo import run_demo

    raise typer.Exit(run_demo(data_dir=data_dir, out=out, fabric_profile=fabric_profile if fabric or dual_chain
                              else None, dual_chain=dual_chain))


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(
        help="An evidence pack zip (tiezheng.pack/v1) or a bundle JSON file (tiezheng.bundle/v1).")],
    trust_root: Annotated[str | None, typer.Option(
        help="The trust root file (tiezheng.trust-root/v1) naming the log keys you trust; see `trust-root init`.",
        envvar="TIEZHENG_TRUST_ROOT")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
    evm: Annotated[str | None, typer.Option(
        "--evm", help="JSON-RPC URL of a regulator-chain node: also confirm each EVM anchor's block is on that chain.",
        metavar="URL")] = None,
    fabric: Annotated[str | None, typer.Option(
        help="Also compare each Fabric anchor's block with the one this live peer (host:port) serves.")] = None,
    fabric_profile: Annotated[str | None, typer.Option(
        help="The Fabric client profile (network.json) naming that peer and an identity to ask it as.",
        envvar="TIEZHENG_FABRIC_PROFILE")] = None,
) -> None:
    """Verify an evidence pack or bundle offline against a trust root. Exit 0 valid, 1 invalid, 2 unusable or no trust."""
    from verifier.cli import verify_command

    raise typer.Exit(verify_command(str(bundle), trust_root=trust_root, json_output=json_output, verbose=verbose,
                                    evm=evm, fabric=fabric, fabric_profile=fabric_profile))


@trust_root_app.command("init")
def trust_root_init(
    origin: Annotated[str, typer.Option(help="The log's origin, the first line of its checkpoints.")],
    log_key: Annotated[Path, typer.Option(help="The log's SM2 public key (PEM), obtained out of band.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the trust root.")] = Path("trust-root.json"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    fabric_network: Annotated[Path | None, typer.Option(
        help="A Fabric client profile (network.json): trust its orgs' CA certificates for fabric anchors.")] = None,
    tsa_root: Annotated[list[str] | None, typer.Option(
        help="NAME=FILE: a trusted RFC 3161 TSA and its root certificates (PEM); repeat for more.")] = None,
    witness: Annotated[list[str] | None, typer.Option(
        help="NAME=FILE: a trusted witness's key name and Ed25519 public key (PEM); repeat for more.")] = None,
    witness_quorum: Annotated[int | None, typer.Option(
        help="How many of the witnesses must cosign for +witnessed (default: all of them).")] = None,
) -> None:
    """Write a trust root that trusts one log key (and a Fabric network's orgs, TSAs, witnesses). Exit 0
    written, 2 unusable input."""
    from verifier.cli import trust_root_init_command

    raise typer.Exit(trust_root_init_command(origin=origin, log_key=str(log_key), out=str(out), force=force,
                                             fabric_network=str(fabric_network) if fabric_network else None,
                                             tsa_roots=tsa_root or (), witnesses=witness or (),
                                             witness_quorum=witness_quorum))


@witness_app.command("serve")
def witness_serve(
    key: Annotated[Path, typer.Option(help="The witness's Ed25519 private key (PKCS#8 PEM); created with KEY.pub "
                                           "if missing.")],
    name: Annotated[str, typer.Option(help="The witness's key name in cosignatures, e.g. witness.example.org/w1.")],
    log_origin: Annotated[str, typer.Option(help="The origin line of the log this witness follows.")],
    log_key: Annotated[Path, typer.Option(help="The log's SM2 public key (PEM), obtained out of band.")],
    state: Annotated[Path, typer.Option(help="Folder for the latest cosigned checkpoint and refused requests.")],
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8320,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness); refuses any checkpoint inconsistent with what it cosigned."""
    from evidence_api.witness.cli import serve_command

    raise typer.Exit(serve_command(key=key, name=name, origin=log_origin, log_key=log_key, state=state,
                                   host=host, port=port))


@evm_app.command("deploy")
def evm_deploy(
    rpc: Annotated[str, typer.Option(help="The chain's JSON-RPC URL (any EVM-compatible node).",
                                     envvar="TIEZHENG_EVM_RPC_URL")],
    operator_key: Annotated[Path, typer.Option(help="File with the deploying account's secp256k1 private key "
                                               "(64 hex digits, mode 0600).", envvar="TIEZHENG_EVM_OPERATOR_KEY")],
    operator: Annotated[list[str] | None, typer.Option(
        help="An account that may write (repeat for several); default: the deploying key's own.")] = None,
    artifact: Annotated[Path | None, typer.Option(
        help="The compiled contract (default: contracts/build/EvidenceRegistry.json, from contracts/install.sh).")]
    = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each JSON-RPC call.")] = 10.0,
) -> None:
    """Deploy the registry contract; print its address, the trust-root entry and the service settings.
    Exit 0 deployed, 1 the chain refused or is unreachable, 2 unusable key, artifact or address."""
    from evidence_api.evm_cli import deploy_command

    raise typer.Exit(deploy_command(rpc=rpc, operator_key=operator_key, operators=operator or [], artifact=artifact,
                                    timeout=timeout))


@tiles_app.command("export")
def tiles_export(
    s3: Annotated[str | None, typer.Option(help="An S3 server, http[s]://ACCESS_KEY:SECRET@host:port.",
                                           envvar="TIEZHENG_TILES_S3_URL")] = None,
    bucket: Annotated[str | None, typer.Option(help="The bucket, with --s3 (no Object Lock).",
                                               envvar="TIEZHENG_TILES_BUCKET")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="A folder instead of S3 (serve it statically).")]
    = None,
    prefix: Annotated[str, typer.Option(help="Key prefix of every object, empty or ending in '/'.")] = "",
    create: Annotated[bool, typer.Option("--create", help="Create the bucket if it does not exist.")] = False,
    database_url: Annotated[str | None, typer.Option(help="The log's database (default: the service's).",
                                                     envvar="TIEZHENG_DATABASE_URL")] = None,
) -> None:
    """Write the tiles the log gained since the store's checkpoint, then the new checkpoint. Exit 0, 1, 2."""
    from evidence_api.config import Settings
    from evidence_api.tiles_cli import export_command

    raise typer.Exit(export_command(database_url=database_url or Settings().database_url, s3=s3, bucket=bucket,
                                    directory=directory, prefix=prefix, create=create))


@tiles_app.command("verify")
def tiles_verify(
    source: Annotated[str, typer.Argument(
        help="Where the tiles are: the service's https://HOST/v1/log/tlog/, a static copy's URL, or its folder.")],
    trust_root: Annotated[str | None, typer.Option(
        help="The trust root file naming the log keys you trust.", envvar="TIEZHENG_TRUST_ROOT")] = None,
    leaf: Annotated[list[str] | None, typer.Option(
        help="INDEX:HASH, a leaf hash (64 hex digits) that must sit at that index; repeatable.")] = None,
    bundle: Annotated[list[Path] | None, typer.Option(
        help="An event bundle whose event must be in the tiles' tree, its checkpoint a prefix; repeatable.")] = None,
    since: Annotated[Path | None, typer.Option(
        help="A checkpoint seen before (e.g. from --save): its tree must be a prefix of the tiles' tree.")] = None,
    save: Annotated[Path | None, typer.Option(
        help="After a valid run, write the tiles' checkpoint here (for the next run's --since).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Check a copy of the log's hash tiles against a trust root, trusting none of it. Exit 0 valid, 1 invalid, 2 unusable."""
    from verifier.tiles_cli import tiles_verify_command

    raise typer.Exit(tiles_verify_command(source, trust_root=trust_root, leaves=leaf or [],
                                          bundles=[str(p) for p in bundle or []],
                                          since=str(since) if since else None, save=str(save) if save else None,
                                          json_output=json_output, verbose=verbose))


@pack_app.command("build")
def pack_build(
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to save the zip.")] = Path("evidence-pack.zip"),
    permit: Annotated[str | None, typer.Option(help="Every event of this permit (its prev chain).")] = None,
    area: Annotated[str | None, typer.Option(help="The permits of this area in [--from, --to).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="RFC 3339 start of the area's time range.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="RFC 3339 end of the area's time range.")] = None,
    worker: Annotated[str | None, typer.Option(help="This worker's certificate history.")] = None,
    url: Annotated[str, typer.Option(help="The service.", envvar="TIEZHENG_URL")] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(help="An admin or reader token of the tenant.",
                                              envvar="TIEZHENG_TOKEN")] = None,
) -> None:
    """Ask the service for an evidence pack (progress shown), save the verified zip. Exit 0, 1 failed, 2 unusable."""
    from evidence_api.pack_cli import pack_build_command, scope_from_flags
    from ingest.client import ApiClient

    try:
        scope = scope_from_flags(permit=permit, area=area, start=start, end=end, worker=worker)
    except ValueError as exc:
        typer.echo(f"unusable flags: {exc}", err=True)
        raise typer.Exit(2) from exc
    with ApiClient.connect(url, token, timeout=300) as client:
        raise typer.Exit(pack_build_command(client, scope, out))


@digest_app.command("verify")
def digest_verify(
    digest: Annotated[Path, typer.Argument(help="A digest file: one item of GET /v1/regulator/digests.")],
    trust_root: Annotated[str | None, typer.Option(
        help="The trust root file naming the log keys (and chains) you trust.", envvar="TIEZHENG_TRUST_ROOT")] = None,
    previous: Annotated[Path | None, typer.Option(help="The previous day's digest file, to check the link.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
    evm: Annotated[str | None, typer.Option(
        "--evm", help="JSON-RPC URL of a regulator-chain node: also confirm the EVM anchor's and the registry "
                      "record's blocks are on that chain.", metavar="URL")] = None,
    fabric: Annotated[str | None, typer.Option(
        help="Also compare the Fabric anchor's block with the one this live peer (host:port) serves.")] = None,
    fabric_profile: Annotated[str | None, typer.Option(
        help="The Fabric client profile (network.json) naming that peer and an identity to ask it as.",
        envvar="TIEZHENG_FABRIC_PROFILE")] = None,
) -> None:
    """Verify a regulator digest offline (dual-chain when the Fabric and the EVM receipt both hold its tree).
    Exit 0 valid, 1 invalid, 2 unusable input or no trust."""
    from verifier.digest_cli import digest_verify_command

    raise typer.Exit(digest_verify_command(str(digest), trust_root=trust_root,
                                           previous=str(previous) if previous else None,
                                           json_output=json_output, verbose=verbose, evm=evm, fabric=fabric,
                                           fabric_profile=fabric_profile))


@risk_app.command("verify")
def risk_verify(
    record: Annotated[Path, typer.Argument(help="A risk record file: the body of GET /v1/risk-records.")],
    trust_root: Annotated[str | None, typer.Option(
        help="The trust root file naming the log keys you trust.", envvar="TIEZHENG_TRUST_ROOT")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Verify an insurer risk record offline: every counted event in the log, every figure recounted."""
    from verifier.digest_cli import risk_verify_command

    raise typer.Exit(risk_verify_command(str(record), trust_root=trust_root, json_output=json_output,
                                         verbose=verbose))


_GatewayDir = Annotated[Path, typer.Option("--dir", help="The gateway's folder (key, config, bindings, outbox).",
                                           envvar="TIEZHENG_GATEWAY_DIR")]
_Adapter = Annotated[str, typer.Option(help="bleak (this host's Bluetooth) or virtual (bumble detectors, no radio).")]
_DEFAULT_GATEWAY_DIR = Path(".tiezheng/gateway")


@gateway_app.command("init")
def gateway_init(
    server: Annotated[str, typer.Option(help="The evidence service's base URL.", envvar="TIEZHENG_SERVER")],
    tenant: Annotated[str, typer.Option(help="The tenant the gateway works for.")],
    gateway_id: Annotated[str, typer.Option("--id", help="The gateway's device id.")],
    token: Annotated[str, typer.Option(help="An ingest token of the tenant.", envvar="TIEZHENG_GATEWAY_TOKEN")],
    register_token: Annotated[str | None, typer.Option(
        help="A tenant admin token: also register the gateway's key now.")] = None,
    area: Annotated[str | None, typer.Option(help="The area the gateway is installed in.")] = None,
    root: _GatewayDir = _DEFAULT_GATEWAY_DIR,
) -> None:
    """Create a gateway: a fresh SM2 device key, its server and tenant. Exit 0 created, 1 server refused, 2 bad input."""
    from ingest.sensors.cli import init_command

    raise typer.Exit(init_command(root, server=server, tenant=tenant, gateway=gateway_id, token=token,
                                  register_token=register_token, area=area))


@gateway_app.command("scan")
def gateway_scan(
    adapter: _Adapter = "bleak",
    timeout: Annotated[float, typer.Option(help="Seconds to scan.")] = 10.0,
) -> None:
    """List the detectors in range and the model each one matches."""
    from ingest.sensors.cli import scan_command

    raise typer.Exit(scan_command(adapter=adapter, timeout=timeout))


@gateway_app.command("bind")
def gateway_bind(
    address: Annotated[str, typer.Argument(help="The detector's BLE address (from `gateway scan`).")],
    detector: Annotated[str, typer.Option(help="The detector's id (its asset number).")],
    model: Annotated[str, typer.Option(help="Its model, one of the model files (e.g. tz-m4).")],
    permit: Annotated[str, typer.Option(help="The permit it measures for.")],
    point: Annotated[str, typer.Option(help="Where it measures (e.g. 动火点 1 m).")] = "detector",
    root: _GatewayDir = _DEFAULT_GATEWAY_DIR,
) -> None:
    """Bind a detector to a permit: its readings become the permit's gas tests."""
    from ingest.sensors.cli import bind_command

    raise typer.Exit(bind_command(root, address=address, detector=detector, model=model, permit=permit, point=point))


@gateway_app.command("unbind")
def gateway_unbind(address: Annotated[str, typer.Argument(help="The detector's BLE address.")],
                   root: _GatewayDir = _DEFAULT_GATEWAY_DIR) -> None:
    """Stop relaying a detector."""
    from ingest.sensors.cli import unbind_command

    raise typer.Exit(unbind_command(root, address=address))


@gateway_app.command("run")
def gateway_run(
    adapter: _Adapter = "bleak",
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")] = None,
    sync_every: Annotated[float, typer.Option(help="Seconds between sync attempts while online.")] = 2.0,
    root: _GatewayDir = _DEFAULT_GATEWAY_DIR,
) -> None:
    """Relay the bound detectors into the outbox and sync it whenever the server is reachable."""
    from ingest.sensors.cli import run_command

    raise typer.Exit(run_command(root, adapter=adapter, duration=duration, sync_every=sync_every))


@gateway_app.command("sync")
def gateway_sync(root: _GatewayDir = _DEFAULT_GATEWAY_DIR) -> None:
    """Send the queue once. Exit 0 when all is acknowledged, 1 when something is left."""
    from ingest.sensors.cli import sync_command

    raise typer.Exit(sync_command(root))


@gateway_app.command("status")
def gateway_status(
    json_output: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    root: _GatewayDir = _DEFAULT_GATEWAY_DIR,
) -> None:
    """Show the queue (queued, sent, pending, refused), the bindings and the last error."""
    from ingest.sensors.cli import status_command

    raise typer.Exit(status_command(root, as_json=json_output))


def _network(action: str) -> None:
    script = _ROOT / "network" / "network.sh"
    raise typer.Exit(subprocess.call(["bash", str(script), action], env=os.environ.copy()))


@network_app.command("up")
def network_up() -> None:
    """Install or build (if needed) and start the native services: PostgreSQL and the Fabric 2.1.1 network."""
    _network("up")


@network_app.command("down")
def network_down() -> None:
    """Stop what `network up` started."""
    _network("down")


@network_app.command("status")
def network_status() -> None:
    """Tell which services run and where, and the Fabric channel's height."""
    _network("status")


def main() -> None:
    """Console entry point."""
    app(prog_name="tiezheng")


if __name__ == "__main__":
    main()
