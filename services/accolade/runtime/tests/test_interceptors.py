"""The service interceptor on a real gRPC server: request ids, status codes and metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from accolade.runtime.errors import InvalidArgument, NotFound
from accolade.runtime.interceptors import ServiceInterceptor, bad_request_violations
from accolade.runtime.metrics import Metrics

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
    def __init__(self, channel: grpc.aio.Channel, metrics: Metrics) -> None:
        self.channel = channel
        self.metrics = metrics

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


@pytest.fixture
async def probe() -> AsyncIterator[Probe]:
    metrics = Metrics.create("probe")
    server = grpc.aio.server(interceptors=[ServiceInterceptor(metrics)])
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
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Probe(channel, metrics)
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
