"""What a service declares about itself; the runtime does the rest."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import grpc
from aiokafka import AIOKafkaProducer

from accolade.runtime.consumer import Handler
from accolade.runtime.metrics import Metrics
from accolade.runtime.settings import Settings

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Context:
    """The resources the runtime opened for a service, handed to its domain code."""

    settings: Settings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    metrics: Metrics
    stack: contextlib.AsyncExitStack
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    # Extra conditions for SERVING besides the database and broker answering.
    ready_checks: list[Callable[[], bool]] = dataclasses.field(default_factory=list)

    def topic(self, name: str) -> str:
        """The configured name of a logical topic such as "activity"."""
        return self.settings.topics.topic(name)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Runs `coro` for the life of the service; it is cancelled at shutdown."""
        self.tasks.append(asyncio.create_task(coro, name=name))

    def on_exit(self, what: str, close: Callable[[], Awaitable[object]]) -> None:
        """Closes a resource at shutdown, within 5 s, whatever it raises."""
        close_on_exit(self.stack, what, close, 5.0)


def close_on_exit(
    stack: contextlib.AsyncExitStack,
    what: str,
    close: Callable[[], Awaitable[object]],
    within: float,
) -> None:
    """Pushes `close` on `stack`, bounded by `within` seconds and never raising.

    A client whose server is already gone (the broker stopped first, say) may hang or
    fail while closing; shutdown goes on regardless and says so in the log.
    """

    async def bounded() -> None:
        task = asyncio.current_task()
        try:
            async with asyncio.timeout(within):
                await close()
        except TimeoutError:
            log.warning("%s did not close in %.0f s", what, within)
        except asyncio.CancelledError:
            if task is not None and task.cancelling():
                raise
            # Some clients let the cancellation of their own inner tasks escape close().
            log.warning("%s was interrupted while closing", what)
        except Exception as exc:  # noqa: BLE001 - closing must not stop the rest of shutdown
            log.warning("%s failed to close", what, extra={"error": repr(exc)})

    stack.push_async_callback(bounded)


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A consumer group of the service: which topics, and what applies each event."""

    # Group name within the service; the Kafka group id is "<namespace>.<service>.<name>".
    name: str
    # Logical topic names, such as ("activity", "feedback").
    topics: tuple[str, ...]
    # Builds the handler once the service's resources are open.
    handler: Callable[[Context], Handler]


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """Everything the runtime needs to run one service.

    Attributes:
        name: the service name, which is also its schema name.
        grpc_service: the full gRPC service name reported by health.
        package: the Python package holding `migrations/`.
        servicer: builds the gRPC servicer from the open resources.
        register: the generated `add_<Service>Servicer_to_server`.
        consumers: the consumer groups the service runs.
    """

    name: str
    grpc_service: str
    package: str
    servicer: Callable[[Context], Awaitable[object]]
    register: Callable[[Any, grpc.aio.Server], None]
    consumers: tuple[ConsumerSpec, ...] = ()
