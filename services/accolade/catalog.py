"""The services Accolade is made of, loaded by name."""

from __future__ import annotations

import importlib

from accolade.runtime.service import ServiceDefinition
from accolade.runtime.settings import SERVICE_PORTS

NAMES: tuple[str, ...] = tuple(SERVICE_PORTS)


def load(name: str) -> ServiceDefinition:
    """The definition of service `name`, such as "gateway"."""
    if name not in SERVICE_PORTS:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(NAMES)}")
    definition: ServiceDefinition = importlib.import_module(f"accolade.{name}").SERVICE
    return definition
