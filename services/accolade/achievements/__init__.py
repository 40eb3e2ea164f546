"""Achievements: badges, and why each was earned."""

from accolade.achievements._service import SERVICE

__all__ = ["SERVICE"]
