"""What a service declares about itself; the runtime does the rest."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import asyncpg
import grpc
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from accolade.runtime.auth import Access
from accolade.runtime.identity import KeyRing
from accolade.runtime.inbox import BatchHandler
from accolade.runtime.metrics import Metrics
from accolade.runtime.retention import Retention
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
    # Every tenant and API key, as the identity topic says.
    identity: KeyRing = dataclasses.field(default_factory=KeyRing)
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    # Extra conditions for SERVING besides the database and broker answering.
    ready_checks: list[Callable[[], bool]] = dataclasses.field(default_factory=list)
    # What a service's servicer and its consumers' handlers share in one process, by name.
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)

    def topic(self, name: str) -> str:
        """The configured name of a logical topic such as "activity"."""
        return self.settings.topics.topic(name)

    def spawn(self, run: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Runs `run()` for the life of the service, and again whenever it fails.

        While it is down (it failed and waits to be started again) the service is not
        SERVING. It is cancelled at shutdown.
        """
        task = _Supervised(run, name, self.metrics.task_restarts.labels(name))
        self.ready_checks.append(lambda: task.up)
        self.tasks.append(asyncio.create_task(task.run(), name=name))

    def on_exit(self, what: str, close: Callable[[], Awaitable[object]]) -> None:
        """Closes a resource at shutdown, within 5 s, whatever it raises."""
        close_on_exit(self.stack, what, close, 5.0)


class _Supervised:
    """A background task that is started again, after a pause, whenever it ends."""

    def __init__(
        self, run: Callable[[], Coroutine[Any, Any, None]], name: str, restarts: Counter
    ) -> None:
        self._run = run
        self._name = name
        self._restarts = restarts
        self.up = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.5
        while True:
            self.up = True
            started = loop.time()
            try:
                await self._run()
                log.warning(
                    "background task returned; starting it again", extra={"task": self._name}
                )
            except Exception:
                log.exception(
                    "background task failed; starting it again",
                    extra={"task": self._name, "retry_in": backoff},
                )
            self.up = False
            self._restarts.inc()
            if loop.time() - started > 60:
                backoff = 0.5  # it ran well for a while: this is a new failure, not the same one
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


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
    # Builds the handler once the service's resources are open; it applies each batch.
    handler: Callable[[Context], BatchHandler]
    # Whether the handler is idempotent by itself (every write keyed by the event, such as
    # an insert that ignores a row it holds already): the inbox then records nothing, which
    # saves a write per event. Most handlers add to totals, and are not.
    idempotent: bool = False


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
        retention: the service's own tables purged of old rows in the background (the
            runtime purges its outbox and inbox itself).
        access: who may call each method of the gRPC service (see `runtime/auth.py`);
            every method must have one.
        team_of: looks up an agent's team, for manager keys; a service without it refuses
            manager keys on methods that read one agent's data.
    """

    name: str
    grpc_service: str
    package: str
    servicer: Callable[[Context], Awaitable[object]]
    register: Callable[[Any, grpc.aio.Server], None]
    consumers: tuple[ConsumerSpec, ...] = ()
    retention: tuple[Retention, ...] = ()
    access: Mapping[str, Access] = dataclasses.field(default_factory=dict)
    team_of: Callable[[Context, str, str], Awaitable[str | None]] | None = None
