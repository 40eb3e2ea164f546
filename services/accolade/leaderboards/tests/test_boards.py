"""Tenants' boards: the batched tally and the rank index against a recomputation from all
events at once, and the checks a board definition must pass."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accolade.leaderboards._boards import TenantBoards
from accolade.leaderboards._definitions import check_board, compile_board
from accolade.leaderboards._live import Board
from accolade.leaderboards._tally import tally
from accolade.rules.calendar import Calendar
from accolade.runtime.validation import Violations
from accolade.testing import interaction, survey
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1.achievements_service_pb2 import ObjectMeta
from tests.program_reference import board_standings

# Across Europe's change to summer time (29 March 2026) and the end of a month and quarter.
START = datetime(2026, 3, 27, tzinfo=UTC)
ZONES = ["America/New_York", "Europe/Lisbon", "Asia/Kolkata", ""]  # "": the tenant's (UTC)
AGENTS = ["a0", "a1", "a2", "a3", "a4"]
NOWHERE = ("", "", "")  # agents the roster places in no team, site or region


@st.composite
def definitions(draw: st.DrawFn, i: int) -> pb.LeaderboardDefinition:
    on_surveys = draw(st.booleans())
    metric = draw(st.sampled_from(["count", "sum", "avg"]))
    field = "" if metric == "count" else ("csat" if on_surveys else "handle_time")
    when = draw(
        st.sampled_from(
            ["", "event.csat >= 4"] if on_surveys else ["", "event.resolved_first_contact"]
        )
    )
    return pb.LeaderboardDefinition(
        metadata=ObjectMeta(id=f"board-{i}", name=f"Board {i}"),
        spec=pb.LeaderboardSpec(
            event="survey_submitted" if on_surveys else "interaction_completed",
            when=when,
            metric=metric,
            field=field,
            direction=draw(st.sampled_from(["higher", "lower", ""])),
            period=draw(st.sampled_from(["day", "week", "month", "quarter", "all_time", ""])),
            time_zone=draw(st.sampled_from(ZONES)),
            min_events=draw(st.integers(0, 3)),
        ),
    )


@st.composite
def activity(draw: st.DrawFn) -> list:
    out = []
    for _ in range(draw(st.integers(0, 40))):
        agent = draw(st.sampled_from(AGENTS))
        at = START + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
        if draw(st.booleans()):
            out.append(survey("acme", agent, draw(st.integers(1, 5)), occurred_at=at))
        else:
            out.append(
                interaction(
                    "acme",
                    agent,
                    resolved=draw(st.booleans()),
                    occurred_at=at,
                    handle_seconds=draw(st.integers(30, 900)),
                )
            )
    return out


def batches(events: list, cuts: Sequence[int]) -> list[list]:
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [events[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3).flatmap(lambda n: st.tuples(*(definitions(i) for i in range(n)))),
    activity(),
    st.lists(st.integers(0, 40), max_size=5),
    st.randoms(use_true_random=False),
)
def test_batched_tallies_rank_as_all_events_at_once(defs, events, cuts, rng) -> None:
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    held = TenantBoards(1, {d.metadata.id: [compile_board(d, 1, epoch)] for d in defs})
    rules = {d.metadata.id: held.versions[d.metadata.id][-1] for d in defs}
    rng.shuffle(events)  # arrival order is not the order things happened in
    stored: dict[tuple, tuple[list[int], list[float]]] = {}
    live: dict[tuple, Board] = {}  # fed as batches commit, as the consumer feeds the index
    for batch in batches(events, cuts):
        for key, (n, total) in tally(batch, {"acme": held}, lambda _: Calendar()).items():
            held_n, held_total = stored.get(key, ([0], [0.0]))
            stored[key] = ([held_n[0] + n[0]], [held_total[0] + total[0]])
            board = live.setdefault(key[:4], Board(rules[key[1]]))
            board.put(key[4], stored[key], NOWHERE)
    for d in defs:
        expected = board_standings(d, events)
        periods = {k[3] for k in stored if k[1] == d.metadata.id}
        assert periods == set(expected)
        for period, (ranked, waiting) in expected.items():
            key = ("acme", d.metadata.id, 1, period)
            loaded = Board(rules[d.metadata.id])  # as a replica loads it from the table
            loaded.load([(k[4], n, t, *NOWHERE) for k, (n, t) in stored.items() if k[:4] == key])
            for board in (live[key], loaded):
                got = board.index.entries(0, 100)
                assert [(e.rank, e.agent_id) for e in got] == [(r, a) for r, a, _ in ranked]
                assert [e.score for e in got] == [pytest.approx(x) for _, _, x in ranked]
                assert board.waiting == waiting


def test_an_event_at_half_past_eleven_counts_in_its_local_day_and_month() -> None:
    d = pb.LeaderboardDefinition(
        metadata=ObjectMeta(id="march", name="March"),
        spec=pb.LeaderboardSpec(
            event="interaction_completed", period="month", time_zone="America/New_York"
        ),
    )
    rule = compile_board(d, 1, datetime(2026, 1, 1, tzinfo=UTC))
    # 23:30 on 31 March in New York is 03:30 on 1 April in UTC.
    late = datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert rule.period_of(late.astimezone(UTC), "UTC", 0) == date(2026, 3, 1)
    assert rule.period_of(late.astimezone(UTC) + timedelta(minutes=31), "UTC", 0) == date(
        2026, 4, 1
    )
    # A board without a zone of its own counts in the tenant's.
    d.spec.time_zone, d.spec.period = "", "day"
    plain = compile_board(d, 1, datetime(2026, 1, 1, tzinfo=UTC))
    assert plain.period_of(late.astimezone(UTC), "Asia/Tokyo", 0) == date(2026, 4, 1)


def test_every_problem_of_a_definition_is_named() -> None:
    v = Violations()
    check_board(
        v,
        "boards[0]",
        pb.LeaderboardDefinition(
            metadata=ObjectMeta(id="Bad Id", name=""),
            spec=pb.LeaderboardSpec(
                event="survey_submitted",
                when="event.csatt >= 4",
                metric="median",
                direction="up",
                period="fortnight",
                time_zone="Mars/Olympus",
                min_events=-1,
            ),
        ),
    )
    fields = [f for f, _ in v.items]
    assert fields == [
        "boards[0].metadata.id",
        "boards[0].metadata.name",
        "boards[0].spec.when",
        "boards[0].spec.metric",
        "boards[0].spec.min_events",
        "boards[0].spec.direction",
        "boards[0].spec.period",
        "boards[0].spec.time_zone",
    ]
    when = dict(v.items)["boards[0].spec.when"]
    assert "csatt" in when and "1:" in when  # the position in the expression
    v = Violations()
    check_board(
        v,
        "boards[1]",
        pb.LeaderboardDefinition(
            metadata=ObjectMeta(id="aht", name="AHT"),
            spec=pb.LeaderboardSpec(
                event="interaction_completed", metric="avg", field="handle_tme"
            ),
        ),
    )
    assert [f for f, _ in v.items] == ["boards[1].spec.field"]
    v = Violations()
    check_board(
        v,
        "boards[2]",
        pb.LeaderboardDefinition(
            metadata=ObjectMeta(id="x", name="X"), spec=pb.LeaderboardSpec(event="coffee_break")
        ),
    )
    assert [f for f, _ in v.items] == ["boards[2].spec.event"]
