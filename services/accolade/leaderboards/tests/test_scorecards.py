"""Scorecards: metrics normalised through zones, weighted per region or site, ranked as a
hand computation says, each entry explaining its score; and every board ranked in every
scope of the roster."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from accolade.leaderboards._boards import TenantBoards
from accolade.leaderboards._definitions import check_scorecard, compile_scorecard
from accolade.leaderboards._live import Board
from accolade.leaderboards._tally import tally
from accolade.leaderboards.tests.test_boards import AGENTS, ZONES, activity, batches
from accolade.rules.calendar import Calendar
from accolade.runtime.interceptors import bad_request_violations
from accolade.runtime.validation import Violations
from accolade.testing import caught_up, eventually, interaction, produce
from accolade.v1 import envelope_pb2, events_pb2
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc
from accolade.v1.achievements_service_pb2 import ObjectMeta
from tests.program_reference import scorecard_standings


def zone(name: str, points: float, lower: float | None = None, upper: float | None = None):
    z = pb.ScoreZone(name=name, points=points)
    if lower is not None:
        z.lower = lower
    if upper is not None:
        z.upper = upper
    return z


FCR = pb.ScorecardMetric(
    id="fcr",
    name="First-contact resolution",
    event="interaction_completed",
    metric="rate",
    field="resolved_first_contact",
    zones=[zone("Out", 0, upper=50), zone("Good", 50, 50, 80), zone("Great", 100, lower=80)],
)
AHT = pb.ScorecardMetric(
    id="aht",
    name="Handle time",
    event="interaction_completed",
    metric="avg",
    field="handle_time",
    # Lower is better: the points fall as the value rises.
    zones=[zone("Great", 100, upper=300), zone("Good", 50, 300, 600), zone("Out", 0, lower=600)],
)
BALANCED = pb.ScorecardDefinition(
    metadata=ObjectMeta(id="balanced", name="Balanced"),
    spec=pb.ScorecardSpec(
        period="week",
        time_zone="UTC",
        metrics=[FCR, AHT],
        weights=[
            pb.ScorecardWeights(region_id="north", weights={"aht": 0}),
            pb.ScorecardWeights(region_id="south", weights={"fcr": 3}),
            pb.ScorecardWeights(site_id="porto", weights={"aht": 3}),
        ],
    ),
)
# Monday 6 April 2026: its week.
MONDAY = datetime(2026, 4, 6, 9, tzinfo=UTC)
# (agent, resolved first contact, handle seconds) of their interactions that week.
WORK = [
    ("ana", True, 600), ("ana", True, 700),  # fcr 100: Great 100; aht 650: Out 0
    ("ben", True, 150), ("ben", False, 250),  # fcr 50: Good 50; aht 200: Great 100
    ("cy", True, 350), ("cy", True, 450),  # fcr 100: Great 100; aht 400: Good 50
]  # fmt: skip
# By hand, with each metric's own weight (1 and 1): ben 75, cy 75, ana 50.
# With the weights of their places: ana (north: fcr 1, aht 0) 100 / 1 = 100; ben (south:
# fcr 3, aht 1) (150 + 100) / 4 = 62.5; cy (site porto, over region south: fcr 1, aht 3)
# (100 + 150) / 4 = 62.5. Ties share a rank.
# A lateness that still counts the events of early 2026 these tests send.
SINCE_2026 = int((datetime.now(UTC) - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds()) + 86400

BY_HAND = [(1, "ana", 100.0), (2, "ben", 62.5), (2, "cy", 62.5)]
UNWEIGHTED = [(1, "ben", 75.0), (1, "cy", 75.0), (3, "ana", 50.0)]


def test_weights_of_the_agents_place_change_ranks_as_computed_by_hand() -> None:
    rule = compile_scorecard(BALANCED, 1, MONDAY)
    counts = {
        a: ([2, 2], [float(sum(r for x, r, _ in WORK if x == a)), float(sum(s for x, _, s in WORK if x == a))])
        for a in ("ana", "ben", "cy")
    }  # fmt: skip
    places = {"ana": ("", "north"), "ben": ("", "south"), "cy": ("porto", "south")}
    assert {a: rule.score(*counts[a], *places[a]) for a in counts} == {
        "ana": 100.0,
        "ben": 62.5,
        "cy": 62.5,
    }
    assert {a: rule.score(*counts[a]) for a in counts} == {"ana": 50.0, "ben": 75.0, "cy": 75.0}
    cy = rule.explain(*counts["cy"], *places["cy"])
    assert [(x.part.id, x.value, x.zone, x.points, x.weight) for x in cy] == [
        ("fcr", 100.0, "Great", 100, 1.0),
        ("aht", 400.0, "Good", 50, 3.0),
    ]
    assert sum(x.contribution for x in cy) == rule.score(*counts["cy"], *places["cy"])


def test_every_problem_of_a_scorecard_is_named() -> None:
    bad = pb.ScorecardDefinition(
        metadata=ObjectMeta(id="card", name="Card"),
        spec=pb.ScorecardSpec(
            period="fortnight",
            metrics=[
                pb.ScorecardMetric(
                    id="fcr",
                    event="interaction_completed",
                    metric="rate",
                    field="handle_time",
                    zones=[zone("Low", 0, upper=50), zone("High", 1, lower=60)],
                ),
                pb.ScorecardMetric(id="fcr", event="interaction_completed", weight=-1),
            ],
            weights=[pb.ScorecardWeights(region_id="emea", site_id="x", weights={"qa": 1})],
        ),
    )
    v = Violations()
    check_scorecard(v, "scorecards[0]", bad)
    assert [f for f, _ in v.items] == [
        "scorecards[0].spec.period",
        "scorecards[0].spec.metrics[0].field",
        "scorecards[0].spec.metrics[0].zones[1].lower",
        "scorecards[0].spec.metrics[1].id",
        "scorecards[0].spec.metrics[1].weight",
        "scorecards[0].spec.metrics[1].zones",
        "scorecards[0].spec.weights[0]",
        "scorecards[0].spec.weights[0].weights[qa]",
    ]


def _entry(agent: str, version: int, *, region: str, site: str = "", team: str = ""):
    e = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id="acme",
        agent_id=agent,
        agent_updated=events_pb2.AgentUpdated(
            version=version, region_id=region, site_id=site, team_id=team
        ),
    )
    e.occurred_at.GetCurrentTime()
    return e


def ranking(entries) -> list[tuple[int, str, float]]:
    return [(e.rank, e.agent_id, e.score) for e in entries]


async def test_a_scorecard_ranks_by_weighted_points_in_every_scope(start_service, infra) -> None:
    leaderboards = await start_service("leaderboards", lateness_seconds=SINCE_2026)
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    topics = leaderboards.settings.topics
    plain = pb.ScorecardDefinition()
    plain.CopyFrom(BALANCED)
    plain.metadata.id, plain.metadata.name = "plain", "Plain"
    del plain.spec.weights[:]
    effective = MONDAY - timedelta(days=1)
    applied = await stub.ApplyBoards(
        pb.ApplyBoardsRequest(
            tenant_id="acme", scorecards=[BALANCED, plain], effective_at=_ts(effective)
        )
    )
    assert [(c.kind, c.id, c.action) for c in applied.changes] == [
        ("Scorecard", "balanced", "created"),
        ("Scorecard", "plain", "created"),
    ]
    await produce(
        infra.bootstrap,
        topics.topic("roster"),
        [
            _entry("ana", 1, region="north", team="red"),
            _entry("ben", 1, region="south", team="red"),
            _entry("cy", 1, region="south", site="porto", team="blue"),
        ],
    )
    await caught_up(leaderboards.settings)  # the roster is in before the work counts
    await produce(
        infra.bootstrap,
        topics.topic("activity"),
        [
            interaction("acme", a, resolved=r, handle_seconds=s, occurred_at=MONDAY)
            for a, r, s in WORK
        ],
    )

    async def board(board_id: str, scope: str = "") -> pb.GetLeaderboardResponse:
        return await stub.GetLeaderboard(
            pb.GetLeaderboardRequest(
                tenant_id="acme", board_id=board_id, day="2026-04-08", scope=scope
            )
        )

    got = await eventually(lambda: board("balanced"), lambda r: ranking(r.entries) == BY_HAND)
    assert got.period == "2026-04-06"
    assert ranking((await board("plain")).entries) == UNWEIGHTED
    # Each entry explains its score: the metrics' contributions add up to it.
    for e in got.entries:
        assert sum(x.contribution for x in e.explanation) == pytest.approx(e.score)
        assert all(x.events == 2 for x in e.explanation)
    cy = {x.metric_id: x for x in got.entries[2].explanation}
    assert (cy["aht"].value, cy["aht"].zone, cy["aht"].points, cy["aht"].weight) == (
        400,
        "Good",
        50,
        3,
    )
    # Every scope of the roster is ranked without defining the board again.
    assert ranking((await board("balanced", "region:south")).entries) == [
        (1, "ben", 62.5),
        (1, "cy", 62.5),
    ]
    assert ranking((await board("plain", "team:red")).entries) == [(1, "ben", 75), (2, "ana", 50)]
    assert ranking((await board("plain", "site:porto")).entries) == [(1, "cy", 75)]
    rank = await stub.GetAgentRank(
        pb.GetAgentRankRequest(
            tenant_id="acme",
            agent_id="ana",
            board_id="balanced",
            day="2026-04-08",
            scope="team:red",
        )
    )
    assert (rank.rank, rank.score, rank.total_agents) == (1, 100, 2)
    assert sum(x.contribution for x in rank.explanation) == pytest.approx(100)

    # Ana moves south: her weights (fcr 3, aht 1) give (300 + 0) / 4 = 75, and the
    # south's board now holds her; red's no longer does.
    await produce(infra.bootstrap, topics.topic("roster"), [_entry("ana", 2, region="south")])
    await eventually(
        lambda: board("balanced"),
        lambda r: ranking(r.entries) == [(1, "ana", 75), (2, "ben", 62.5), (2, "cy", 62.5)],
    )
    south = await eventually(
        lambda: board("balanced", "region:south"), lambda r: len(r.entries) == 3
    )
    assert ranking(south.entries)[0] == (1, "ana", 75)
    assert ranking((await board("plain", "team:red")).entries) == [(1, "ben", 75)]

    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await board("balanced", "floor:3")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(bad.value)] == ["scope"]


def _ts(at: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


# Weights whose sums are powers of two, so the scores are exact in binary and ties are
# ties both here and in the reference's fractions.
WEIGHT_PAIRS = [(1, 1), (1, 3), (3, 1), (2, 2), (0, 1)]
PLACES = [("", ""), ("", "north"), ("", "south"), ("porto", "south"), ("porto", "")]


@st.composite
def zones(draw: st.DrawFn, cuts: list[float]) -> list[pb.ScoreZone]:
    bounds = sorted(set(draw(st.lists(st.sampled_from(cuts), min_size=0, max_size=3))))
    points = [draw(st.sampled_from([0, 25, 50, 75, 100])) for _ in range(len(bounds) + 1)]
    edges = [None, *bounds, None]
    return [zone(f"z{k}", points[k], edges[k], edges[k + 1]) for k in range(len(bounds) + 1)]


@st.composite
def scorecards(draw: st.DrawFn) -> pb.ScorecardDefinition:
    fcr = pb.ScorecardMetric(
        id="fcr",
        event="interaction_completed",
        metric="rate",
        field="resolved_first_contact",
        min_events=draw(st.integers(0, 2)),
        zones=draw(zones([25, 50, 75])),
    )
    second = draw(
        st.sampled_from(
            [
                ("interaction_completed", "avg", "handle_time", ""),
                ("interaction_completed", "count", "", "event.resolved_first_contact"),
                ("survey_submitted", "avg", "csat", ""),
                ("survey_submitted", "sum", "csat", "event.csat >= 4"),
            ]
        )
    )
    other = pb.ScorecardMetric(
        id="other",
        event=second[0],
        metric=second[1],
        field=second[2],
        when=second[3],
        min_events=draw(st.integers(0, 2)),
        zones=draw(zones([2, 3, 4, 300, 600])),
    )
    w = draw(st.sampled_from(WEIGHT_PAIRS[:-1]))
    fcr.weight, other.weight = w
    weights = []
    for region in ("north", "south"):
        if draw(st.booleans()):
            a, b = draw(st.sampled_from(WEIGHT_PAIRS))
            weights.append(pb.ScorecardWeights(region_id=region, weights={"fcr": a, "other": b}))
    if draw(st.booleans()):
        a, b = draw(st.sampled_from(WEIGHT_PAIRS))
        weights.append(pb.ScorecardWeights(site_id="porto", weights={"fcr": a, "other": b}))
    return pb.ScorecardDefinition(
        metadata=ObjectMeta(id="card", name="Card"),
        spec=pb.ScorecardSpec(
            period=draw(st.sampled_from(["day", "week", "month", ""])),
            time_zone=draw(st.sampled_from(ZONES)),
            metrics=[fcr, other],
            weights=weights,
        ),
    )


@settings(max_examples=150, deadline=None)
@given(
    scorecards(),
    activity(),
    st.lists(st.sampled_from(PLACES), min_size=len(AGENTS), max_size=len(AGENTS)),
    st.lists(st.integers(0, 40), max_size=5),
    st.randoms(use_true_random=False),
)
def test_batched_scorecards_rank_as_all_events_at_once(card, events, places, cuts, rng) -> None:
    v = Violations()
    check_scorecard(v, "card", card)
    assert not v.items
    rule = compile_scorecard(card, 1, datetime(2026, 1, 1, tzinfo=UTC))
    held = TenantBoards(1, {"card": [rule]})
    where = {a: ("", *p) for a, p in zip(AGENTS, places, strict=True)}  # (team, site, region)
    rng.shuffle(events)
    stored: dict[tuple, tuple[list[int], list[float]]] = {}
    live: dict[tuple, Board] = {}
    for batch in batches(events, cuts):
        for key, (n, total) in tally(batch, {"acme": held}, lambda _: Calendar()).items():
            was = stored.get(key, ([0, 0], [0.0, 0.0]))
            stored[key] = (
                [a + b for a, b in zip(was[0], n, strict=True)],
                [a + b for a, b in zip(was[1], total, strict=True)],
            )
            live.setdefault(key[:4], Board(rule)).put(key[4], stored[key], where[key[4]])
    expected = scorecard_standings(card, events, dict(zip(AGENTS, places, strict=True)))
    assert {k[3] for k in stored} == set(expected)
    for period, (ranked, waiting) in expected.items():
        board = live[("acme", "card", 1, period)]
        got = board.index.entries(0, 100)
        assert [(e.rank, e.agent_id, e.score) for e in got] == ranked
        assert board.waiting == waiting
        for e in got:
            assert sum(x.contribution for x in board.explain(e.agent_id)) == e.score
