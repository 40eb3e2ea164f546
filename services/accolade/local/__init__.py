"""Accolade on one machine: embedded PostgreSQL and broker, and the five services as processes."""
