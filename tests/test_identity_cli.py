"""`accolade tenants` and `accolade keys` against the gateway's store."""

from __future__ import annotations

import asyncio
import hashlib
import sys

import asyncpg

from accolade import catalog
from accolade.runtime import admin
from accolade.v1 import envelope_pb2


async def accolade(database_url: str, namespace: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accolade.cli",
        *args,
        "--database-url",
        database_url,
        "--topic-namespace",
        namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_tenants_and_keys_are_made_listed_and_revoked_and_only_hashes_are_kept(
    database_url: str, namespace: str
) -> None:
    await admin.migrate(database_url, [catalog.load("gateway")])

    def run(*args: str) -> asyncio.Future[tuple[int, str, str]]:
        return asyncio.ensure_future(accolade(database_url, namespace, *args))

    code, _, err = await run("tenants", "create", "acme", "--time-zone", "Mars/Olympus")
    assert code == 2 and "time_zone: 'Mars/Olympus' is not an IANA time zone name" in err
    code, out, _ = await run(
        "tenants", "create", "acme", "--name", "Acme Care", "--time-zone", "Europe/Lisbon",
        "--week-start", "7", "--lateness", "48h",
    )  # fmt: skip
    assert code == 0 and out.startswith("tenant acme created")
    code, out, _ = await run("tenants", "list")
    assert out.splitlines()[1].split() == ["acme", "Acme", "Care", "Europe/Lisbon", "7", "48h", "0"]

    code, _, err = await run("keys", "create", "--tenant", "acme", "--role", "agent")
    assert code == 2 and "agent_id: is required" in err
    code, _, err = await run("keys", "create", "--tenant", "nobody", "--role", "admin")
    assert code == 1 and "no tenant 'nobody'" in err
    code, token, err = await run(
        "keys", "create", "--tenant", "acme", "--role", "agent", "--agent", "a1", "--label", "card"
    )
    token = token.strip()
    assert code == 0 and token.startswith("acc_") and "shown once" in err
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]

    code, out, _ = await run("keys", "list", "--tenant", "acme")
    assert secret not in out
    (row,) = out.splitlines()[1:]
    assert row.split()[:4] == [key_id, "acme", "agent", "a1"] and row.endswith("card")
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT secret_sha256 FROM gateway.api_keys WHERE key_id = $1", key_id
        )
        text = await conn.fetchval("SELECT string_agg(payload::text, '') FROM gateway.outbox")
    finally:
        await conn.close()
    assert stored == hashlib.sha256(secret.encode()).digest()
    assert secret not in text  # the identity topic carries the hash only

    code, out, _ = await run("keys", "revoke", key_id)
    assert code == 0 and f"key {key_id} of tenant acme revoked" in out
    code, _, err = await run("keys", "revoke", "0000000000000000")
    assert code == 1 and "no key" in err
    code, out, _ = await run("keys", "list")
    assert out.splitlines()[1].split()[5] != "-"  # revoked, with its time

    # What the services learn, in order: the tenant, the key, its revocation.
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await conn.fetch("SELECT topic, payload FROM outbox ORDER BY id")
    finally:
        await conn.close()
    assert {r["topic"] for r in rows} == {f"{namespace}.identity.v1"}
    kinds = [envelope_pb2.Envelope.FromString(r["payload"]).WhichOneof("payload") for r in rows]
    assert kinds == ["tenant_changed", "api_key_changed", "api_key_changed"]
    revoked = envelope_pb2.Envelope.FromString(rows[-1]["payload"]).api_key_changed
    assert revoked.key_id == key_id and revoked.HasField("revoked_at")
