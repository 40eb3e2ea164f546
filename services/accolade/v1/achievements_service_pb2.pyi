import datetime

from accolade.v1 import envelope_pb2 as _envelope_pb2
from accolade.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListAgentBadgesRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class AgentBadge(_message.Message):
    __slots__ = ("badge_id", "name", "description", "awarded_at", "explanation", "tier_id", "xp")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AWARDED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TIER_ID_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    name: str
    description: str
    awarded_at: _timestamp_pb2.Timestamp
    explanation: _events_pb2.Explanation
    tier_id: str
    xp: int
    def __init__(self, badge_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., awarded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explanation: _Optional[_Union[_events_pb2.Explanation, _Mapping]] = ..., tier_id: _Optional[str] = ..., xp: _Optional[int] = ...) -> None: ...

class ListAgentBadgesResponse(_message.Message):
    __slots__ = ("badges",)
    BADGES_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[AgentBadge]
    def __init__(self, badges: _Optional[_Iterable[_Union[AgentBadge, _Mapping]]] = ...) -> None: ...

class ObjectMeta(_message.Message):
    __slots__ = ("id", "name", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class BadgeTier(_message.Message):
    __slots__ = ("id", "threshold", "xp")
    ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    id: str
    threshold: float
    xp: int
    def __init__(self, id: _Optional[str] = ..., threshold: _Optional[float] = ..., xp: _Optional[int] = ...) -> None: ...

class BadgeSpec(_message.Message):
    __slots__ = ("event", "when", "aggregate", "field", "window", "tiers", "repeat", "min_per_day", "unit", "min_count", "requires", "cap")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    MIN_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    MIN_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    event: str
    when: str
    aggregate: str
    field: str
    window: str
    tiers: _containers.RepeatedCompositeFieldContainer[BadgeTier]
    repeat: str
    min_per_day: int
    unit: str
    min_count: int
    requires: _containers.RepeatedCompositeFieldContainer[BadgeRequirement]
    cap: BadgeCap
    def __init__(self, event: _Optional[str] = ..., when: _Optional[str] = ..., aggregate: _Optional[str] = ..., field: _Optional[str] = ..., window: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[BadgeTier, _Mapping]]] = ..., repeat: _Optional[str] = ..., min_per_day: _Optional[int] = ..., unit: _Optional[str] = ..., min_count: _Optional[int] = ..., requires: _Optional[_Iterable[_Union[BadgeRequirement, _Mapping]]] = ..., cap: _Optional[_Union[BadgeCap, _Mapping]] = ...) -> None: ...

class BadgeRequirement(_message.Message):
    __slots__ = ("badge", "tier")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    badge: str
    tier: str
    def __init__(self, badge: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...

class BadgeCap(_message.Message):
    __slots__ = ("count", "per")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PER_FIELD_NUMBER: _ClassVar[int]
    count: int
    per: str
    def __init__(self, count: _Optional[int] = ..., per: _Optional[str] = ...) -> None: ...

class BadgeDefinition(_message.Message):
    __slots__ = ("metadata", "spec", "version", "effective_at", "archived", "counts_from")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FROM_FIELD_NUMBER: _ClassVar[int]
    metadata: ObjectMeta
    spec: BadgeSpec
    version: int
    effective_at: _timestamp_pb2.Timestamp
    archived: bool
    counts_from: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Union[ObjectMeta, _Mapping]] = ..., spec: _Optional[_Union[BadgeSpec, _Mapping]] = ..., version: _Optional[int] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archived: _Optional[bool] = ..., counts_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Level(_message.Message):
    __slots__ = ("level", "name", "xp")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    level: int
    name: str
    xp: int
    def __init__(self, level: _Optional[int] = ..., name: _Optional[str] = ..., xp: _Optional[int] = ...) -> None: ...

class LevelTableSpec(_message.Message):
    __slots__ = ("levels",)
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    levels: _containers.RepeatedCompositeFieldContainer[Level]
    def __init__(self, levels: _Optional[_Iterable[_Union[Level, _Mapping]]] = ...) -> None: ...

class LevelTable(_message.Message):
    __slots__ = ("metadata", "spec", "version", "effective_at")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    metadata: ObjectMeta
    spec: LevelTableSpec
    version: int
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Union[ObjectMeta, _Mapping]] = ..., spec: _Optional[_Union[LevelTableSpec, _Mapping]] = ..., version: _Optional[int] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyProgramRequest(_message.Message):
    __slots__ = ("tenant_id", "badges", "level_table", "dry_run", "effective_at")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGES_FIELD_NUMBER: _ClassVar[int]
    LEVEL_TABLE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    badges: _containers.RepeatedCompositeFieldContainer[BadgeDefinition]
    level_table: LevelTable
    dry_run: bool
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., badges: _Optional[_Iterable[_Union[BadgeDefinition, _Mapping]]] = ..., level_table: _Optional[_Union[LevelTable, _Mapping]] = ..., dry_run: _Optional[bool] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DefinitionChange(_message.Message):
    __slots__ = ("kind", "id", "action", "version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    action: str
    version: int
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ..., action: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ApplyProgramResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[DefinitionChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[DefinitionChange, _Mapping]]] = ...) -> None: ...

class ListBadgeDefinitionsRequest(_message.Message):
    __slots__ = ("tenant_id", "include_archived")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    include_archived: bool
    def __init__(self, tenant_id: _Optional[str] = ..., include_archived: _Optional[bool] = ...) -> None: ...

class ListBadgeDefinitionsResponse(_message.Message):
    __slots__ = ("badges",)
    BADGES_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[BadgeDefinition]
    def __init__(self, badges: _Optional[_Iterable[_Union[BadgeDefinition, _Mapping]]] = ...) -> None: ...

class GetBadgeDefinitionRequest(_message.Message):
    __slots__ = ("tenant_id", "badge_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    badge_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., badge_id: _Optional[str] = ...) -> None: ...

class GetBadgeDefinitionResponse(_message.Message):
    __slots__ = ("badge",)
    BADGE_FIELD_NUMBER: _ClassVar[int]
    badge: BadgeDefinition
    def __init__(self, badge: _Optional[_Union[BadgeDefinition, _Mapping]] = ...) -> None: ...

class ArchiveBadgeDefinitionRequest(_message.Message):
    __slots__ = ("tenant_id", "badge_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    badge_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., badge_id: _Optional[str] = ...) -> None: ...

class ArchiveBadgeDefinitionResponse(_message.Message):
    __slots__ = ("badge",)
    BADGE_FIELD_NUMBER: _ClassVar[int]
    badge: BadgeDefinition
    def __init__(self, badge: _Optional[_Union[BadgeDefinition, _Mapping]] = ...) -> None: ...

class GetLevelTableRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetLevelTableResponse(_message.Message):
    __slots__ = ("level_table",)
    LEVEL_TABLE_FIELD_NUMBER: _ClassVar[int]
    level_table: LevelTable
    def __init__(self, level_table: _Optional[_Union[LevelTable, _Mapping]] = ...) -> None: ...

class ExplainAwardRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "badge_id", "tier_id", "window")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    badge_id: str
    tier_id: str
    window: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., badge_id: _Optional[str] = ..., tier_id: _Optional[str] = ..., window: _Optional[str] = ...) -> None: ...

class ExplainAwardResponse(_message.Message):
    __slots__ = ("badge", "definition", "summary")
    BADGE_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    badge: AgentBadge
    definition: BadgeDefinition
    summary: str
    def __init__(self, badge: _Optional[_Union[AgentBadge, _Mapping]] = ..., definition: _Optional[_Union[BadgeDefinition, _Mapping]] = ..., summary: _Optional[str] = ...) -> None: ...

class GetAgentProgressRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class BadgeProgress(_message.Message):
    __slots__ = ("badge_id", "name", "value", "next_tier_id", "next_threshold", "remaining", "window_start", "window_end", "held_tier_ids", "summary", "missing")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NEXT_TIER_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    HELD_TIER_IDS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    name: str
    value: float
    next_tier_id: str
    next_threshold: float
    remaining: float
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    held_tier_ids: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    missing: _containers.RepeatedCompositeFieldContainer[BadgeRequirement]
    def __init__(self, badge_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[float] = ..., next_tier_id: _Optional[str] = ..., next_threshold: _Optional[float] = ..., remaining: _Optional[float] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., held_tier_ids: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., missing: _Optional[_Iterable[_Union[BadgeRequirement, _Mapping]]] = ...) -> None: ...

class GetAgentProgressResponse(_message.Message):
    __slots__ = ("badges", "xp", "level", "level_name", "next_level_xp")
    BADGES_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_LEVEL_XP_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[BadgeProgress]
    xp: int
    level: int
    level_name: str
    next_level_xp: int
    def __init__(self, badges: _Optional[_Iterable[_Union[BadgeProgress, _Mapping]]] = ..., xp: _Optional[int] = ..., level: _Optional[int] = ..., level_name: _Optional[str] = ..., next_level_xp: _Optional[int] = ...) -> None: ...

class ReplayRequest(_message.Message):
    __slots__ = ("tenant_id", "events")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    events: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Envelope]
    def __init__(self, tenant_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_envelope_pb2.Envelope, _Mapping]]] = ...) -> None: ...

class ReplayResponse(_message.Message):
    __slots__ = ("events", "compared", "difference_count", "differences")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    events: int
    compared: int
    difference_count: int
    differences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, events: _Optional[int] = ..., compared: _Optional[int] = ..., difference_count: _Optional[int] = ..., differences: _Optional[_Iterable[str]] = ...) -> None: ...

class BackfillRequest(_message.Message):
    __slots__ = ("tenant_id", "badge_ids", "since", "events")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_IDS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    badge_ids: _containers.RepeatedScalarFieldContainer[str]
    since: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Envelope]
    def __init__(self, tenant_id: _Optional[str] = ..., badge_ids: _Optional[_Iterable[str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_envelope_pb2.Envelope, _Mapping]]] = ...) -> None: ...

class BackfillResponse(_message.Message):
    __slots__ = ("counted", "awards")
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    AWARDS_FIELD_NUMBER: _ClassVar[int]
    counted: int
    awards: int
    def __init__(self, counted: _Optional[int] = ..., awards: _Optional[int] = ...) -> None: ...
