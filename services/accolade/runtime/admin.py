"""Operations that prepare the shared infrastructure: schemas and topics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg

from accolade.runtime import db, kafka
from accolade.runtime.server import migrations_for
from accolade.runtime.service import ServiceDefinition
from accolade.runtime.settings import Settings

log = logging.getLogger(__name__)


async def migrate(database_url: str, definitions: Sequence[ServiceDefinition]) -> dict[str, int]:
    """Brings each service's schema up to date; returns how many migrations each applied."""
    conn = await asyncpg.connect(database_url)
    try:
        applied = {}
        for d in definitions:
            applied[d.name] = await db.migrate(conn, d.name, migrations_for(d))
            log.info("schema up to date", extra={"schema": d.name, "applied": applied[d.name]})
        return applied
    finally:
        await conn.close()


async def create_topics(settings: Settings, definitions: Sequence[ServiceDefinition]) -> None:
    """Creates the shared topics and every consumer's dead-letter topic."""
    dead_letters = [
        settings.topics.dead_letter(f"{d.name}.{c.name}") for d in definitions for c in d.consumers
    ]
    await kafka.ensure_topics(settings, dead_letters)
