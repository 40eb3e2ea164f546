"""Fan-out of agents' notifications to their live streams, resumable by sequence."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping

import asyncpg

from accolade.gateway import _notifications
from accolade.runtime.metrics import Metrics
from accolade.v1 import envelope_pb2

log = logging.getLogger(__name__)

# An item of a stream's queue: (sequence, envelope), or None when the stream fell behind.
Item = tuple[int, envelope_pb2.Envelope] | None
Queue = asyncio.Queue[Item]


@dataclasses.dataclass(eq=False, slots=True)
class Watcher:
    """One open stream: where it is, and what is waiting to be sent on it."""

    queue: Queue
    last: int  # the last sequence handed to the stream
    ended: bool = False  # fell behind: it ends, and is given nothing more


class Hub:
    """Hands each agent's stored notifications to the streams watching that agent.

    The `notifications` consumer (any replica's) stores each notification with the
    agent's next sequence and wakes every replica's hub with a `pg_notify` at commit.
    The hub then reads, for every agent watched here, what comes after the last sequence
    its streams were given, and queues it: in sequence order, none twice, none skipped
    (an agent's sequences commit in order, under a row lock). It also reads every
    `poll_seconds`, so a lost notification only delays delivery.

    `run` holds one pooled connection that LISTENs; it is `ready` only while it does.
    The runtime supervises it: if it fails it starts again, and streams continue from
    where they were.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: Metrics,
        *,
        queue_size: int = 256,
        poll_seconds: float = 0.5,
    ) -> None:
        self._pool = pool
        self._delivered = metrics.counter(
            "notifications_delivered", "Notifications handed to agents' streams."
        )
        self._watched = metrics.gauge(
            "watched_agents", "Agents with at least one open stream on this replica."
        )
        self._queue_size = queue_size
        self._poll_seconds = poll_seconds
        self._watchers: dict[tuple[str, str], set[Watcher]] = defaultdict(set)
        self._wake = asyncio.Event()
        self.ready = False

    async def run(self) -> None:
        """Delivers until cancelled; raises when reading the store fails."""
        self.ready = False
        async with self._pool.acquire() as conn:
            await conn.add_listener(_notifications.CHANNEL, self._on_notify)
            try:
                self.ready = True
                while True:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                    self._wake.clear()
                    await self.deliver(conn)
            finally:
                self.ready = False
                with contextlib.suppress(Exception):
                    await conn.remove_listener(_notifications.CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def deliver(self, conn: asyncpg.Connection) -> None:
        """Queues what each watched agent's streams have not been given yet."""
        wanted = [
            (t, a, min(w.last for w in live))
            for (t, a), ws in self._watchers.items()
            if (live := [w for w in ws if not w.ended])
        ]
        if not wanted:
            return
        rows = await _notifications.after(conn, wanted)
        per_agent: dict[tuple[str, str], int] = defaultdict(int)
        for tenant, agent, sequence, envelope in rows:
            per_agent[(tenant, agent)] += 1
            self.publish(tenant, agent, sequence, envelope)
        if any(n >= _notifications.PAGE for n in per_agent.values()):
            self._wake.set()  # more to read for some agent

    def publish(
        self, tenant: str, agent: str, sequence: int, envelope: envelope_pb2.Envelope
    ) -> None:
        """Hands one notification to every stream of its agent that has not had it."""
        for w in list(self._watchers.get((tenant, agent), ())):
            if w.ended or sequence <= w.last:
                continue
            try:
                w.queue.put_nowait((sequence, envelope))
                w.last = sequence
                self._delivered.inc()
            except asyncio.QueueFull:
                # End a stream that fell behind rather than hold up everyone else's; it
                # resumes from its last sequence when the client reconnects.
                with contextlib.suppress(asyncio.QueueEmpty):
                    w.queue.get_nowait()
                w.queue.put_nowait(None)
                w.ended = True

    @contextlib.asynccontextmanager
    async def group(self, tenant_id: str) -> AsyncIterator[Group]:
        """One queue receiving the notifications of a changing set of the tenant's agents
        (a team's), while the context is open; `Group.follow` sets the agents."""
        group = Group(self, tenant_id, asyncio.Queue(self._queue_size))
        try:
            yield group
        finally:
            await group.follow((), {})

    def _add(self, key: tuple[str, str], watcher: Watcher) -> None:
        self._watchers[key].add(watcher)
        self._watched.set(len(self._watchers))
        self._wake.set()  # what it missed, at once

    def _remove(self, key: tuple[str, str], watcher: Watcher) -> None:
        self._watchers[key].discard(watcher)
        if not self._watchers[key]:
            del self._watchers[key]
        self._watched.set(len(self._watchers))

    @contextlib.asynccontextmanager
    async def watch(self, tenant_id: str, agent_id: str, after: int | None) -> AsyncIterator[Queue]:
        """A queue receiving the agent's notifications after `after` (from now on when
        None) while the context is open."""
        if after is None:
            async with self._pool.acquire() as conn:
                after = await _notifications.latest(conn, tenant_id, agent_id)
        watcher = Watcher(asyncio.Queue(self._queue_size), after)
        key = (tenant_id, agent_id)
        self._add(key, watcher)
        try:
            yield watcher.queue
        finally:
            self._remove(key, watcher)


@dataclasses.dataclass(eq=False, slots=True)
class Group:
    """Streams of several agents into one queue: a watcher per agent, sharing it."""

    hub: Hub
    tenant_id: str
    queue: Queue
    watchers: dict[str, Watcher] = dataclasses.field(default_factory=dict)

    async def follow(self, agents: Iterable[str], after: Mapping[str, int]) -> None:
        """Follows exactly `agents` from now on: a new one after its sequence in `after`,
        else from its latest; the others keep their place; agents no longer listed stop."""
        wanted = set(agents)
        for agent in set(self.watchers) - wanted:
            self.hub._remove((self.tenant_id, agent), self.watchers.pop(agent))
        new = sorted(wanted - set(self.watchers))
        if not new:
            return
        live = [a for a in new if a not in after]
        latest: dict[str, int] = {}
        if live:
            async with self.hub._pool.acquire() as conn:
                latest = await _notifications.latest_many(conn, self.tenant_id, live)
        for agent in new:
            watcher = Watcher(self.queue, after.get(agent, latest.get(agent, 0)))
            self.watchers[agent] = watcher
            self.hub._add((self.tenant_id, agent), watcher)
