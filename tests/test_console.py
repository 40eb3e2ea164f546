"""The agent console: session tokens, the card's HTTP endpoints, and the card in Chromium.

The browser test drives Debian's Chromium with Playwright (tests/browser/driver.mjs) on
the sample agent desktop that `accolade up` serves, against the five services, and
saves its screenshots under build/artifacts/console/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from accolade import clients
from accolade.gateway import _identity
from accolade.local.console import SampleDesktop
from accolade.runtime import outbox
from accolade.v1 import achievements_service_pb2 as ach
from accolade.v1 import achievements_service_pb2_grpc as ach_grpc
from accolade.v1 import gateway_service_pb2 as gw
from tests.platform import Platform, eventually, interaction

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "browser" / "driver.mjs"
ARTIFACTS = Path(os.environ.get("ACCOLADE_ARTIFACTS", ROOT / "build" / "artifacts")) / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _get(url: str, token: str | None = None, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _read_stream(url: str, token: str) -> list[str]:
    """The lines of an event stream, read until the server ends it."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=8) as response:  # noqa: S310 - our own server
        return [line.decode().rstrip("\n") for line in response if line.strip()]


async def _session(platform: Platform, tenant: str, agent: str, ttl: int = 0) -> str:
    minted = await platform.gateway.CreateAgentSession(
        gw.CreateAgentSessionRequest(agent_id=agent, ttl_seconds=ttl),
        metadata=clients.bearer(platform.integration_keys[tenant]),
    )
    assert minted.expires_at.seconds - time.time() == pytest.approx(ttl or 3600, abs=5)
    return str(minted.token)


async def _last_sequence(platform: Platform, tenant: str, agent: str) -> int:
    """The sequence of the agent's last notification, from the gateway's store."""
    conn = await asyncpg.connect(platform.database_url, server_settings={"search_path": "gateway"})
    try:
        last: int = await conn.fetchval(
            "SELECT last FROM notification_sequences WHERE tenant_id = $1 AND agent_id = $2",
            tenant,
            agent,
        )
    finally:
        await conn.close()
    return last


async def _next_notification(
    platform: Platform, tenant: str, agent: str, after: int
) -> gw.WatchAgentResponse:
    """The first notification the gateway holds for agent after sequence `after`."""
    stream = platform.gateway.WatchAgent(
        gw.WatchAgentRequest(tenant_id=tenant, agent_id=agent, after_sequence=after),
        timeout=30,
    )
    try:
        notification: gw.WatchAgentResponse = await stream.read()
        return notification
    finally:
        stream.cancel()


def _console(platform: Platform) -> str:
    return f"http://127.0.0.1:{platform.endpoints['gateway'].console_port}/console/v1"


async def test_the_console_answers_only_an_agent_of_its_own_tenant(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    token = await _session(platform, tenant, "ana")
    base = _console(platform)
    # Bad input to the mint is named.
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await platform.gateway.CreateAgentSession(
            gw.CreateAgentSessionRequest(agent_id="ana", ttl_seconds=86400),
            metadata=clients.bearer(platform.integration_keys[tenant]),
        )
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "ttl_seconds" in str(bad.value.details())

    assert (await asyncio.to_thread(_get, f"{base}/agent"))[0] == 401
    assert (await asyncio.to_thread(_get, f"{base}/agent", "acs_forged.token"))[0] == 401
    integration = platform.integration_keys[tenant]
    assert (await asyncio.to_thread(_get, f"{base}/agent", integration))[0] == 403

    await platform.publish([interaction(tenant, "ana")])
    await platform.caught_up("achievements", "gateway")
    status, snapshot = await asyncio.to_thread(_get, f"{base}/agent", token)
    assert status == 200, snapshot
    # Only under its prefix.
    root = base.removesuffix("/console/v1")
    assert (await asyncio.to_thread(_get, f"{root}/agent", token))[0] == 404
    assert (snapshot["tenantId"], snapshot["agentId"]) == (tenant, "ana")
    assert [b["badgeId"] for b in snapshot["badges"]] == ["first-resolution"]
    assert snapshot["sequence"] == 1  # the award's notification: the stream goes on after it
    assert {p["badgeId"] for p in snapshot["progress"]} >= {"five-stars"}

    # The session ends when the key that minted it is revoked, and so does its open stream.
    stream = asyncio.create_task(asyncio.to_thread(_read_stream, f"{base}/stream", token))
    await platform.revoke(platform.integration_keys[tenant])
    revoked_at = time.monotonic()
    assert await _eventually_status(f"{base}/agent", token, 401)
    lines = await asyncio.wait_for(stream, 8)
    assert time.monotonic() - revoked_at < 5.0
    assert lines[0] == ": live"


async def _eventually_status(url: str, token: str, status: int, within: float = 5) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await asyncio.to_thread(_get, url, token))[0] == status:
            return True
        await asyncio.sleep(0.1)
    return False


class Browser:
    """The Playwright driver, one command at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def do(self, op: str, **args: Any) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self._process.stdin.drain()
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        assert line, "the browser driver exited"
        answer: dict[str, Any] = json.loads(line)
        assert answer.pop("ok"), f"{op} failed in the browser: {answer}"
        return answer


def _browser_parts() -> str:
    """The node binary, after checking that the browser and its driver are installed."""
    node = shutil.which("node")
    assert node, "node is missing: run scripts/browser.sh"
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run scripts/browser.sh (as root)"
    assert os.path.isdir(DRIVER.parent / "node_modules" / "playwright-core"), (
        "playwright-core is missing: run scripts/browser.sh"
    )
    return node


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    node = _browser_parts()
    process = await asyncio.create_subprocess_exec(
        node,
        str(DRIVER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    try:
        yield Browser(process)
    finally:
        if process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                process.stdin.write(b'{"op": "close"}\n')
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_the_sample_desktop_shows_badges_live_in_chromium_across_a_gateway_restart(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    gateway = platform.endpoints["gateway"]
    desktop = SampleDesktop(
        f"127.0.0.1:{gateway.grpc_port}",
        _console(platform).removesuffix("/console/v1"),
        platform.integration_keys[tenant],
        ("ana", "ben"),
    )
    desktop.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        async with browser() as b:
            await b.do("open", page="en", url=desktop.url("ana"))
            await b.do("shot", page="en", path=str(ARTIFACTS / "1-no-badges-yet.png"))

            # A badge within a second of its event being published.
            published = time.time() * 1000
            await platform.publish([interaction(tenant, "ana")])
            seen = await b.do("badge", page="en", badge="first-resolution", since=published)
            await b.do("shot", page="en", path=str(ARTIFACTS / "2-first-badge-live.png"))
            assert seen["elapsed"] < 1000, f"the badge showed {seen['elapsed']} ms after its event"
            assert seen["announced"].startswith("New badge: First Resolution")
            assert seen["lastSequence"] == 1

            # Then the whole starter program: goals of every kind (averages too).
            await platform.apply_program(tenant, only=None)

            # Keyboard: the badge is reached with Tab and read out with its name.
            focused = (await b.do("tab", page="en", count=8))["focused"]
            assert any(f.startswith("First Resolution") for f in focused), focused

            # A refused token: the card asks its page for a new one, and the page's own
            # server mints it (the integration key never reaches the browser).
            await b.do("expire", page="en")
            # The same for a token that is not an agent's (403), such as a server key.
            await b.do("expire", page="en", token=platform.integration_keys[tenant])

            # The gateway dies and the browser loses its network; a badge is earned and the
            # restarted gateway has its notification before the card can reconnect. The
            # card must resume after the last notification it showed, or it never sees it.
            await b.do("offline", offline=True)
            platform.kill("gateway")
            published = time.time() * 1000
            await platform.survey(tenant, "ana", 5)
            await platform.restart("gateway")
            assert (await _next_notification(platform, tenant, "ana", after=1)).sequence == 2
            await b.do("offline", offline=False)
            seen = await b.do(
                "badge", page="en", badge="five-stars", since=published, timeout=30000
            )
            await b.do("shot", page="en", path=str(ARTIFACTS / "3-after-gateway-restart.png"))
            assert seen["status"] == "live"
            held = sorted(await platform.badges(tenant, "ana"))
            assert {"first-resolution", "five-stars"} <= set(held)
            assert sorted(x["badge"] for x in seen["badges"]) == held
            # The nearest goals, as the agent reads them: a few, with plain numbers.
            assert 1 <= len(seen["goals"]) <= 5, seen["goals"]
            for goal in seen["goals"]:
                assert "undefined" not in goal and not goal.startswith("0 more"), goal
                shapes = r"[\d,]+(\.\d{1,2})? more for .+|Needs .+ first|On track for .+"
                assert re.fullmatch(shapes, goal), goal

            # It got to the last notification the gateway holds for her.
            last = await _last_sequence(platform, tenant, "ana")

            async def caught_up() -> bool:
                return (await b.do("read", page="en"))["lastSequence"] >= last

            assert await eventually(caught_up, within=15), (last, seen["lastSequence"])
            assert seen["errors"] == []  # no script on the page failed

            # Chinese, chosen by the page's lang.
            await b.do("open", page="zh", url=desktop.url("ana", lang="zh-CN"))
            zh = await b.do("read", page="zh")
            await b.do("shot", page="zh", path=str(ARTIFACTS / "4-zh-CN.png"))
            assert zh["lang"] == "zh-CN"
            assert "我的荣誉" in zh["text"] and "徽章" in zh["text"] and "实时" in zh["text"]
            assert sorted(x["badge"] for x in zh["badges"]) == held
            assert all("级" in x["label"] or x["tier"] == "" for x in zh["badges"])
    finally:
        desktop.close()


async def test_a_tenant_published_before_session_secrets_gets_its_secret_at_gateway_start(
    platform: Platform, tenant: str
) -> None:
    # As an older gateway left it: the tenant on the identity topic without a secret.
    conn = await asyncpg.connect(platform.database_url, server_settings={"search_path": "gateway"})
    try:
        async with conn.transaction():
            row = dict(
                await conn.fetchrow(
                    "UPDATE tenants SET secret_published = false, version = version + 1 "
                    "WHERE tenant_id = $1 RETURNING *",
                    tenant,
                )
            )
            await outbox.write(
                conn,
                [
                    _identity._tenant_row(
                        platform.settings("gateway").topics.topic("identity"),
                        {**row, "session_secret": b""},
                    )
                ],
            )
    finally:
        await conn.close()

    async def refused() -> bool:
        try:
            await _session(platform, tenant, "ana")
        except grpc.aio.AioRpcError as exc:
            return exc.code() is grpc.StatusCode.FAILED_PRECONDITION
        return False

    assert await eventually(refused, within=15)

    # The next gateway start publishes the secret the store has kept all along.
    platform.kill("gateway")
    await platform.restart("gateway")

    async def minted() -> str | None:
        try:
            return await _session(platform, tenant, "ana")
        except grpc.aio.AioRpcError:
            return None

    token = await eventually(minted, within=15)
    assert token
    # And every service checks it: achievements reads with the session token.
    async with clients.channel(
        f"127.0.0.1:{platform.endpoints['achievements'].grpc_port}", token
    ) as channel:

        async def read() -> bool:
            try:
                await ach_grpc.AchievementsServiceStub(channel).ListAgentBadges(  # type: ignore[no-untyped-call]
                    ach.ListAgentBadgesRequest()
                )
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAUTHENTICATED, exc
                return False
            return True

        assert await eventually(read, within=15)
