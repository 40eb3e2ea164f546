"""The shared runtime every Accolade service is built on."""

from accolade.runtime.errors import AccoladeError, InvalidArgument, NotFound, Unavailable
from accolade.runtime.service import Context, ServiceDefinition
from accolade.runtime.settings import SERVICE_PORTS, Settings, SettingsError

__all__ = [
    "SERVICE_PORTS",
    "AccoladeError",
    "Context",
    "InvalidArgument",
    "NotFound",
    "ServiceDefinition",
    "Settings",
    "SettingsError",
    "Unavailable",
]
