import datetime

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
    __slots__ = ("badge_id", "name", "description", "awarded_at", "explanation")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AWARDED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    name: str
    description: str
    awarded_at: _timestamp_pb2.Timestamp
    explanation: _events_pb2.Explanation
    def __init__(self, badge_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., awarded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., explanation: _Optional[_Union[_events_pb2.Explanation, _Mapping]] = ...) -> None: ...

class ListAgentBadgesResponse(_message.Message):
    __slots__ = ("badges",)
    BADGES_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[AgentBadge]
    def __init__(self, badges: _Optional[_Iterable[_Union[AgentBadge, _Mapping]]] = ...) -> None: ...
