"""The errors a service raises to its callers; one interceptor maps them to gRPC status."""

from __future__ import annotations

from collections.abc import Sequence

import grpc


class AccoladeError(Exception):
    """Base of every error a handler raises on purpose; carries its gRPC code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(AccoladeError):
    """The request is malformed; each violation names the field at fault.

    Args:
        violations: (field path, description) pairs, such as ("events[2].tenant_id", "is required").
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, violations: Sequence[tuple[str, str]]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(f"{field}: {why}" for field, why in self.violations))


class NotFound(AccoladeError):
    """The named thing does not exist for this tenant."""

    code = grpc.StatusCode.NOT_FOUND


class Unavailable(AccoladeError):
    """A dependency (database or broker) cannot be reached; the caller may retry."""

    code = grpc.StatusCode.UNAVAILABLE


class FailedPrecondition(AccoladeError):
    """The request is well formed, but the system is not in a state to do it."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(AccoladeError):
    """The call carries no key, or one that is malformed, unknown or revoked."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(AccoladeError):
    """The caller's key is valid but its role or scope may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class RateLimited(AccoladeError):
    """The tenant is over a rate limit; the status says when to retry (RetryInfo)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
