import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitSurveyRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "survey_id", "interaction_id", "csat", "comment", "submitted_at", "nps")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SURVEY_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CSAT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    NPS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    survey_id: str
    interaction_id: str
    csat: int
    comment: str
    submitted_at: _timestamp_pb2.Timestamp
    nps: int
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., survey_id: _Optional[str] = ..., interaction_id: _Optional[str] = ..., csat: _Optional[int] = ..., comment: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nps: _Optional[int] = ...) -> None: ...

class SubmitSurveyResponse(_message.Message):
    __slots__ = ("event_id", "duplicate")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    duplicate: bool
    def __init__(self, event_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...
