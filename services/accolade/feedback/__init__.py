"""Feedback: what customers and colleagues say about agents."""

from accolade.feedback._service import SERVICE

__all__ = ["SERVICE"]
