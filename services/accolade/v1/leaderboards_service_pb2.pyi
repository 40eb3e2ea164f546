from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetLeaderboardRequest(_message.Message):
    __slots__ = ("tenant_id", "board_id", "day", "limit", "offset")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    board_id: str
    day: str
    limit: int
    offset: int
    def __init__(self, tenant_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class LeaderboardEntry(_message.Message):
    __slots__ = ("rank", "agent_id", "score")
    RANK_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    rank: int
    agent_id: str
    score: float
    def __init__(self, rank: _Optional[int] = ..., agent_id: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class GetLeaderboardResponse(_message.Message):
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

class GetAgentRankRequest(_message.Message):
    __slots__ = ("tenant_id", "agent_id", "board_id", "day", "around")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    AROUND_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    agent_id: str
    board_id: str
    day: str
    around: int
    def __init__(self, tenant_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., board_id: _Optional[str] = ..., day: _Optional[str] = ..., around: _Optional[int] = ...) -> None: ...

class GetAgentRankResponse(_message.Message):
    __slots__ = ("board_id", "period", "rank", "score", "total_agents", "percentile", "around")
    BOARD_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AGENTS_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    AROUND_FIELD_NUMBER: _ClassVar[int]
    board_id: str
    period: str
    rank: int
    score: float
    total_agents: int
    percentile: float
    around: _containers.RepeatedCompositeFieldContainer[LeaderboardEntry]
    def __init__(self, board_id: _Optional[str] = ..., period: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., total_agents: _Optional[int] = ..., percentile: _Optional[float] = ..., around: _Optional[_Iterable[_Union[LeaderboardEntry, _Mapping]]] = ...) -> None: ...
