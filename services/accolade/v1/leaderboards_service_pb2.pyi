import datetime

from accolade.v1 import achievements_service_pb2 as _achievements_service_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetLeaderboardBottomRequest(_message.Message):
    __slots__ = ("tenant_id", "board_id", "day", "limit", "scope")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    board_id: str
    day: str
    limit: int
    scope: str
    def __init__(self, tenant_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., limit: _Optional[int] = ..., scope: _Optional[str] = ...) -> None: ...

class GetLeaderboardBottomResponse(_message.Message):
    __slots__ = ("board_id", "period", "entries", "total_agents")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    period: str
    entries: _containers.RepeatedCompositeFieldContainer[LeaderboardEntry]
    total_agents: int
    def __init__(self, board_id: _Optional[str] = ..., period: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[LeaderboardEntry, _Mapping]]] = ..., total_agents: _Optional[int] = ...) -> None: ...

class GetScoreDistributionRequest(_message.Message):
    __slots__ = ("tenant_id", "board_id", "day", "buckets", "scope")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    board_id: str
    day: str
    buckets: int
    scope: str
    def __init__(self, tenant_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., buckets: _Optional[int] = ..., scope: _Optional[str] = ...) -> None: ...

class ScoreBucket(_message.Message):
    __slots__ = ("lower", "upper", "agents")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    agents: int
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ..., agents: _Optional[int] = ...) -> None: ...

class GetScoreDistributionResponse(_message.Message):
    __slots__ = ("board_id", "period", "total_agents", "min_score", "max_score", "buckets", "median_score")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_SCORE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_SCORE_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    period: str
    total_agents: int
    min_score: float
    max_score: float
    buckets: _containers.RepeatedCompositeFieldContainer[ScoreBucket]
    median_score: float
    def __init__(self, board_id: _Optional[str] = ..., period: _Optional[str] = ..., total_agents: _Optional[int] = ..., min_score: _Optional[float] = ..., max_score: _Optional[float] = ..., buckets: _Optional[_Iterable[_Union[ScoreBucket, _Mapping]]] = ..., median_score: _Optional[float] = ...) -> None: ...

class LeaderboardDefinition(_message.Message):
    __slots__ = ("metadata", "spec", "version", "effective_at")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    metadata: _achievements_service_pb2.ObjectMeta
    spec: LeaderboardSpec
    version: int
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Union[_achievements_service_pb2.ObjectMeta, _Mapping]] = ..., spec: _Optional[_Union[LeaderboardSpec, _Mapping]] = ..., version: _Optional[int] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LeaderboardSpec(_message.Message):
    __slots__ = ("event", "when", "metric", "field", "direction", "period", "time_zone", "min_events")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MIN_EVENTS_FIELD_NUMBER: _ClassVar[int]
    event: str
    when: str
    metric: str
    field: str
    direction: str
    period: str
    time_zone: str
    min_events: int
    def __init__(self, event: _Optional[str] = ..., when: _Optional[str] = ..., metric: _Optional[str] = ..., field: _Optional[str] = ..., direction: _Optional[str] = ..., period: _Optional[str] = ..., time_zone: _Optional[str] = ..., min_events: _Optional[int] = ...) -> None: ...

class ApplyBoardsRequest(_message.Message):
    __slots__ = ("tenant_id", "boards", "dry_run", "effective_at", "scorecards")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    SCORECARDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    boards: _containers.RepeatedCompositeFieldContainer[LeaderboardDefinition]
    dry_run: bool
    effective_at: _timestamp_pb2.Timestamp
    scorecards: _containers.RepeatedCompositeFieldContainer[ScorecardDefinition]
    def __init__(self, tenant_id: _Optional[str] = ..., boards: _Optional[_Iterable[_Union[LeaderboardDefinition, _Mapping]]] = ..., dry_run: _Optional[bool] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scorecards: _Optional[_Iterable[_Union[ScorecardDefinition, _Mapping]]] = ...) -> None: ...

class ApplyBoardsResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[_achievements_service_pb2.DefinitionChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[_achievements_service_pb2.DefinitionChange, _Mapping]]] = ...) -> None: ...

class ListBoardsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListBoardsResponse(_message.Message):
    __slots__ = ("boards", "scorecards")
    BOARDS_FIELD_NUMBER: _ClassVar[int]
    SCORECARDS_FIELD_NUMBER: _ClassVar[int]
    boards: _containers.RepeatedCompositeFieldContainer[LeaderboardDefinition]
    scorecards: _containers.RepeatedCompositeFieldContainer[ScorecardDefinition]
    def __init__(self, boards: _Optional[_Iterable[_Union[LeaderboardDefinition, _Mapping]]] = ..., scorecards: _Optional[_Iterable[_Union[ScorecardDefinition, _Mapping]]] = ...) -> None: ...

class GetLeaderboardRequest(_message.Message):
    __slots__ = ("tenant_id", "board_id", "day", "limit", "offset", "scope")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    board_id: str
    day: str
    limit: int
    offset: int
    scope: str
    def __init__(self, tenant_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., scope: _Optional[str] = ...) -> None: ...

class LeaderboardEntry(_message.Message):
    __slots__ = ("rank", "agent_id", "score", "explanation")
    RANK_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    rank: int
    agent_id: str
    score: float
    explanation: _containers.RepeatedCompositeFieldContainer[MetricScore]
    def __init__(self, rank: _Optional[int] = ..., agent_id: _Optional[str] = ..., score: _Optional[float] = ..., explanation: _Optional[_Iterable[_Union[MetricScore, _Mapping]]] = ...) -> None: ...

class GetLeaderboardResponse(_message.Message):
    __slots__ = ("board_id", "period", "entries", "total_agents", "not_eligible_agents")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    NOT_ELIGIBLE_AGENTS_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    period: str
    entries: _containers.RepeatedCompositeFieldContainer[LeaderboardEntry]
    total_agents: int
    not_eligible_agents: int
    def __init__(self, board_id: _Optional[str] = ..., period: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[LeaderboardEntry, _Mapping]]] = ..., total_agents: _Optional[int] = ..., not_eligible_agents: _Optional[int] = ...) -> None: ...

class GetAgentRankRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "board_id", "day", "around", "scope")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    AROUND_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    board_id: str
    day: str
    around: int
    scope: str
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., around: _Optional[int] = ..., scope: _Optional[str] = ...) -> None: ...

class GetAgentRankResponse(_message.Message):
    __slots__ = ("board_id", "period", "rank", "score", "total_agents", "percentile", "around", "events_needed", "explanation")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    AROUND_FIELD_NUMBER: _ClassVar[int]
    EVENTS_NEEDED_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    period: str
    rank: int
    score: float
    total_agents: int
    percentile: float
    around: _containers.RepeatedCompositeFieldContainer[LeaderboardEntry]
    events_needed: int
    explanation: _containers.RepeatedCompositeFieldContainer[MetricScore]
    def __init__(self, board_id: _Optional[str] = ..., period: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., total_agents: _Optional[int] = ..., percentile: _Optional[float] = ..., around: _Optional[_Iterable[_Union[LeaderboardEntry, _Mapping]]] = ..., events_needed: _Optional[int] = ..., explanation: _Optional[_Iterable[_Union[MetricScore, _Mapping]]] = ...) -> None: ...

class ScorecardDefinition(_message.Message):
    __slots__ = ("metadata", "spec", "version", "effective_at")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    metadata: _achievements_service_pb2.ObjectMeta
    spec: ScorecardSpec
    version: int
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, metadata: _Optional[_Union[_achievements_service_pb2.ObjectMeta, _Mapping]] = ..., spec: _Optional[_Union[ScorecardSpec, _Mapping]] = ..., version: _Optional[int] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScorecardSpec(_message.Message):
    __slots__ = ("period", "time_zone", "metrics", "weights")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    period: str
    time_zone: str
    metrics: _containers.RepeatedCompositeFieldContainer[ScorecardMetric]
    weights: _containers.RepeatedCompositeFieldContainer[ScorecardWeights]
    def __init__(self, period: _Optional[str] = ..., time_zone: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[ScorecardMetric, _Mapping]]] = ..., weights: _Optional[_Iterable[_Union[ScorecardWeights, _Mapping]]] = ...) -> None: ...

class ScorecardMetric(_message.Message):
    __slots__ = ("id", "name", "event", "when", "metric", "field", "weight", "min_events", "zones")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WHEN_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MIN_EVENTS_FIELD_NUMBER: _ClassVar[int]
    ZONES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    event: str
    when: str
    metric: str
    field: str
    weight: float
    min_events: int
    zones: _containers.RepeatedCompositeFieldContainer[ScoreZone]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., event: _Optional[str] = ..., when: _Optional[str] = ..., metric: _Optional[str] = ..., field: _Optional[str] = ..., weight: _Optional[float] = ..., min_events: _Optional[int] = ..., zones: _Optional[_Iterable[_Union[ScoreZone, _Mapping]]] = ...) -> None: ...

class ScoreZone(_message.Message):
    __slots__ = ("name", "lower", "upper", "points")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    lower: float
    upper: float
    points: float
    def __init__(self, name: _Optional[str] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ..., points: _Optional[float] = ...) -> None: ...

class ScorecardWeights(_message.Message):
    __slots__ = ("region_id", "site_id", "weights")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REGION_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    region_id: str
    site_id: str
    weights: _containers.ScalarMap[str, float]
    def __init__(self, region_id: _Optional[str] = ..., site_id: _Optional[str] = ..., weights: _Optional[_Mapping[str, float]] = ...) -> None: ...

class MetricScore(_message.Message):
    __slots__ = ("metric_id", "name", "value", "events", "zone", "points", "weight", "contribution")
    METRIC_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    metric_id: str
    name: str
    value: float
    events: int
    zone: str
    points: float
    weight: float
    contribution: float
    def __init__(self, metric_id: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[float] = ..., events: _Optional[int] = ..., zone: _Optional[str] = ..., points: _Optional[float] = ..., weight: _Optional[float] = ..., contribution: _Optional[float] = ...) -> None: ...
