import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_VOICE: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_MESSAGING: _ClassVar[Channel]
    CHANNEL_SOCIAL: _ClassVar[Channel]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_INTEGRATION: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]
    ROLE_MANAGER: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_OPS: _ClassVar[Role]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_VOICE: Channel
CHANNEL_CHAT: Channel
CHANNEL_EMAIL: Channel
CHANNEL_MESSAGING: Channel
CHANNEL_SOCIAL: Channel
ROLE_UNSPECIFIED: Role
ROLE_INTEGRATION: Role
ROLE_AGENT: Role
ROLE_MANAGER: Role
ROLE_ADMIN: Role
ROLE_OPS: Role

class InteractionCompleted(_message.Message):
    __slots__ = ("interaction_id", "channel", "handle_time", "resolved_first_contact", "transferred")
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    HANDLE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIRST_CONTACT_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_FIELD_NUMBER: _ClassVar[int]
    interaction_id: str
    channel: Channel
    handle_time: _duration_pb2.Duration
    resolved_first_contact: bool
    transferred: bool
    def __init__(self, interaction_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., handle_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., resolved_first_contact: _Optional[bool] = ..., transferred: _Optional[bool] = ...) -> None: ...

class SurveySubmitted(_message.Message):
    __slots__ = ("survey_id", "interaction_id", "csat", "comment", "nps")
    SURVEY_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CSAT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    NPS_FIELD_NUMBER: _ClassVar[int]
    survey_id: str
    interaction_id: str
    csat: int
    comment: str
    nps: int
    def __init__(self, survey_id: _Optional[str] = ..., interaction_id: _Optional[str] = ..., csat: _Optional[int] = ..., comment: _Optional[str] = ..., nps: _Optional[int] = ...) -> None: ...

class QaSection(_message.Message):
    __slots__ = ("name", "score")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: float
    def __init__(self, name: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class QaEvaluated(_message.Message):
    __slots__ = ("evaluation_id", "form_id", "score", "sections", "evaluator_id", "interaction_id")
    EVALUATION_ID_FIELD_NUMBER: _ClassVar[int]
    FORM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    EVALUATOR_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_ID_FIELD_NUMBER: _ClassVar[int]
    evaluation_id: str
    form_id: str
    score: float
    sections: _containers.RepeatedCompositeFieldContainer[QaSection]
    evaluator_id: str
    interaction_id: str
    def __init__(self, evaluation_id: _Optional[str] = ..., form_id: _Optional[str] = ..., score: _Optional[float] = ..., sections: _Optional[_Iterable[_Union[QaSection, _Mapping]]] = ..., evaluator_id: _Optional[str] = ..., interaction_id: _Optional[str] = ...) -> None: ...

class TrainingCompleted(_message.Message):
    __slots__ = ("course_id", "score")
    COURSE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    course_id: str
    score: float
    def __init__(self, course_id: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class CertificationPassed(_message.Message):
    __slots__ = ("certification_id", "level")
    CERTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    certification_id: str
    level: int
    def __init__(self, certification_id: _Optional[str] = ..., level: _Optional[int] = ...) -> None: ...

class AdherenceReported(_message.Message):
    __slots__ = ("day", "adherence_percent")
    DAY_FIELD_NUMBER: _ClassVar[int]
    ADHERENCE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    day: str
    adherence_percent: float
    def __init__(self, day: _Optional[str] = ..., adherence_percent: _Optional[float] = ...) -> None: ...

class MetricReported(_message.Message):
    __slots__ = ("name", "value", "period_start", "period_end")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("rule_id", "rule_version", "window", "value", "threshold", "trigger_event_ids", "tier_id", "window_start", "window_end", "event_count")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    TIER_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    rule_version: int
    window: str
    value: float
    threshold: float
    trigger_event_ids: _containers.RepeatedScalarFieldContainer[str]
    tier_id: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    event_count: int
    def __init__(self, rule_id: _Optional[str] = ..., rule_version: _Optional[int] = ..., window: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., trigger_event_ids: _Optional[_Iterable[str]] = ..., tier_id: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_count: _Optional[int] = ...) -> None: ...

class BadgeAwarded(_message.Message):
    __slots__ = ("badge_id", "name", "explanation", "tier_id", "xp")
    BADGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    TIER_ID_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    badge_id: str
    name: str
    explanation: Explanation
    tier_id: str
    xp: int
    def __init__(self, badge_id: _Optional[str] = ..., name: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ..., tier_id: _Optional[str] = ..., xp: _Optional[int] = ...) -> None: ...

class LevelReached(_message.Message):
    __slots__ = ("level", "name", "xp", "table_version")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    level: int
    name: str
    xp: int
    table_version: int
    def __init__(self, level: _Optional[int] = ..., name: _Optional[str] = ..., xp: _Optional[int] = ..., table_version: _Optional[int] = ...) -> None: ...

class ChallengeProgressed(_message.Message):
    __slots__ = ("challenge_id", "period", "progress", "target")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    period: str
    progress: int
    target: int
    def __init__(self, challenge_id: _Optional[str] = ..., period: _Optional[str] = ..., progress: _Optional[int] = ..., target: _Optional[int] = ...) -> None: ...

class ChallengeCompleted(_message.Message):
    __slots__ = ("challenge_id", "name", "period", "target", "explanation")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    name: str
    period: str
    target: int
    explanation: Explanation
    def __init__(self, challenge_id: _Optional[str] = ..., name: _Optional[str] = ..., period: _Optional[str] = ..., target: _Optional[int] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class PeriodClosed(_message.Message):
    __slots__ = ("board_id", "board_name", "kind", "version", "period", "period_end", "rank", "score", "total_agents")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    board_name: str
    kind: str
    version: int
    period: str
    period_end: str
    rank: int
    score: float
    total_agents: int
    def __init__(self, board_id: _Optional[str] = ..., board_name: _Optional[str] = ..., kind: _Optional[str] = ..., version: _Optional[int] = ..., period: _Optional[str] = ..., period_end: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., total_agents: _Optional[int] = ...) -> None: ...

class AgentUpdated(_message.Message):
    __slots__ = ("display_name", "team_id", "site_id", "version", "region_id", "time_zone", "manager_id", "hire_date", "skills")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    HIRE_DATE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    team_id: str
    site_id: str
    version: int
    region_id: str
    time_zone: str
    manager_id: str
    hire_date: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, display_name: _Optional[str] = ..., team_id: _Optional[str] = ..., site_id: _Optional[str] = ..., version: _Optional[int] = ..., region_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., manager_id: _Optional[str] = ..., hire_date: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ...) -> None: ...

class TenantChanged(_message.Message):
    __slots__ = ("display_name", "time_zone", "week_start", "lateness_seconds", "version", "intake_per_second", "reads_per_second", "session_secret")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    WEEK_START_FIELD_NUMBER: _ClassVar[int]
    LATENESS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INTAKE_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    READS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    SESSION_SECRET_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    time_zone: str
    week_start: int
    lateness_seconds: int
    version: int
    intake_per_second: float
    reads_per_second: float
    session_secret: bytes
    def __init__(self, display_name: _Optional[str] = ..., time_zone: _Optional[str] = ..., week_start: _Optional[int] = ..., lateness_seconds: _Optional[int] = ..., version: _Optional[int] = ..., intake_per_second: _Optional[float] = ..., reads_per_second: _Optional[float] = ..., session_secret: _Optional[bytes] = ...) -> None: ...

class ApiKeyChanged(_message.Message):
    __slots__ = ("key_id", "role", "agent_id", "team_id", "secret_sha256", "revoked_at", "label")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    role: Role
    agent_id: str
    team_id: str
    secret_sha256: bytes
    revoked_at: _timestamp_pb2.Timestamp
    label: str
    def __init__(self, key_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., agent_id: _Optional[str] = ..., team_id: _Optional[str] = ..., secret_sha256: _Optional[bytes] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., label: _Optional[str] = ...) -> None: ...
