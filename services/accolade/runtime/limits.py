"""Per-tenant rate limits: token buckets for intake (events) and reads (calls).

Each service replica keeps its own buckets, in memory: a tenant may send `rate` events
(or make `rate` reads) per second on each replica, with bursts of up to one second's
worth. A tenant's own limits come with its settings on the identity topic; 0 there
means the service's default (ACCOLADE_RATE_LIMIT_*), and a default of 0 means no limit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Final

from accolade.runtime.errors import RateLimited
from accolade.runtime.identity import KeyRing

INTAKE: Final = "intake"
READ: Final = "read"


@dataclasses.dataclass(slots=True)
class _Bucket:
    rate: float
    tokens: float
    at: float


class Limiter:
    """Admits calls while each tenant's bucket of their kind has tokens."""

    def __init__(
        self,
        ring: KeyRing,
        defaults: dict[str, float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ring = ring
        self._defaults = defaults
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def rate(self, tenant_id: str, kind: str) -> float:
        """Events (intake) or calls (reads) per second the tenant may make; 0: no limit."""
        tenant = self._ring.tenant(tenant_id)
        own = 0.0
        if tenant is not None:
            own = tenant.intake_per_second if kind == INTAKE else tenant.reads_per_second
        return float(own or self._defaults.get(kind, 0.0))

    def take(self, tenant_id: str, kind: str, cost: float = 1.0) -> None:
        """Takes `cost` tokens, or raises RateLimited saying when to retry."""
        rate = self.rate(tenant_id, kind)
        if rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get((tenant_id, kind))
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[(tenant_id, kind)] = _Bucket(rate, rate, now)
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        # A request larger than a whole second's worth is admitted once the bucket is full.
        need = min(cost, rate)
        if bucket.tokens + 1e-6 < need:  # (clock arithmetic is not exact)
            wait = (need - bucket.tokens) / rate
            noun = "events" if kind == INTAKE else "reads"
            raise RateLimited(
                f"tenant {tenant_id!r} is over its limit of {rate:g} {noun} per second",
                retry_after=wait,
            )
        bucket.tokens -= cost
