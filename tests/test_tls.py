"""TLS on every endpoint: gRPC, metrics and the console, and the gateway's call to
achievements, with certificates from a CA made for the test."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from accolade import clients
from accolade.local.embedded import free_port
from accolade.local.stack import Endpoint, service_env, start_service, stop_processes, wait_serving
from accolade.v1 import gateway_service_pb2 as gw
from accolade.v1 import gateway_service_pb2_grpc as gw_grpc
from tests.platform import Platform, eventually, interaction

pytestmark = pytest.mark.system

SERVING = health_pb2.HealthCheckResponse.SERVING


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1: (ca, cert, key)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
             "-subj", "/CN=accolade test CA", cwd=directory)  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=directory)  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext",
             cwd=directory)  # fmt: skip
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


def _https(url: str, ca: Path, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - our own server
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _plain_http(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - our own server
        body: bytes = reply.read()
    return body


async def _health(channel: grpc.aio.Channel, service: str = "") -> Any:
    return await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )


async def test_every_endpoint_speaks_tls_and_probes_keep_a_plaintext_health_port(
    platform: Platform, tenant: str, tmp_path: Path
) -> None:
    ca, cert, key = _certificates(tmp_path)
    roots = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    tls_env = {
        "ACCOLADE_TLS_CERT_FILE": str(cert),
        "ACCOLADE_TLS_KEY_FILE": str(key),
        "ACCOLADE_TLS_CA_FILE": str(ca),
    }
    # A second replica of achievements and of the gateway, both over TLS; this gateway's
    # console reads from the TLS achievements.
    achievements = Endpoint("achievements", free_port(), free_port())
    gateway = Endpoint("gateway", free_port(), free_port(), free_port())
    probe = {"achievements": free_port(), "gateway": free_port()}
    log_dir = tmp_path / "tls"
    log_dir.mkdir()
    processes = {}
    for endpoint, extra in (
        (achievements, {}),
        (gateway, {"ACCOLADE_ACHIEVEMENTS_ADDRESS": f"127.0.0.1:{achievements.grpc_port}"}),
    ):
        env = platform.env(endpoint.service) | service_env(
            platform.database_url,
            platform.bootstrap,
            endpoint,
            {
                **tls_env,
                **extra,
                "ACCOLADE_PROBE_PORT": str(probe[endpoint.service]),
                "ACCOLADE_LOG_FORMAT": "json",
            },
        )
        processes[endpoint.service] = start_service(env, endpoint.service, log_dir)
    try:
        # Kubelet's probes: plaintext, on the probe port, which answers health only.
        for name, port in probe.items():
            await wait_serving(port, f"accolade.v1.{name.title()}Service", 60)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{probe['gateway']}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await gw_grpc.GatewayServiceStub(plain).CreateAgentSession(  # type: ignore[no-untyped-call]
                    gw.CreateAgentSessionRequest(agent_id="ana"),
                    metadata=clients.bearer(platform.integration_keys[tenant]),
                )
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED

        # The gRPC port: TLS only. A plaintext client cannot even ask for health.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as plaintext:
                await _health(plain)
            assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
        integration = platform.integration_keys[tenant]
        async with clients.channel(f"127.0.0.1:{gateway.grpc_port}", integration, roots) as secure:
            assert (await _health(secure)).status == SERVING
            minted = await gw_grpc.GatewayServiceStub(secure).CreateAgentSession(  # type: ignore[no-untyped-call]
                gw.CreateAgentSessionRequest(agent_id="ana")
            )
        # A client that does not trust the CA is refused by its own TLS check.
        async with clients.channel(
            f"127.0.0.1:{gateway.grpc_port}", integration, grpc.ssl_channel_credentials()
        ) as untrusting:
            with pytest.raises(grpc.aio.AioRpcError) as untrusted:
                await _health(untrusting)
            assert untrusted.value.code() == grpc.StatusCode.UNAVAILABLE

        # The console over HTTPS; its snapshot comes from achievements over TLS.
        await platform.apply_program(tenant)
        await platform.publish([interaction(tenant, "ana")])

        async def badge_shown() -> bool:
            status, body = _https(
                f"https://127.0.0.1:{gateway.console_port}/console/v1/agent", ca, minted.token
            )
            assert status == 200, body
            return [b["badgeId"] for b in json.loads(body)["badges"]] == ["first-resolution"]

        assert await eventually(badge_shown, within=30)
        status, script = _https(f"https://127.0.0.1:{gateway.console_port}/console/v1/card.js", ca)
        assert status == 200 and b"customElements.define" in script
        # Plaintext HTTP is not answered.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            _plain_http(f"http://127.0.0.1:{gateway.console_port}/console/v1/card.js")

        # Metrics over HTTPS too.
        status, metrics = _https(f"https://127.0.0.1:{gateway.metrics_port}/metrics", ca)
        assert status == 200 and b"accolade_gateway_" in metrics
    finally:
        stop_processes(processes)
    # Said in the log: TLS on, and no plaintext warning (loopback would not warn anyway;
    # the warning itself is checked in the runtime's unit tests).
    started = [
        json.loads(line)
        for line in (log_dir / "gateway.log").read_text().splitlines()
        if '"started"' in line
    ]
    assert any(s.get("tls") is True and s.get("probe_port") == probe["gateway"] for s in started)
