"""What a service declares about itself; the runtime does the rest."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
import grpc
from aiokafka import AIOKafkaProducer

from accolade.runtime.consumer import Handler
from accolade.runtime.metrics import Metrics
from accolade.runtime.settings import Settings


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
