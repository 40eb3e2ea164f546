"""The gateway: event intake for contact-center systems and live streams for agent consoles."""

from accolade.gateway._service import SERVICE

__all__ = ["SERVICE"]
