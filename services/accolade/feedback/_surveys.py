"""Surveys: validated, stored idempotently on their id and published, in shared transactions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import grpc

from accolade.runtime.errors import AccoladeError
from accolade.runtime.groupcommit import GroupCommit
from accolade.runtime.kafka import envelope_key
from accolade.runtime.metrics import Metrics
from accolade.runtime.storeonce import StoreOnce
from accolade.runtime.validation import Violations
from accolade.v1 import envelope_pb2, events_pb2
from accolade.v1 import feedback_service_pb2 as pb

MAX_COMMENT = 2000


class SurveyConflict(AccoladeError):
    """A survey_id was sent again with different content."""

    code = grpc.StatusCode.ALREADY_EXISTS


@dataclasses.dataclass(frozen=True, slots=True)
class Survey:
    """A validated survey and the envelope that publishes it."""

    tenant_id: str
    survey_id: str
    agent_id: str
    interaction_id: str
    csat: int
    comment: str
    submitted_at: datetime
    envelope: envelope_pb2.Envelope
    nps: int | None = None

    @property
    def answers(self) -> tuple[str, str, int, str, int | None]:
        """What a resend must repeat to be the same survey."""
        return (self.agent_id, self.interaction_id, self.csat, self.comment, self.nps)


def validate(request: pb.SubmitSurveyRequest, now: datetime) -> Survey:
    """Checks a survey and builds its envelope (the survey id is the event id).

    Raises:
        InvalidArgument: one violation per bad field, such as "csat".
    """
    v = Violations()
    v.identifier("tenant_id", request.tenant_id)
    v.identifier("agent_id", request.agent_id)
    survey_id = v.uuid("survey_id", request.survey_id)
    if not request.interaction_id:
        v.add("interaction_id", "is required")
    if not 1 <= request.csat <= 5:
        v.add("csat", f"must be between 1 and 5, not {request.csat}")
    nps = request.nps if request.HasField("nps") else None
    if nps is not None and not 0 <= nps <= 10:
        v.add("nps", f"must be between 0 and 10, not {nps}")
    if len(request.comment) > MAX_COMMENT:
        v.add("comment", f"must be at most {MAX_COMMENT} characters, not {len(request.comment)}")
    if request.HasField("submitted_at"):
        v.timestamp("submitted_at", request.submitted_at, True, now=now)
    v.check()
    submitted_at = (
        request.submitted_at.ToDatetime(tzinfo=now.tzinfo)
        if request.HasField("submitted_at")
        else now
    )
    envelope = envelope_pb2.Envelope(
        # The survey id is the event id: a resent survey is the same fact.
        event_id=survey_id,
        tenant_id=request.tenant_id,
        agent_id=request.agent_id,
        survey_submitted=events_pb2.SurveySubmitted(
            survey_id=survey_id,
            interaction_id=request.interaction_id,
            csat=request.csat,
            comment=request.comment,
            nps=nps,
        ),
    )
    envelope.occurred_at.FromDatetime(submitted_at)
    envelope.recorded_at.FromDatetime(now)
    return Survey(
        request.tenant_id,
        survey_id,
        request.agent_id,
        request.interaction_id,
        request.csat,
        request.comment,
        submitted_at,
        envelope,
        nps,
    )


# Surveys, kept once each: a resend repeats the answers.
_SURVEYS = StoreOnce(
    "surveys",
    [
        ("tenant_id", "text"),
        ("survey_id", "uuid"),
        ("agent_id", "text"),
        ("interaction_id", "text"),
        ("csat", "smallint"),
        ("comment", "text"),
        ("submitted_at", "timestamptz"),
        ("nps", "smallint"),
    ],
    key=("tenant_id", "survey_id"),
    compare=["agent_id", "interaction_id", "csat", "comment", "nps"],
)


class Surveys:
    """Records surveys; concurrent calls share transactions (group commit).

    Each call is answered only after the statement storing its survey committed.
    """

    def __init__(self, pool: asyncpg.Pool, topic: str, metrics: Metrics) -> None:
        self._topic = topic
        self._commits: GroupCommit[Survey, bool] = GroupCommit(
            pool,
            self._flush,
            transaction=False,
            observe=metrics.commit_group_calls.labels("surveys").observe,
        )

    async def record(self, survey: Survey) -> bool:
        """Stores and publishes `survey` unless stored before; returns whether it is new.

        Raises:
            SurveyConflict: the survey id was recorded before with different answers.
        """
        return await self._commits.submit(survey)

    async def _flush(
        self, conn: asyncpg.Connection, surveys: Sequence[Survey]
    ) -> list[bool | BaseException]:
        found = await _SURVEYS.store(
            conn,
            [
                (
                    s.tenant_id,
                    s.survey_id,
                    s.agent_id,
                    s.interaction_id,
                    s.csat,
                    s.comment,
                    s.submitted_at,
                    s.nps,
                )
                for s in surveys
            ],
            [(envelope_key(s.envelope), s.envelope.SerializeToString()) for s in surveys],
            self._topic,
        )
        results: list[bool | BaseException] = []
        for s, stored in zip(surveys, found, strict=True):
            if stored.new or stored.kept == s.answers:
                results.append(stored.new)  # a resend with the same answers is a duplicate
            else:
                results.append(
                    SurveyConflict(
                        f"survey {s.survey_id} was already recorded with different answers"
                    )
                )
        return results
