"""Per-tenant rate limits: token buckets, a tenant's own limits, and the answer callers get."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_status import rpc_status

from accolade.runtime.auth import access, scope
from accolade.runtime.errors import PermissionDenied, RateLimited
from accolade.runtime.identity import AGENT, KeyRing, Principal
from accolade.runtime.limits import INTAKE, READ, Limiter
from accolade.testing import interaction
from accolade.v1 import achievements_service_pb2 as ach
from accolade.v1 import envelope_pb2
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tenant(ring: KeyRing, tenant_id: str, *, intake: float = 0, reads: float = 0) -> None:
    e = envelope_pb2.Envelope(tenant_id=tenant_id)
    e.tenant_changed.version = 1
    e.tenant_changed.intake_per_second = intake
    e.tenant_changed.reads_per_second = reads
    ring.apply(e)


def test_a_bucket_admits_a_seconds_worth_then_refills_at_its_rate() -> None:
    clock, ring = Clock(), KeyRing()
    limiter = Limiter(ring, {INTAKE: 100, READ: 0}, clock)
    limiter.take("acme", INTAKE, 60)
    limiter.take("acme", INTAKE, 40)
    with pytest.raises(RateLimited) as caught:
        limiter.take("acme", INTAKE, 10)
    assert caught.value.retry_after == pytest.approx(0.1)
    clock.now += 0.1
    limiter.take("acme", INTAKE, 10)  # refilled: 10 tokens in 0.1 s
    limiter.take("globex", INTAKE, 100)  # each tenant has its own bucket
    for _ in range(1000):
        limiter.take("acme", READ)  # no read limit by default
    # A request larger than a second's worth waits for a full bucket, then goes.
    clock.now += 5
    limiter.take("acme", INTAKE, 500)
    with pytest.raises(RateLimited):
        limiter.take("acme", INTAKE, 1)


def test_a_tenants_own_limits_override_the_default() -> None:
    clock, ring = Clock(), KeyRing()
    limiter = Limiter(ring, {INTAKE: 100, READ: 10}, clock)
    tenant(ring, "acme", intake=1000, reads=2)
    limiter.take("acme", INTAKE, 1000)
    limiter.take("acme", READ)
    limiter.take("acme", READ)
    with pytest.raises(RateLimited):
        limiter.take("acme", READ)
    assert limiter.rate("globex", READ) == 10


async def test_over_the_limit_is_resource_exhausted_with_when_to_retry(start_service) -> None:
    gateway = await start_service("gateway", rate_limit_intake_per_second=10.0)
    stub = pb_grpc.GatewayServiceStub(gateway.channel)

    await stub.PublishEvents(pb.PublishEventsRequest(events=[interaction("acme", "a1")] * 1))
    await stub.PublishEvents(
        pb.PublishEventsRequest(events=[interaction("acme", f"a{i}") for i in range(8)])
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.PublishEvents(
            pb.PublishEventsRequest(events=[interaction("acme", f"b{i}") for i in range(5)])
        )
    # Another tenant is not held back by acme's traffic.
    await stub.PublishEvents(pb.PublishEventsRequest(events=[interaction("globex", "a1")]))

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(caught.value)
    assert status is not None and status.code == code_pb2.RESOURCE_EXHAUSTED
    (detail,) = status.details
    retry = error_details_pb2.RetryInfo()
    assert detail.Unpack(retry)
    assert 0 < retry.retry_delay.ToMilliseconds() <= 1000


async def test_a_call_refused_for_its_scope_costs_nothing() -> None:
    clock, ring = Clock(), KeyRing()
    limiter = Limiter(ring, {INTAKE: 0, READ: 1}, clock)
    agent = Principal("acme", AGENT, "k1", agent_id="a1")
    rule = access(AGENT, agent="agent_id")

    with pytest.raises(PermissionDenied):
        await scope(agent, rule, ach.ListAgentBadgesRequest(agent_id="a2"), None, limiter)
    # The one read a second is still there for the agent's own data.
    await scope(agent, rule, ach.ListAgentBadgesRequest(agent_id="a1"), None, limiter)
    with pytest.raises(RateLimited):
        await scope(agent, rule, ach.ListAgentBadgesRequest(agent_id="a1"), None, limiter)
