"""Surveys: validated, stored idempotently on their id and published, in shared transactions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import grpc

from accolade.runtime import outbox
from accolade.runtime.errors import AccoladeError
from accolade.runtime.groupcommit import GroupCommit
from accolade.runtime.kafka import envelope_key
from accolade.runtime.metrics import Metrics
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

    @property
    def answers(self) -> tuple[str, str, int, str]:
        """What a resend must repeat to be the same survey."""
        return (self.agent_id, self.interaction_id, self.csat, self.comment)


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
    )


# One statement, so a group of calls costs one round trip and commits on its own: store the
# surveys not stored before, queue the first copy of each for the topic, wake the relay,
# and answer per survey whether it was new and the answers stored before (a snapshot of
# before this statement: a row a concurrent call stored meanwhile shows as neither, and
# is looked up again).
_STORE = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::smallint[],
                         $6::text[], $7::timestamptz[], $8::bytea[], $9::bytea[]) WITH ORDINALITY
        AS x(tenant_id, survey_id, agent_id, interaction_id, csat, comment, submitted_at,
             payload, key, n)
), stored AS (
    INSERT INTO surveys (tenant_id, survey_id, agent_id, interaction_id, csat, comment, submitted_at)
    SELECT tenant_id, survey_id, agent_id, interaction_id, csat, comment, submitted_at
    FROM input ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, survey_id
), published AS (
    INSERT INTO outbox (topic, key, event_id, payload)
    SELECT $10, key, survey_id, payload FROM (
        SELECT DISTINCT ON (i.tenant_id, i.survey_id) i.n, i.key, i.survey_id, i.payload
        FROM input i JOIN stored USING (tenant_id, survey_id)
        ORDER BY i.tenant_id, i.survey_id, i.n
    ) AS first_copies ORDER BY n
    RETURNING 1
)
SELECT s.survey_id IS NOT NULL AS new,
       e.agent_id, e.interaction_id, e.csat, e.comment,
       (SELECT pg_notify($11, current_schema()) WHERE EXISTS (SELECT FROM published)) AS woke
FROM input i
LEFT JOIN stored s USING (tenant_id, survey_id)
LEFT JOIN surveys e ON e.tenant_id = i.tenant_id AND e.survey_id = i.survey_id
ORDER BY i.n
"""


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
        rows = await conn.fetch(
            _STORE,
            [s.tenant_id for s in surveys],
            [s.survey_id for s in surveys],
            [s.agent_id for s in surveys],
            [s.interaction_id for s in surveys],
            [s.csat for s in surveys],
            [s.comment for s in surveys],
            [s.submitted_at for s in surveys],
            [s.envelope.SerializeToString() for s in surveys],
            [envelope_key(s.envelope) for s in surveys],
            self._topic,
            outbox.NOTIFY_CHANNEL,
        )
        known: dict[tuple[str, str], tuple[str, str, int, str]] = {}
        racing = {
            (s.tenant_id, s.survey_id)
            for s, r in zip(surveys, rows, strict=True)
            if not r["new"] and r["agent_id"] is None
        }
        if racing:
            # Stored by a concurrent transaction after this statement took its snapshot.
            found = await conn.fetch(
                "SELECT s.tenant_id, s.survey_id::text, s.agent_id, s.interaction_id, s.csat, s.comment "
                "FROM surveys s JOIN unnest($1::text[], $2::uuid[]) AS k(t, i) "
                "ON s.tenant_id = k.t AND s.survey_id = k.i",
                [t for t, _ in racing],
                [i for _, i in racing],
            )
            known = {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in found}
        results: list[bool | BaseException] = []
        for s, r in zip(surveys, rows, strict=True):
            key = (s.tenant_id, s.survey_id)
            if key not in known and r["new"]:
                known[key] = s.answers
                results.append(True)
                continue
            # A resend repeats the answers; a second copy in this group is judged against
            # the first.
            before = (r["agent_id"], r["interaction_id"], r["csat"], r["comment"])
            if known.setdefault(key, before) == s.answers:
                results.append(False)
            else:
                results.append(
                    SurveyConflict(
                        f"survey {s.survey_id} was already recorded with different answers"
                    )
                )
        return results
