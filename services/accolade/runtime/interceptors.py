"""Server interceptors: request ids, metrics and the mapping of errors to gRPC status."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from accolade.runtime import auth
from accolade.runtime.errors import (
    AccoladeError,
    InvalidArgument,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from accolade.runtime.faults import environment_fault
from accolade.runtime.identity import KeyRing, Principal
from accolade.runtime.limits import Limiter
from accolade.runtime.logs import correlation_id
from accolade.runtime.metrics import Metrics

log = logging.getLogger(__name__)

REQUEST_ID = "x-request-id"
AUTHORIZATION = "authorization"
_BEARER = "bearer "


class _Status(grpc.Status):  # type: ignore[misc]
    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        trailing_metadata: tuple[tuple[str, str | bytes], ...],
    ) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def _status_for(exc: AccoladeError, request_id: str) -> grpc.Status:
    detail = status_pb2.Status(code=exc.code.value[0], message=str(exc))
    if isinstance(exc, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in exc.violations
            ]
        )
        detail.details.add().Pack(bad)
    if isinstance(exc, RateLimited):
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(max(1, int(exc.retry_after * 1000)))
        detail.details.add().Pack(retry)
    status = rpc_status.to_status(detail)
    # The status replaces the trailing metadata, so the request id goes in again.
    return _Status(
        status.code, status.details, (*status.trailing_metadata, (REQUEST_ID, request_id))
    )


class _Call:
    """Measures one RPC and turns what it raised into a status."""

    def __init__(self, metrics: Metrics, method: str, context: grpc.aio.ServicerContext) -> None:
        self.metrics = metrics
        self.method = method
        self.context = context
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        incoming = dict(context.invocation_metadata() or ())
        self.authorization = incoming.get(AUTHORIZATION)
        self.request_id = str(incoming.get(REQUEST_ID) or uuid.uuid4())
        self.token = correlation_id.set(self.request_id)
        context.set_trailing_metadata(((REQUEST_ID, self.request_id),))

    async def fail(self, exc: BaseException) -> None:
        if isinstance(exc, AccoladeError):
            self.code = exc.code
            await self.context.abort_with_status(_status_for(exc, self.request_id))
        if (reason := environment_fault(exc)) is not None:
            # The database or broker failed, not the request: the caller may retry it.
            self.code = grpc.StatusCode.UNAVAILABLE
            log.warning(
                "%s failed on the environment",
                self.method,
                extra={"reason": reason, "error": repr(exc)},
            )
            await self.context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"temporarily unavailable ({reason}); retry; request id {self.request_id}",
            )
        self.code = grpc.StatusCode.INTERNAL
        log.exception("unhandled error in %s", self.method)
        await self.context.abort(
            grpc.StatusCode.INTERNAL, f"internal error; request id {self.request_id}"
        )

    def authenticate(self, ring: KeyRing) -> Principal:
        """The caller, from the `authorization: Bearer <key>` metadata."""
        value = self.authorization
        if not isinstance(value, str) or not value[: len(_BEARER)].lower() == _BEARER:
            raise Unauthenticated("no key: send the metadata authorization: Bearer <api key>")
        principal = ring.authenticate(value[len(_BEARER) :].strip())
        if principal is None:
            if not ring.loaded:
                raise Unavailable("the service is still loading its keys; retry")
            raise Unauthenticated("the key is not valid (unknown, malformed or revoked)")
        return principal

    def finish(self) -> None:
        correlation_id.reset(self.token)
        code = self.context.code()
        if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
            self.code = code
        self.metrics.rpc_requests.labels(self.method, self.code.name).inc()
        self.metrics.rpc_duration.labels(self.method).observe(time.perf_counter() - self.started)


class ServiceInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps the methods of Accolade's own services (not health or reflection).

    Every call is authenticated and authorised first (see `runtime/auth.py`), by the
    `Access` its service declares for it; a method without one is refused.
    """

    def __init__(
        self,
        metrics: Metrics,
        ring: KeyRing,
        rules: dict[str, auth.Access],
        team_of: auth.TeamOf | None = None,
        prefix: str = "/accolade.",
        limiter: Limiter | None = None,
    ) -> None:
        self._limiter = limiter
        self._metrics = metrics
        self._ring = ring
        self._rules = rules
        self.team_of = team_of
        self._prefix = prefix
        # The wrapped handler of each method, made once: the services' handlers are fixed.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self._prefix):
            return handler
        wrapped = self._wrap(details.method, handler)
        self._wrapped[details.method] = wrapped
        return wrapped

    def _wrap(self, path: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        method = path.rsplit("/", 1)[-1]
        metrics = self._metrics
        ring = self._ring
        rule = self._rules.get(method, auth.NOBODY)

        async def admit(call: _Call, request: Any, requests_stream: bool) -> Any:
            """The request (or stream of requests) once the caller may make it: the role is
            checked once, the scope of every request."""
            principal = call.authenticate(ring)
            auth.check_role(principal, method, rule)
            auth.caller.set(principal)  # the call's own task: it ends with the call
            auth.credential.set(str(call.authorization)[len(_BEARER) :].strip())
            if not requests_stream:
                await auth.scope(principal, rule, request, self.team_of, self._limiter)
                return request

            token = auth.credential.get()

            async def checked() -> AsyncIterator[Any]:
                async for r in request:
                    auth.still_admitted(ring, token)  # a key revoked mid-stream stops here
                    await auth.scope(principal, rule, r, self.team_of, self._limiter)
                    yield r

            return checked()

        def answering(
            inner: Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]],
            requests_stream: bool,
        ) -> Any:
            """Wraps a method that answers once: a request or a stream of requests in."""

            async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
                call = _Call(metrics, method, context)
                try:
                    request = await admit(call, request, requests_stream)
                    return await inner(request, context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every error becomes a status here
                    await call.fail(exc)
                finally:
                    call.finish()

            return answer

        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                answering(handler.unary_unary, requests_stream=False),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                answering(handler.stream_unary, requests_stream=True),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        def streaming(
            inner: Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]],
            requests_stream: bool,
        ) -> Any:
            """Wraps a method that answers with a stream: a request or a stream in."""

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                call = _Call(metrics, method, context)
                try:
                    request = await admit(call, request, requests_stream)
                    async for item in inner(request, context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every error becomes a status here
                    await call.fail(exc)
                finally:
                    call.finish()

            return stream

        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                streaming(handler.unary_stream, requests_stream=False),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                streaming(handler.stream_stream, requests_stream=True),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        raise TypeError(f"{path}: a kind of method the interceptor does not know")


def bad_request_violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The (field, description) pairs in an INVALID_ARGUMENT error's details, for clients."""
    status = rpc_status.from_call(error)
    if status is None or status.code != code_pb2.INVALID_ARGUMENT:
        return []
    found: list[tuple[str, str]] = []
    for packed in status.details:
        bad = error_details_pb2.BadRequest()
        if packed.Unpack(bad):
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found
