"""The key ring: agent session tokens are accepted only as minted, in time, by a live key."""

from __future__ import annotations

import time

import pytest

from accolade.runtime import identity
from accolade.runtime.identity import ADMIN, AGENT, INTEGRATION, KeyRing, Principal
from accolade.v1 import events_pb2

SECRET = b"s" * 32


def _ring(*, secret: bytes | None = SECRET) -> KeyRing:
    """acme and globex, each with its own session secret (none when `secret` is None)."""
    ring = KeyRing()
    for tenant in ("acme", "globex"):
        ring.apply(
            identity.message(
                tenant,
                f"{tenant}-t",
                tenant_changed=events_pb2.TenantChanged(
                    display_name=tenant,
                    time_zone="UTC",
                    week_start=1,
                    version=1,
                    session_secret=b"" if secret is None else secret + tenant.encode(),
                ),
            )
        )
    for key_id, tenant, role in (
        ("00000000000000a1", "acme", INTEGRATION),
        ("00000000000000a2", "acme", AGENT),
        ("00000000000000b1", "globex", INTEGRATION),
    ):
        _key(ring, key_id, tenant, role)
    return ring


def _key(ring: KeyRing, key_id: str, tenant: str, role: int, *, revoked: bool = False) -> None:
    key = events_pb2.ApiKeyChanged(key_id=key_id, role=role, secret_sha256=b"x" * 32)
    if revoked:
        key.revoked_at.GetCurrentTime()
    ring.apply(identity.message(tenant, key_id, api_key_changed=key))


def _token(
    tenant: str = "acme",
    agent: str = "a1",
    minter: str = "00000000000000a1",
    ttl: int = 60,
    secret: bytes | None = None,
) -> str:
    key = SECRET + tenant.encode() if secret is None else secret
    return identity.session_token(key, tenant, agent, minter, int(time.time()) + ttl)


def test_a_session_token_stands_for_its_one_agent() -> None:
    assert _ring().authenticate(_token(agent="a.b@c:d")) == Principal(
        "acme", AGENT, "session:00000000000000a1", "a.b@c:d"
    )


def test_a_session_minted_by_an_admin_key_is_accepted_too() -> None:
    ring = _ring()
    _key(ring, "00000000000000a3", "acme", ADMIN)
    assert ring.authenticate(_token(minter="00000000000000a3")) is not None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(ttl=-1), id="expired"),
        pytest.param(_token(secret=b"another secret"), id="signed-with-another-secret"),
        pytest.param(
            _token(tenant="globex", minter="00000000000000a1"), id="minter-of-another-tenant"
        ),
        pytest.param(_token(minter="00000000000000a2"), id="minted-by-an-agent-key"),
        pytest.param(_token(minter="00000000000000ff"), id="unknown-minter"),
        pytest.param(_token(tenant="initech"), id="unknown-tenant"),
        pytest.param("acs_", id="empty"),
        pytest.param("acs_!!!.???", id="not-base64"),
        pytest.param("acs_YQ.YQ", id="too-few-fields"),
    ],
)
def test_a_session_token_not_as_minted_is_refused(token: str) -> None:
    assert _ring().authenticate(token) is None


def test_changing_a_token_by_one_character_breaks_it() -> None:
    token = _token()
    payload, _, mac = token.partition(".")
    # Another agent with the original signature.
    forged = identity.session_token(b"?", "acme", "a2", "00000000000000a1", 2**40)
    assert _ring().authenticate(f"{forged.partition('.')[0]}.{mac}") is None
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    assert _ring().authenticate(f"{payload}.{flipped}") is None


def test_revoking_the_minting_key_ends_its_sessions_at_once() -> None:
    ring = _ring()
    token = _token()
    assert ring.authenticate(token) is not None
    _key(ring, "00000000000000a1", "acme", INTEGRATION, revoked=True)
    assert ring.authenticate(token) is None


def test_a_tenant_without_a_session_secret_accepts_no_session() -> None:
    # Not even a token "signed" with the empty secret.
    assert _ring(secret=None).authenticate(_token(secret=b"")) is None
