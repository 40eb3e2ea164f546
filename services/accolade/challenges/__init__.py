"""Challenges: goals with a target and a period, and each agent's progress."""

from accolade.challenges._service import SERVICE

__all__ = ["SERVICE"]
