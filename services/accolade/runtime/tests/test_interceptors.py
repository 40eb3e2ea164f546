"""The service interceptor on a real gRPC server: request ids, status codes and metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from accolade import clients
from accolade.runtime import identity
from accolade.runtime.auth import access
from accolade.runtime.errors import InvalidArgument, NotFound
from accolade.runtime.identity import KeyRing
from accolade.runtime.interceptors import ServiceInterceptor, bad_request_violations
from accolade.runtime.metrics import Metrics
from accolade.v1 import envelope_pb2, events_pb2

SERVICE = "accolade.test.v1.ProbeService"


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotFound("board_id: no board 'weekly'")


async def denied(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not your tenant")
    raise AssertionError("abort returned")


async def crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("password=hunter2")  # a message that must not reach the caller


async def listing(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield b"one"
    yield b"two"
    raise InvalidArgument([("page_token", "is stale"), ("page_size", "must be at most 100")])


class Probe:
    def __init__(
        self, channel: grpc.aio.Channel, metrics: Metrics, ring: KeyRing, address: str
    ) -> None:
        self.channel = channel
        self.metrics = metrics
        self.ring = ring
        self.address = address

    def unary(self, method: str, service: str = SERVICE) -> grpc.aio.UnaryUnaryMultiCallable:
        return self.channel.unary_unary(f"/{service}/{method}")

    def counted(self, method: str) -> dict[str, float]:
        """RPCs of `method` counted so far, by status code."""
        return {
            s.labels["code"]: s.value
            for family in self.metrics.registry.collect()
            for s in family.samples
            if s.name == "accolade_probe_rpc_requests_total" and s.labels["method"] == method
        }


def known_key(ring: KeyRing, role: int) -> str:
    """Puts a new key of tenant acme in `ring`, as the identity topic would; its token."""
    made = identity.new_key()
    changed = events_pb2.ApiKeyChanged(
        key_id=made.key_id,
        role=role,  # type: ignore[arg-type]
        secret_sha256=made.secret_sha256,
    )
    ring.apply(identity.message("acme", str(uuid.uuid4()), api_key_changed=changed))
    return made.token


@pytest.fixture
async def probe() -> AsyncIterator[Probe]:
    metrics = Metrics.create("probe")
    ring = KeyRing()
    ring.loaded = True
    # The probe's requests are raw bytes: no tenant fields; Echo is for integration keys.
    rules = {m: access(tenant=()) for m in ("Missing", "Denied", "Crash", "List")}
    rules["Echo"] = access(identity.INTEGRATION, tenant=())
    server = grpc.aio.server(interceptors=[ServiceInterceptor(metrics, ring, rules)])
    unary = grpc.unary_unary_rpc_method_handler
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Echo": unary(echo),
                    "Missing": unary(missing),
                    "Denied": unary(denied),
                    "Crash": unary(crash),
                    "List": grpc.unary_stream_rpc_method_handler(listing),
                },
            ),
            # Outside the "/accolade." prefix, like health and reflection: left alone.
            grpc.method_handlers_generic_handler("grpc.other.v1.Plain", {"Echo": unary(echo)}),
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = clients.channel(f"127.0.0.1:{port}", known_key(ring, identity.ADMIN))
    try:
        yield Probe(channel, metrics, ring, f"127.0.0.1:{port}")
    finally:
        await channel.close()
        await server.stop(None)


async def test_the_callers_request_id_comes_back_and_one_is_made_when_absent(probe: Probe) -> None:
    given = probe.unary("Echo")(b"hi", metadata=(("x-request-id", "req-1"),))
    assert await given == b"hi"
    made = probe.unary("Echo")(b"hi")
    await made

    assert ("x-request-id", "req-1") in tuple(await given.trailing_metadata())
    generated = dict(tuple(await made.trailing_metadata()))["x-request-id"]
    assert str(uuid.UUID(generated)) == generated


@pytest.mark.parametrize("method", ["Missing", "Denied", "Crash"])
async def test_failed_calls_keep_the_request_id(probe: Probe, method: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.unary(method)(b"", metadata=(("x-request-id", "req-2"),))

    assert ("x-request-id", "req-2") in tuple(caught.value.trailing_metadata())


@pytest.mark.parametrize(
    ("method", "code", "details"),
    [
        ("Missing", grpc.StatusCode.NOT_FOUND, "board_id: no board 'weekly'"),
        ("Denied", grpc.StatusCode.PERMISSION_DENIED, "not your tenant"),
        ("Crash", grpc.StatusCode.INTERNAL, "internal error; request id req-3"),
    ],
)
async def test_errors_become_status_codes_and_are_counted_by_code(
    probe: Probe, method: str, code: grpc.StatusCode, details: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.unary(method)(b"", metadata=(("x-request-id", "req-3"),))
    await probe.unary("Echo")(b"")

    assert (caught.value.code(), caught.value.details()) == (code, details)
    assert probe.counted(method) == {code.name: 1}
    assert probe.counted("Echo") == {"OK": 1}


async def test_a_stream_that_fails_midway_delivers_its_items_then_bad_request_details(
    probe: Probe,
) -> None:
    call = probe.channel.unary_stream(f"/{SERVICE}/List")(b"")
    received = []

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for item in call:
            received.append(item)

    assert received == [b"one", b"two"]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_violations(caught.value) == [
        ("page_token", "is stale"),
        ("page_size", "must be at most 100"),
    ]
    assert probe.counted("List") == {"INVALID_ARGUMENT": 1}


async def test_methods_outside_accolade_are_not_wrapped(probe: Probe) -> None:
    call = probe.unary("Echo", service="grpc.other.v1.Plain")(b"hi")

    assert await call == b"hi"
    assert "x-request-id" not in dict(tuple(await call.trailing_metadata()))
    assert probe.counted("Echo") == {}


async def test_a_call_needs_a_known_key_of_a_role_the_method_allows(probe: Probe) -> None:
    async def code(key: str | None, method: str = "Echo") -> grpc.StatusCode:
        metadata = clients.bearer(key) if key is not None else ()
        try:
            await bare.unary_unary(f"/{SERVICE}/{method}")(b"hi", metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    bare = grpc.aio.insecure_channel(probe.address)  # no key unless the call gives one

    integration = known_key(probe.ring, identity.INTEGRATION)
    agent = known_key(probe.ring, identity.AGENT)
    revoked = known_key(probe.ring, identity.INTEGRATION)
    e = envelope_pb2.Envelope(tenant_id="acme")
    e.api_key_changed.key_id = identity.key_id_of(revoked) or ""
    e.api_key_changed.revoked_at.GetCurrentTime()
    probe.ring.apply(e)
    forged = integration[:-4] + ("AAAA" if not integration.endswith("AAAA") else "BBBB")

    assert await code(integration) is grpc.StatusCode.OK
    assert await code(agent) is grpc.StatusCode.PERMISSION_DENIED
    assert await code(integration, "List") is grpc.StatusCode.PERMISSION_DENIED  # admin only
    for bad in (None, "", "acc_nothing", forged, revoked):
        assert await code(bad) is grpc.StatusCode.UNAUTHENTICATED, bad
    # A revocation is final: the key's older message read again does not undo it.
    again = envelope_pb2.Envelope(tenant_id="acme")
    again.api_key_changed.key_id = identity.key_id_of(revoked) or ""
    probe.ring.apply(again)
    assert await code(revoked) is grpc.StatusCode.UNAUTHENTICATED
    # Before a service has read its keys, it asks callers to retry rather than refusing.
    probe.ring.loaded = False
    assert await code(forged) is grpc.StatusCode.UNAVAILABLE
    await bare.close()
