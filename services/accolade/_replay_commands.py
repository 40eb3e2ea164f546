"""`accolade replay` and `accolade apply --backfill`: the gateway's event archive streamed
to a service, through this command (services talk to each other only over Kafka)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import grpc

from accolade import _options, clients
from accolade.runtime.settings import SERVICE_PORTS
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import envelope_pb2
from accolade.v1 import gateway_service_pb2 as gw
from accolade.v1 import gateway_service_pb2_grpc as gw_grpc

# Only achievements keeps state a replay can rebuild so far.
REPLAYABLE = ("achievements",)


def connection(p: argparse.ArgumentParser) -> None:
    """Where the gateway is, beside the options naming the service."""
    p.add_argument("--gateway", help="the gateway's HOST:PORT (default: on --host)")


def target(args: argparse.Namespace, service: str, address: str | None) -> str:
    """Where `service` answers: `address` if given, else its port (shifted by
    --port-offset) on --host."""
    if address:
        return address
    return f"{args.host}:{SERVICE_PORTS[service][0] + args.port_offset}"


def gateway_target(args: argparse.Namespace) -> str:
    """The gateway's address, from --gateway or beside the service's host."""
    return target(args, "gateway", args.gateway)


async def archived(
    target: str,
    api_key: str,
    tenant: str,
    topics: Sequence[str],
    since: datetime | None = None,
) -> AsyncIterator[list[envelope_pb2.Envelope]]:
    """The tenant's archived events of `topics`, a page at a time."""
    request = gw.ExportEventsRequest(tenant_id=tenant, topics=topics)
    if since is not None:
        request.since.FromDatetime(since)
    async with clients.channel(target, api_key, clients.tls_from_env()) as channel:
        async for page in gw_grpc.GatewayServiceStub(channel).ExportEvents(request):
            yield [a.event for a in page.events]


def _progress(done: int) -> None:
    print(f"\r  {done} events sent", end="", file=sys.stderr, flush=True)


def replay(args: argparse.Namespace, target: str) -> int:
    """Replays a tenant's archive into the service at `target` and prints the report."""
    return asyncio.run(_replay(_options.api_key(args), args.tenant, gateway_target(args), target))


async def _replay(api_key: str, tenant: str, gateway: str, target: str) -> int:
    sent = 0

    async def requests() -> AsyncIterator[pb.ReplayRequest]:
        nonlocal sent
        yield pb.ReplayRequest(tenant_id=tenant)
        # The roster first, as the services had it before the activity they evaluated.
        for topics in (("roster",), ("activity", "feedback")):
            async for events in archived(gateway, api_key, tenant, topics):
                sent += len(events)
                _progress(sent)
                yield pb.ReplayRequest(events=events)

    try:
        async with clients.channel(target, api_key, clients.tls_from_env()) as channel:
            reply = await pb_grpc.AchievementsServiceStub(channel).Replay(requests())
    except grpc.aio.AioRpcError as exc:
        print(f"\naccolade: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    print(f"replayed {reply.events} events; compared {reply.compared} awards, levels and windows")
    if not reply.difference_count:
        print("no difference")
        return 0
    plural = "s" if reply.difference_count != 1 else ""
    print(f"{reply.difference_count} difference{plural}:")
    for d in reply.differences:
        print(f"  {d}")
    return 1


async def backfill(
    stub: pb_grpc.AchievementsServiceStub,
    gateway: str,
    api_key: str,
    tenant: str,
    badges: Sequence[str],
    since: datetime,
) -> pb.BackfillResponse:
    """Streams the archive since `since` to a backfill of `badges`."""
    sent = 0

    async def requests() -> AsyncIterator[pb.BackfillRequest]:
        nonlocal sent
        first = pb.BackfillRequest(tenant_id=tenant, badge_ids=badges)
        first.since.FromDatetime(since)
        yield first
        async for events in archived(gateway, api_key, tenant, ("activity", "feedback"), since):
            sent += len(events)
            _progress(sent)
            yield pb.BackfillRequest(events=events)

    reply: pb.BackfillResponse = await stub.Backfill(requests())
    print(file=sys.stderr)
    return reply
