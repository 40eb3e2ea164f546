import datetime

from accolade.v1 import events_pb2 as _events_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("event_id", "tenant_id", "agent_id", "occurred_at", "recorded_at", "interaction_completed", "survey_submitted", "badge_awarded", "challenge_progressed", "challenge_completed", "agent_updated", "level_reached", "qa_evaluated", "training_completed", "certification_passed", "adherence_reported", "metric_reported", "tenant_changed", "api_key_changed", "period_closed")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    SURVEY_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    BADGE_AWARDED_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_PROGRESSED_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    AGENT_UPDATED_FIELD_NUMBER: _ClassVar[int]
    LEVEL_REACHED_FIELD_NUMBER: _ClassVar[int]
    QA_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATION_PASSED_FIELD_NUMBER: _ClassVar[int]
    ADHERENCE_REPORTED_FIELD_NUMBER: _ClassVar[int]
    METRIC_REPORTED_FIELD_NUMBER: _ClassVar[int]
    TENANT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    API_KEY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PERIOD_CLOSED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    agent_id: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    interaction_completed: _events_pb2.InteractionCompleted
    survey_submitted: _events_pb2.SurveySubmitted
    badge_awarded: _events_pb2.BadgeAwarded
    challenge_progressed: _events_pb2.ChallengeProgressed
    challenge_completed: _events_pb2.ChallengeCompleted
    agent_updated: _events_pb2.AgentUpdated
    level_reached: _events_pb2.LevelReached
    qa_evaluated: _events_pb2.QaEvaluated
    training_completed: _events_pb2.TrainingCompleted
    certification_passed: _events_pb2.CertificationPassed
    adherence_reported: _events_pb2.AdherenceReported
    metric_reported: _events_pb2.MetricReported
    tenant_changed: _events_pb2.TenantChanged
    api_key_changed: _events_pb2.ApiKeyChanged
    period_closed: _events_pb2.PeriodClosed
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interaction_completed: _Optional[_Union[_events_pb2.InteractionCompleted, _Mapping]] = ..., survey_submitted: _Optional[_Union[_events_pb2.SurveySubmitted, _Mapping]] = ..., badge_awarded: _Optional[_Union[_events_pb2.BadgeAwarded, _Mapping]] = ..., challenge_progressed: _Optional[_Union[_events_pb2.ChallengeProgressed, _Mapping]] = ..., challenge_completed: _Optional[_Union[_events_pb2.ChallengeCompleted, _Mapping]] = ..., agent_updated: _Optional[_Union[_events_pb2.AgentUpdated, _Mapping]] = ..., level_reached: _Optional[_Union[_events_pb2.LevelReached, _Mapping]] = ..., qa_evaluated: _Optional[_Union[_events_pb2.QaEvaluated, _Mapping]] = ..., training_completed: _Optional[_Union[_events_pb2.TrainingCompleted, _Mapping]] = ..., certification_passed: _Optional[_Union[_events_pb2.CertificationPassed, _Mapping]] = ..., adherence_reported: _Optional[_Union[_events_pb2.AdherenceReported, _Mapping]] = ..., metric_reported: _Optional[_Union[_events_pb2.MetricReported, _Mapping]] = ..., tenant_changed: _Optional[_Union[_events_pb2.TenantChanged, _Mapping]] = ..., api_key_changed: _Optional[_Union[_events_pb2.ApiKeyChanged, _Mapping]] = ..., period_closed: _Optional[_Union[_events_pb2.PeriodClosed, _Mapping]] = ...) -> None: ...
