"""A small HTTP/1.1 server on asyncio, for the agent console and its sample host page.

It answers GET and OPTIONS requests without bodies, one request per connection
(`Connection: close`), with either a whole body or a stream of chunks that ends when the
handler's iterator does or the client goes away. That is all the console needs (a
script, a JSON snapshot and an event stream), so the gateway takes no web framework as
a dependency for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

# The most a request's line and headers may take, and how long they may take to arrive.
MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    # Header names in lower case.
    headers: dict[str, str]


@dataclasses.dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # When set, the body is these chunks, sent as they come (no Content-Length).
    stream: AsyncIterator[bytes] | None = None


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """The request cannot be read; answered 400 (or the status given)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_head(head: bytes) -> Request:
    """The request a request line and headers make (`head` ends with CRLF CRLF)."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError as exc:
        raise BadRequest("malformed request line") from exc
    if not version.startswith("HTTP/1."):
        raise BadRequest("only HTTP/1.x is served", 505)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header")
        headers[name.lower()] = value.strip()
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        raise BadRequest("requests with a body are not served", 413)
    url = urlsplit(target)
    return Request(method, url.path, dict(parse_qsl(url.query)), headers)


class HttpServer:
    """Serves `handler` on host:port until closed; `start` returns the port bound."""

    def __init__(
        self, handler: Handler, host: str, port: int, tls: ssl.SSLContext | None = None
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._accept, self._host, self._port, ssl=self._tls, limit=MAX_HEAD
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stops listening and ends every open connection (streams included)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # always, in a connection's callback
            self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            request = parse_head(head)
        except (asyncio.LimitOverrunError, ValueError):
            return await _write(writer, Response(431, b"request head too large\n"))
        except TimeoutError:
            return await _write(writer, Response(408, b"request head too slow\n"))
        except BadRequest as exc:
            return await _write(writer, Response(exc.status, f"{exc}\n".encode()))
        try:
            response = await self._handler(request)
        except Exception:
            log.exception("console request failed", extra={"path": request.path})
            response = Response(500, b"internal error\n")
        await _write(writer, response)
        if response.stream is not None:
            await _stream(reader, writer, response.stream)


async def _write(writer: asyncio.StreamWriter, response: Response) -> None:
    reason = HTTPStatus(response.status).phrase
    headers = {"Connection": "close", **response.headers}
    if response.stream is None:
        headers["Content-Length"] = str(len(response.body))
    head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    writer.write(head.encode("latin-1") + b"\r\n" + response.body)
    await writer.drain()


async def _stream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks: AsyncIterator[bytes]
) -> None:
    """Sends chunks until they end, or until the client closes its side."""

    async def send() -> None:
        async for chunk in chunks:
            writer.write(chunk)
            await writer.drain()

    sending = asyncio.create_task(send())
    gone = asyncio.create_task(reader.read())  # a client sends nothing more: EOF when it leaves
    try:
        await asyncio.wait((sending, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, gone):
            task.cancel()
        await asyncio.gather(sending, gone, return_exceptions=True)
        with contextlib.suppress(Exception):
            await chunks.aclose()  # type: ignore[attr-defined]
