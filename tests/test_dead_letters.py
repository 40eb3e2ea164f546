"""`accolade dead-letters`: an event a consumer could not apply is listed, then replayed once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from accolade.v1 import envelope_pb2, gateway_service_pb2
from tests.platform import Platform, eventually, interaction, read_all

pytestmark = pytest.mark.system

CONSUMER = "achievements.badges"


async def accolade(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACCOLADE_DATABASE_URL": database_url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "accolade.cli", "dead-letters", *args, "--consumer", CONSUMER],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_a_dead_letter_is_listed_and_replayed_once_its_cause_is_fixed(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    conn = await asyncpg.connect(platform.database_url)
    try:
        # A mistake an operator will fix: a constraint that refuses one agent's badges. The
        # event's own data makes the statement fail, so the event alone is dead-lettered.
        await conn.execute(
            "ALTER TABLE achievements.agent_badges ADD CONSTRAINT no_blocked "
            "CHECK (agent_id <> 'blocked')"
        )
        blocked, fine = interaction(tenant, "blocked"), interaction(tenant, "fine")
        assert (
            await platform.publish([blocked, fine])
            == [gateway_service_pb2.EVENT_STATUS_ACCEPTED] * 2
        )

        async def letters() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM achievements.dead_letters"))

        assert await eventually(lambda: _is(letters(), 1)), "the event dead-lettered"
        assert await platform.badges(tenant, "fine") == ["first-resolution"]
        assert await platform.badges(tenant, "blocked") == []

        listed = await accolade("list", database_url=platform.database_url)
        assert listed.returncode == 0, listed.stderr
        (row,) = [line for line in listed.stdout.splitlines() if blocked.event_id in line]
        assert f"{tenant}/blocked" in row and "handler_error" in row and "no_blocked" in row

        await conn.execute("ALTER TABLE achievements.agent_badges DROP CONSTRAINT no_blocked")
        replayed = await accolade("replay", database_url=platform.database_url)
        assert replayed.returncode == 0, replayed.stderr + replayed.stdout
        assert "1 applied" in replayed.stdout
        assert await platform.badges(tenant, "blocked") == ["first-resolution"]

        # Replaying again applies nothing twice.
        again = await accolade("replay", database_url=platform.database_url)
        assert again.returncode == 0, again.stderr
        assert "nothing to replay" in again.stdout
        listed = await accolade("list", database_url=platform.database_url)
        (row,) = [line for line in listed.stdout.splitlines() if blocked.event_id in line]
        assert " applied " in row
        awards = await conn.fetchval(
            "SELECT count(*) FROM achievements.agent_badges WHERE tenant_id = $1 AND agent_id = 'blocked'",
            tenant,
        )
        assert awards == 1
    finally:
        await conn.close()
    # The letter went to the dead-letter topic once, with its reason.
    dead = await read_all(platform.bootstrap, f"{platform.namespace}.{CONSUMER}.dlq.v1")
    assert [envelope_pb2.Envelope.FromString(v).event_id for v, _ in dead] == [blocked.event_id]
    assert dead[0][1]["kind"] == b"handler_error"


async def _is(awaitable, expected) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable == expected)
