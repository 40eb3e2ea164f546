"""`accolade up` as a user runs it: start, use, stop, start again on the same data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psutil
import pytest

from accolade import clients
from accolade.local.embedded import free_port
from accolade.local.stack import (
    ADMIN_KEY_FILE,
    INTEGRATION_KEY_FILE,
    LOCAL_TENANT,
    SAMPLE_DESKTOP_PORT,
    endpoints,
)
from accolade.v1 import (
    gateway_service_pb2,
    gateway_service_pb2_grpc,
    leaderboards_service_pb2,
    leaderboards_service_pb2_grpc,
)
from tests.platform import eventually, interaction

pytestmark = pytest.mark.system


def _free_offset() -> int:
    for _ in range(50):
        offset = random.randrange(1_000, 15_000, 10)
        ports = [
            p for e in endpoints(offset) for p in (e.grpc_port, e.metrics_port, e.console_port) if p
        ] + [SAMPLE_DESKTOP_PORT + offset]
        with contextlib.ExitStack() as stack:
            try:
                for port in ports:
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return offset
    raise RuntimeError("no free port range")


class Up:
    """One `accolade up` process."""

    def __init__(self, data_dir: Path, kafka_port: int, offset: int) -> None:
        self.args = [
            sys.executable,
            "-m",
            "accolade.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--kafka-port",
            str(kafka_port),
            "--port-offset",
            str(offset),
        ]
        self.data_dir = data_dir
        self.kafka_port = kafka_port
        self.offset = offset
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, within: float = 60) -> float:
        """Starts it and returns how long it took to report every service SERVING."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        deadline = started + within
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "Ctrl-C stops everything" in line:  # the last line it prints when up
                return time.monotonic() - started
        raise AssertionError("accolade up did not come up:\n" + "".join(self.output))

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        assert self.process.stdout is not None
        self.output.extend(self.process.stdout.readlines())
        self.process.stdout.close()
        return code

    def leftovers(self) -> list[str]:
        """Processes this stack started that are still alive."""
        marks = (str(self.data_dir), f"127.0.0.1:{self.kafka_port}", "accolade.cli serve")
        found = []
        for p in psutil.process_iter(["pid", "cmdline", "status"]):
            cmd = " ".join(p.info["cmdline"] or ())
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(m in cmd for m in marks) and p.pid != os.getpid():
                found.append(f"{p.pid} {cmd}")
        return found


def _printed_url(printed: str, part: str) -> str:
    """The one URL `accolade up` printed that contains part."""
    (url,) = {u for u in re.findall(r"https?://\S+", printed) if part in u}
    return url


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - a URL it printed
        text: str = reply.read().decode()
    return text


async def _scores(port: int, tenant: str, key: str) -> dict[str, int]:
    async with clients.channel(f"127.0.0.1:{port}", key) as channel:
        board = await leaderboards_service_pb2_grpc.LeaderboardsServiceStub(channel).GetLeaderboard(
            leaderboards_service_pb2.GetLeaderboardRequest(tenant_id=tenant, limit=100)
        )
    return {e.agent_id: int(e.score) for e in board.entries}


async def _publish(port: int, events: list, key: str) -> None:  # type: ignore[type-arg]
    async with clients.channel(f"127.0.0.1:{port}", key) as channel:
        reply = await gateway_service_pb2_grpc.GatewayServiceStub(channel).PublishEvents(
            gateway_service_pb2.PublishEventsRequest(events=events), timeout=30
        )
    assert {r.status for r in reply.results} == {gateway_service_pb2.EVENT_STATUS_ACCEPTED}


async def test_stop_and_start_keeps_every_accepted_event_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    up = Up(tmp_path / "data", free_port(), _free_offset())
    gateway, leaderboards = (
        e.grpc_port for e in endpoints(up.offset) if e.service in ("gateway", "leaderboards")
    )
    took = up.start()
    print(f"accolade up reached SERVING in {took:.1f}s")
    tenant = LOCAL_TENANT
    admin = (up.data_dir / ADMIN_KEY_FILE).read_text().strip()
    integration = (up.data_dir / INTEGRATION_KEY_FILE).read_text().strip()
    # It prints both keys of the local tenant, and keeps them where only its user reads.
    printed = "".join(up.output)
    assert f"admin         {admin}" in printed and f"integration   {integration}" in printed
    assert (up.data_dir / ADMIN_KEY_FILE).stat().st_mode & 0o077 == 0
    # And the two addresses of the agent console: the card's script and a page that shows it.
    card = _printed_url(printed, "/console/v1/card.js")
    assert "customElements.define" in await asyncio.to_thread(_text, card)
    desktop = _printed_url(printed, f":{SAMPLE_DESKTOP_PORT + up.offset}/")
    page = await asyncio.to_thread(_text, desktop)
    assert "<accolade-agent-card" in page and card in page
    first = [interaction(tenant, f"agent-{i % 4}", resolved=i % 5 != 0) for i in range(40)]
    try:
        await _publish(gateway, first, integration)
    finally:
        # Stop at once: some events may be accepted but not yet relayed or applied.
        assert up.stop() == 0
    assert up.leftovers() == []

    up.start()
    # The same keys work again: the new broker starts empty, and the gateway publishes
    # every key again from its store.
    assert (up.data_dir / ADMIN_KEY_FILE).read_text().strip() == admin
    try:
        second = [interaction(tenant, f"agent-{i % 4}") for i in range(8)]
        await _publish(gateway, second, integration)
        expected = dict(
            Counter(
                e.agent_id for e in first + second if e.interaction_completed.resolved_first_contact
            )
        )

        async def settled() -> bool:
            return await _scores(leaderboards, tenant, admin) == expected

        assert await eventually(settled, within=60), (
            await _scores(leaderboards, tenant, admin),
            expected,
        )
        await asyncio.sleep(1.5)
        assert await _scores(leaderboards, tenant, admin) == expected
    finally:
        assert up.stop() == 0
    assert up.leftovers() == []
