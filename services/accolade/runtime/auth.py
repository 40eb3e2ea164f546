"""Authorisation: what each RPC lets each role do, and the check every call passes.

Each service declares an `Access` for every method of its gRPC service (the server
refuses to start if one is missing). The interceptor authenticates the call's
`authorization: Bearer <key>` metadata against the `KeyRing`, then `check_role` (once
per call) and `scope` (for every request of it) apply the declaration:

- the role must be one the method allows (admin keys may call every method): otherwise
  PERMISSION_DENIED;
- the tenant comes from the key: each tenant field of the request that is empty is set
  to the key's tenant, and one naming another tenant is answered NOT_FOUND, exactly as
  for data that does not exist;
- for methods that read one agent's data, an agent key reads only its own agent, and a
  manager key only agents of its team: otherwise PERMISSION_DENIED; for methods that
  read a team's, a manager key reads only its own team (an empty team field is set to
  it);
- last, what the request costs is taken from the tenant's rate limit, so a refused call
  costs nothing.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from google.protobuf import descriptor_pool

from accolade.runtime.errors import NotFound, PermissionDenied, Unauthenticated
from accolade.runtime.identity import ADMIN, AGENT, MANAGER, NAME_OF, KeyRing, Principal
from accolade.runtime.limits import INTAKE, READ, Limiter

# The caller of the RPC being handled, for methods that act on the caller's own behalf
# (such as minting a session with its key). Set by the interceptor for each call.
caller: contextvars.ContextVar[Principal] = contextvars.ContextVar("caller")

# The key or session token the call presented, for streams that check it again.
credential: contextvars.ContextVar[str] = contextvars.ContextVar("credential")
# How often a long stream checks that its key still stands (not revoked, not expired).
RECHECK_SECONDS = 2.0


def still_admitted(ring: KeyRing, token: str | None = None) -> None:
    """UNAUTHENTICATED when the call's key (or `token`) was revoked, or its session
    expired, since the call began: a stream checks now and then, and ends."""
    if ring.authenticate(credential.get() if token is None else token) is None:
        raise Unauthenticated("the key was revoked or the session expired; the stream ends")


# Looks up an agent's team: (tenant_id, agent_id) -> team id, or None for no such agent.
TeamOf = Callable[[str, str], Awaitable[str | None]]


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """Who may call one RPC, and which request fields carry its tenant and agent.

    Attributes:
        roles: the roles allowed besides admin.
        tenant: request fields naming the tenant: a field of the request ("tenant_id"),
            or of each item of a repeated field ("events.tenant_id").
        agent: the request field naming the one agent whose data the call reads or
            watches; agent and manager keys are held to their own agent or team.
        team: the request field naming the one team whose data the call reads or
            watches; manager keys are held to their own team.
        limit: which of the tenant's rate limits the call counts against: a read counts
            one per call; intake counts each event of the request (its `events`), or one.
    """

    roles: frozenset[int]
    tenant: tuple[str, ...] = ("tenant_id",)
    agent: str | None = None
    limit: str = READ
    team: str | None = None

    def allows(self, role: int) -> bool:
        return role == ADMIN or role in self.roles


# What a method without a declaration allows: admin keys only.
NOBODY = Access(frozenset())


def access(
    *roles: int,
    tenant: tuple[str, ...] = ("tenant_id",),
    agent: str | None = None,
    limit: str = READ,
    team: str | None = None,
) -> Access:
    """An `Access` allowing `roles` (and admin)."""
    return Access(frozenset(roles), tenant, agent, limit, team)


def cost(rule: Access, request: Any) -> int:
    """What one request takes from its tenant's rate limit."""
    if rule.limit == INTAKE:
        return max(1, len(getattr(request, "events", ())))
    return 1


def methods(grpc_service: str) -> list[str]:
    """The method names of a gRPC service whose generated stubs are imported."""
    service = descriptor_pool.Default().FindServiceByName(grpc_service)
    return [m.name for m in service.methods]


def undeclared(grpc_service: str, rules: Mapping[str, Access]) -> list[str]:
    """The methods of `grpc_service` with no `Access` in `rules`."""
    return [m for m in methods(grpc_service) if m not in rules]


def _fields(message: Any, path: str) -> Iterable[tuple[Any, str]]:
    """(message, field name) pairs that `path` names in `message`."""
    head, _, rest = path.partition(".")
    if not rest:
        yield message, head
        return
    for item in getattr(message, head):
        yield from _fields(item, rest)


def check_role(principal: Principal, method: str, rule: Access) -> None:
    """PERMISSION_DENIED unless the caller's role may call `method`."""
    if not rule.allows(principal.role):
        role = NAME_OF.get(principal.role, "unknown")
        raise PermissionDenied(f"a key of role {role} may not call {method}")


def scope_tenant(principal: Principal, rule: Access, request: Any) -> None:
    """Sets empty tenant fields to the caller's tenant; NOT_FOUND for another tenant's."""
    for message, name in (pair for path in rule.tenant for pair in _fields(request, path)):
        value = getattr(message, name)
        if not value:
            setattr(message, name, principal.tenant_id)
        elif value != principal.tenant_id:
            raise NotFound(f"no tenant {value!r}")


async def scope(
    principal: Principal,
    rule: Access,
    request: Any,
    team_of: TeamOf | None,
    limiter: Limiter | None,
) -> None:
    """Holds one request (each request, for a stream) to the caller's tenant and agent or
    team, then takes what it costs from the tenant's rate limit."""
    scope_tenant(principal, rule, request)
    if rule.agent is not None and principal.role in (AGENT, MANAGER):
        await _scope_agent(principal, rule.agent, request, team_of)
    if rule.team is not None and principal.role == MANAGER:
        team = getattr(request, rule.team)
        if not team:
            setattr(request, rule.team, principal.team_id)
        elif team != principal.team_id:
            raise PermissionDenied("a manager key watches only its own team")
    if limiter is not None:
        limiter.take(principal.tenant_id, rule.limit, cost(rule, request))


async def _scope_agent(
    principal: Principal, field: str, request: Any, team_of: TeamOf | None
) -> None:
    agent = getattr(request, field)
    if principal.role == AGENT:
        if not agent:
            setattr(request, field, principal.agent_id)
        elif agent != principal.agent_id:
            raise PermissionDenied("an agent key reads only its own agent's data")
        return
    team = None if team_of is None or not agent else await team_of(principal.tenant_id, agent)
    if team is None or team != principal.team_id:
        raise PermissionDenied("a manager key reads only its own team's agents")
