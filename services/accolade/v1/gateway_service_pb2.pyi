import datetime

from accolade.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_STATUS_UNSPECIFIED: _ClassVar[EventStatus]
    EVENT_STATUS_ACCEPTED: _ClassVar[EventStatus]
    EVENT_STATUS_DUPLICATE: _ClassVar[EventStatus]
    EVENT_STATUS_REJECTED: _ClassVar[EventStatus]
EVENT_STATUS_UNSPECIFIED: EventStatus
EVENT_STATUS_ACCEPTED: EventStatus
EVENT_STATUS_DUPLICATE: EventStatus
EVENT_STATUS_REJECTED: EventStatus

class AgentProfile(_message.Message):
    __slots__ = ("agent_id", "display_name", "team_id", "site_id", "region_id", "time_zone", "manager_id", "hire_date", "skills")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    HIRE_DATE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    display_name: str
    team_id: str
    site_id: str
    region_id: str
    time_zone: str
    manager_id: str
    hire_date: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., display_name: _Optional[str] = ..., team_id: _Optional[str] = ..., site_id: _Optional[str] = ..., region_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., manager_id: _Optional[str] = ..., hire_date: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertAgentsRequest(_message.Message):
    __slots__ = ("tenant_id", "agents")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agents: _containers.RepeatedCompositeFieldContainer[AgentProfile]
    def __init__(self, tenant_id: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[AgentProfile, _Mapping]]] = ...) -> None: ...

class UpsertAgentsResponse(_message.Message):
    __slots__ = ("created", "updated", "unchanged")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    created: int
    updated: int
    unchanged: int
    def __init__(self, created: _Optional[int] = ..., updated: _Optional[int] = ..., unchanged: _Optional[int] = ...) -> None: ...

class PublishEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Envelope]
    def __init__(self, events: _Optional[_Iterable[_Union[_envelope_pb2.Envelope, _Mapping]]] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_envelope_pb2.Envelope]
    def __init__(self, events: _Optional[_Iterable[_Union[_envelope_pb2.Envelope, _Mapping]]] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ...) -> None: ...

class EventResult(_message.Message):
    __slots__ = ("event_id", "status", "reason", "field")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    status: EventStatus
    reason: str
    field: str
    def __init__(self, event_id: _Optional[str] = ..., status: _Optional[_Union[EventStatus, str]] = ..., reason: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class PublishEventsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EventResult, _Mapping]]] = ...) -> None: ...

class WatchAgentRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "after_sequence")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    after_sequence: int
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchAgentResponse(_message.Message):
    __slots__ = ("event", "sequence")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    event: _envelope_pb2.Envelope
    sequence: int
    def __init__(self, event: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class WatchTeamRequest(_message.Message):
    __slots__ = ("tenant_id", "team_id", "after_sequences")
    class AfterSequencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    team_id: str
    after_sequences: _containers.ScalarMap[str, int]
    def __init__(self, tenant_id: _Optional[str] = ..., team_id: _Optional[str] = ..., after_sequences: _Optional[_Mapping[str, int]] = ...) -> None: ...

class WatchTeamResponse(_message.Message):
    __slots__ = ("agent_id", "event", "sequence")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    event: _envelope_pb2.Envelope
    sequence: int
    def __init__(self, agent_id: _Optional[str] = ..., event: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class CreateAgentSessionRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "ttl_seconds")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    ttl_seconds: int
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateAgentSessionResponse(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportEventsRequest(_message.Message):
    __slots__ = ("tenant_id", "topics", "since", "until")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    topics: _containers.RepeatedScalarFieldContainer[str]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., topics: _Optional[_Iterable[str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ArchivedEvent(_message.Message):
    __slots__ = ("topic", "event")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    event: _envelope_pb2.Envelope
    def __init__(self, topic: _Optional[str] = ..., event: _Optional[_Union[_envelope_pb2.Envelope, _Mapping]] = ...) -> None: ...

class ExportEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ArchivedEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[ArchivedEvent, _Mapping]]] = ...) -> None: ...
