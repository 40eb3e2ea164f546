"""Fixtures of the black-box system tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from accolade.local.embedded import EmbeddedBroker
from tests.platform import Platform


@pytest.fixture
def tenant() -> str:
    return f"cc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def private_broker() -> AsyncIterator[EmbeddedBroker]:
    """A broker of the test's own, which it may restart."""
    broker = EmbeddedBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def platform(database_url, infra, namespace, tmp_path, tenant) -> AsyncIterator[Platform]:
    """The five services as processes on the shared PostgreSQL and broker, with a tenant."""
    p = Platform(database_url, infra.bootstrap, namespace, tmp_path, tenants=(tenant,))
    try:
        await p.start()
        yield p
    finally:
        await p.close()


@pytest.fixture
async def platform_own_broker(
    database_url, private_broker, namespace, tmp_path, tenant
) -> AsyncIterator[Platform]:
    """The five services on a broker the test may restart, with a tenant."""
    p = Platform(database_url, private_broker.bootstrap, namespace, tmp_path, tenants=(tenant,))
    try:
        await p.start()
        yield p
    finally:
        await p.close()
