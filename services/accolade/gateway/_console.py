"""The agent console's HTTP endpoints: the card's script, its snapshot and its live stream.

    GET /console/v1/card.js   the <accolade-agent-card> web component
    GET /console/v1/agent     the agent's badges, level, XP and progress, as JSON
    GET /console/v1/stream    the agent's notifications as server-sent events, resumable

The last two take `authorization: Bearer <token>` of an agent: an agent session token
(minted by `CreateAgentSession`) or an agent key. The snapshot's badges and progress
belong to achievements: the gateway asks it over gRPC with the caller's own token, so
achievements authorises the read itself and the gateway holds nothing of its data.
Every answer allows any origin (CORS): the card runs in the contact center's own page,
and a bearer token, not a cookie, carries who is calling.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import grpc
from google.protobuf import json_format

from accolade.gateway import _notifications
from accolade.gateway._watch import Hub
from accolade.runtime.auth import RECHECK_SECONDS
from accolade.runtime.http import Request, Response
from accolade.runtime.identity import AGENT, KeyRing, Principal
from accolade.runtime.metrics import Metrics
from accolade.v1 import achievements_service_pb2 as ach
from accolade.v1 import achievements_service_pb2_grpc as ach_grpc

log = logging.getLogger(__name__)

PREFIX = "/console/v1"
# A comment line on an idle stream this often, so proxies keep it and dead peers show.
HEARTBEAT_SECONDS = 15.0
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "authorization, last-event-id",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Max-Age": "600",
}
_CARD = resources.files("accolade.gateway").joinpath("console/card.js")


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status,
        json.dumps(body, ensure_ascii=False).encode(),
        {**CORS, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
    )


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


def _dict(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = json_format.MessageToDict(message)
    return out


class Console:
    """Answers the console's requests."""

    def __init__(
        self,
        ring: KeyRing,
        hub: Hub,
        pool: Any,
        achievements: ach_grpc.AchievementsServiceStub,
        metrics: Metrics,
    ) -> None:
        self._ring = ring
        self._hub = hub
        self._pool = pool
        self._achievements = achievements
        self._card = _CARD.read_bytes()
        self._requests = metrics.counter(
            "console_requests",
            "Agent console HTTP requests, by endpoint and status.",
            ("endpoint", "status"),
        )

    async def handle(self, request: Request) -> Response:
        # Only paths under the prefix are the console's endpoints (/healthz is matched
        # on the whole path).
        endpoint = request.path[len(PREFIX) :] if request.path.startswith(PREFIX + "/") else ""
        response = await self._route(endpoint, request)
        known = endpoint if endpoint in ("/card.js", "/agent", "/stream") else "other"
        self._requests.labels(known, str(response.status)).inc()
        return response

    async def _route(self, endpoint: str, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(204, headers=dict(CORS))
        if request.method != "GET":
            return _error(405, "only GET is served")
        if request.path == "/healthz":
            return _json(200, {"status": "ok"})
        if endpoint == "/card.js":
            return Response(
                200,
                self._card,
                {
                    **CORS,
                    "Content-Type": "text/javascript; charset=utf-8",
                    "Cache-Control": "public, max-age=300",
                },
            )
        if endpoint not in ("/agent", "/stream"):
            return _error(404, f"no such endpoint {request.path!r}")
        caller = self._authenticate(request)
        if isinstance(caller, Response):
            return caller
        principal, token = caller
        if endpoint == "/agent":
            return await self._snapshot(principal, token)
        return await self._stream(principal, token, request)

    def _authenticate(self, request: Request) -> tuple[Principal, str] | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "no token: send authorization: Bearer <agent session token>")
        principal = self._ring.authenticate(token.strip())
        if principal is None:
            if not self._ring.loaded:
                return _error(503, "the gateway is still loading its keys; retry")
            return _error(401, "the token is not valid (unknown, expired or revoked)")
        if principal.role != AGENT:
            return _error(403, "the console takes an agent session token or an agent key")
        return principal, token.strip()

    async def _snapshot(self, principal: Principal, token: str) -> Response:
        """The agent's state now, and the notification sequence it includes: the card
        streams from there, so nothing falls between the snapshot and the stream."""
        async with self._pool.acquire() as conn:
            sequence = await _notifications.latest(conn, principal.tenant_id, principal.agent_id)
        metadata = (("authorization", f"Bearer {token}"),)
        who = {"tenant_id": principal.tenant_id, "agent_id": principal.agent_id}
        try:
            badges, progress = await asyncio.gather(
                self._achievements.ListAgentBadges(
                    ach.ListAgentBadgesRequest(**who), metadata=metadata, timeout=5
                ),
                self._achievements.GetAgentProgress(
                    ach.GetAgentProgressRequest(**who), metadata=metadata, timeout=5
                ),
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("console snapshot failed", extra={"code": exc.code().name})
            if exc.code() is grpc.StatusCode.UNAUTHENTICATED:
                # Achievements has not read the token's tenant or minter yet: retry shortly.
                return _error(503, "the token is not known everywhere yet; retry")
            return _error(503, f"achievements did not answer ({exc.code().name}); retry")
        return _json(
            200,
            {
                "tenantId": principal.tenant_id,
                "agentId": principal.agent_id,
                "sequence": sequence,
                "xp": progress.xp,
                "level": progress.level,
                "levelName": progress.level_name,
                "nextLevelXp": progress.next_level_xp,
                "badges": [_dict(b) for b in badges.badges],
                "progress": [_dict(p) for p in progress.badges],
            },
        )

    async def _stream(self, principal: Principal, token: str, request: Request) -> Response:
        """Server-sent events: each notification is `id: <sequence>`, `event:
        notification` and the envelope in protobuf's JSON mapping. It resumes after the
        Last-Event-ID header (or the `after` parameter); without either it is live only."""
        resume = request.headers.get("last-event-id") or request.query.get("after")
        after: int | None = None
        if resume is not None:
            if not resume.isdigit():
                return _error(400, "after (or Last-Event-ID) must be a notification sequence")
            after = int(resume)
        return Response(
            200,
            headers={
                **CORS,
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            },
            stream=self._events(principal, token, after),
        )

    async def _events(
        self, principal: Principal, token: str, after: int | None
    ) -> AsyncIterator[bytes]:
        async with self._hub.watch(principal.tenant_id, principal.agent_id, after) as queue:
            yield b": live\n\n"  # the headers and a first line at once: the card knows it is up
            loop = asyncio.get_running_loop()
            ping = loop.time() + HEARTBEAT_SECONDS
            while True:
                idle = False
                try:
                    item = await asyncio.wait_for(queue.get(), RECHECK_SECONDS)
                except TimeoutError:
                    item, idle = None, True
                if self._ring.authenticate(token) is None:
                    # Revoked or expired: end it, before sending anything more; the card's
                    # reconnect is refused (401) and it asks its page for a new session.
                    return
                if idle:
                    if loop.time() >= ping:
                        yield b": ping\n\n"
                        ping = loop.time() + HEARTBEAT_SECONDS
                    continue
                if item is None:
                    # The stream fell behind; the card reconnects with its last id.
                    yield b"event: behind\ndata: {}\n\n"
                    return
                sequence, envelope = item
                data = json.dumps(_dict(envelope), ensure_ascii=False)
                yield f"id: {sequence}\nevent: notification\ndata: {data}\n\n".encode()
