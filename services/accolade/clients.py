"""Channels to the services that carry an API key on every call."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import grpc

# Picks the key of one call from its request (None for a stream of requests).
KeyFor = Callable[[Any], str]


def bearer(key: str) -> tuple[tuple[str, str]]:
    """The call metadata that presents `key`."""
    return (("authorization", f"Bearer {key}"),)


class _Bearer:
    """Adds `authorization: Bearer <key>` to every call that does not carry one already."""

    def __init__(self, key: KeyFor) -> None:
        self._key = key

    def details(self, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        metadata = list(details.metadata or ())
        if not any(k == "authorization" for k, _ in metadata):
            metadata.extend(bearer(self._key(request)))
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*metadata),
            details.credentials,
            details.wait_for_ready,
        )


# grpc.aio files each interceptor under the first kind of call it is for, so each kind
# needs an interceptor of its own.
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self.details(details, request), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self.details(details, request), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self.details(details, None), requests)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self.details(details, None), requests)


def interceptors(key: str | KeyFor) -> list[Any]:
    """Client interceptors that present `key` (or the key `key` picks) on every call."""
    pick: KeyFor = (lambda _request: key) if isinstance(key, str) else key
    return [kind(pick) for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]


def channel(
    address: str, key: str | KeyFor, tls: grpc.ChannelCredentials | None = None
) -> grpc.aio.Channel:
    """A channel to `address` whose calls present `key`: over TLS with `tls` (see
    `tls_from_env`), else plaintext."""
    if tls is None:
        return grpc.aio.insecure_channel(address, interceptors=interceptors(key))
    return grpc.aio.secure_channel(address, tls, interceptors=interceptors(key))


def tls_from_env(env: Mapping[str, str] = os.environ) -> grpc.ChannelCredentials | None:
    """TLS credentials as the environment asks: ACCOLADE_TLS_CA_FILE names the CA bundle
    that signed the services' certificates; ACCOLADE_TLS=1 trusts the system's CAs.
    Neither: None (plaintext)."""
    if ca_file := env.get("ACCOLADE_TLS_CA_FILE", "").strip():
        try:
            with open(ca_file, "rb") as file:
                roots = file.read()
        except OSError as exc:
            raise SystemExit(
                f"accolade: ACCOLADE_TLS_CA_FILE: cannot read {ca_file} ({exc.strerror})"
            ) from None
        return grpc.ssl_channel_credentials(root_certificates=roots)
    if env.get("ACCOLADE_TLS", "").strip() in ("1", "true", "yes"):
        return grpc.ssl_channel_credentials()
    return None
