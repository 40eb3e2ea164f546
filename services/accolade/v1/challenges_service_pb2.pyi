import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListAgentChallengesRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "day")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    day: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., day: _Optional[str] = ...) -> None: ...

class AgentChallenge(_message.Message):
    __slots__ = ("challenge_id", "name", "description", "period", "progress", "target", "completed", "completed_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    name: str
    description: str
    period: str
    progress: int
    target: int
    completed: bool
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., period: _Optional[str] = ..., progress: _Optional[int] = ..., target: _Optional[int] = ..., completed: _Optional[bool] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAgentChallengesResponse(_message.Message):
    __slots__ = ("challenges",)
    CHALLENGES_FIELD_NUMBER: _ClassVar[int]
    challenges: _containers.RepeatedCompositeFieldContainer[AgentChallenge]
    def __init__(self, challenges: _Optional[_Iterable[_Union[AgentChallenge, _Mapping]]] = ...) -> None: ...
