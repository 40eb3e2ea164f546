"""What every service that keeps a copy of the roster reads from the roster topic."""

from __future__ import annotations

from collections.abc import Iterable

from accolade.v1 import envelope_pb2, events_pb2


def latest_entries(
    events: Iterable[envelope_pb2.Envelope],
) -> dict[tuple[str, str], events_pb2.AgentUpdated]:
    """The newest version of each (tenant, agent)'s roster entry among `events`.

    Versions only grow, so a copy that stores an entry only over an older version is
    never set back by an old entry arriving late (a replay, say).
    """
    latest: dict[tuple[str, str], events_pb2.AgentUpdated] = {}
    for e in events:
        if e.WhichOneof("payload") != "agent_updated":
            continue  # other roster facts (teams, sites) are not kept yet
        key = (e.tenant_id, e.agent_id)
        held = latest.get(key)
        if held is None or held.version < e.agent_updated.version:
            latest[key] = e.agent_updated
    return latest
