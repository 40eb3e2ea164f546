"""Leaderboards: agents ranked per board and period."""

from accolade.leaderboards._service import SERVICE

__all__ = ["SERVICE"]
