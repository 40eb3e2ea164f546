"""The rank index against a recomputation from the whole board at once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accolade.leaderboards._rank import Entry, RankIndex, distribution

AGENTS = [f"a{i}" for i in range(12)] + ["B", "a", "é"]  # code-point order: "B" < "a" < "é"

# (agent, score) to set, or (agent, None) to take off the board. Few distinct scores,
# so that ties are common.
operations = st.lists(
    st.tuples(
        st.sampled_from(AGENTS),
        st.one_of(st.none(), st.integers(-3, 3).map(float), st.sampled_from([0.5, 1e9, -1e9])),
    ),
    max_size=80,
)


def board(scores: dict[str, float], higher: bool) -> list[Entry]:
    """The whole board, ranked from scratch: sort, then count who is strictly better."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1] if higher else kv[1], kv[0]))
    out = []
    for agent, score in ordered:
        better = sum(1 for s in scores.values() if (s > score if higher else s < score))
        out.append(Entry(better + 1, agent, score))
    return out


def percentile(scores: dict[str, float], agent: str, higher: bool) -> float:
    """The share of the others whose score this agent's beats or equals (100 if alone)."""
    own = scores[agent]
    others = [s for a, s in scores.items() if a != agent]
    if not others:
        return 100.0
    return 100.0 * sum(1 for s in others if (own >= s if higher else own <= s)) / len(others)


def replay(ops: list[tuple[str, float | None]], higher: bool, run: int) -> tuple[RankIndex, dict]:
    index = RankIndex(higher_is_better=higher, run=run)
    scores: dict[str, float] = {}
    for agent, score in ops:
        if score is None:
            index.discard(agent)
            scores.pop(agent, None)
        else:
            index.set(agent, score)
            scores[agent] = score
    return index, scores


@settings(max_examples=300)
@given(
    operations,
    st.booleans(),
    st.sampled_from([1, 2, 3, 8]),
    st.integers(0, 20),
    st.integers(1, 20),
)
def test_every_answer_equals_a_recomputation(ops, higher, run, offset, limit) -> None:
    index, scores = replay(ops, higher, run)
    expected = board(scores, higher)
    assert len(index) == len(expected)
    assert index.entries(0, len(expected) + 1) == expected
    assert index.entries(offset, limit) == expected[offset : offset + limit]
    for at, entry in enumerate(expected):
        assert index.rank(entry.agent_id) == entry
        assert index.around(entry.agent_id, 2) == expected[max(0, at - 2) : at + 3]
        assert index.percentile(entry.agent_id) == percentile(scores, entry.agent_id, higher)
    for agent in set(AGENTS) - set(scores):
        assert index.rank(agent) is None
        assert index.around(agent, 2) == []
    assert index.bottom(limit) == expected[::-1][:limit]
    for x in (-3.5, -1.0, 0.0, 0.5, 2.0, 1e9):
        assert index.at_least(x) == sum(1 for s in scores.values() if s >= x)


@settings(max_examples=200)
@given(operations, st.booleans(), st.integers(1, 7))
def test_a_distribution_counts_every_score_once_in_its_bucket(ops, higher, buckets) -> None:
    index, scores = replay(ops, higher, 2)
    spread = distribution(index, buckets)
    if not scores:
        assert spread is None
        return
    assert spread is not None
    values = sorted(scores.values())
    assert (spread.low, spread.high) == (values[0], values[-1])
    assert spread.median == (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2
    assert sum(n for _, _, n in spread.buckets) == len(values)
    last = len(spread.buckets) - 1
    for i, (lo, hi, n) in enumerate(spread.buckets):
        assert n == sum(1 for v in values if lo <= v and (v < hi or (i == last and v <= hi)))


@given(operations, st.booleans(), st.sampled_from([1, 2, 5]))
def test_a_bulk_load_equals_the_same_scores_set_one_by_one(ops, higher, run) -> None:
    built, scores = replay(ops, higher, run)
    loaded = RankIndex(higher_is_better=higher, run=run)
    loaded.load(scores.items())
    assert loaded.entries(0, 100) == built.entries(0, 100)
    # And a loaded index takes updates like any other.
    for agent, score in ops[:10]:
        for index in (built, loaded):
            if score is None:
                index.discard(agent)
            else:
                index.set(agent, score + 1)
    assert loaded.entries(0, 100) == built.entries(0, 100)


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    index = RankIndex()
    for agent, score in [("carol", 5), ("bob", 7), ("dave", 5), ("alice", 7), ("erin", 1)]:
        index.set(agent, score)
    assert [(e.rank, e.agent_id) for e in index.entries(0, 10)] == [
        (1, "alice"),
        (1, "bob"),
        (3, "carol"),
        (3, "dave"),
        (5, "erin"),
    ]
    # A page that starts inside a tie still gives the tie's rank.
    assert index.entries(3, 2) == [Entry(3, "dave", 5), Entry(5, "erin", 1)]
    assert index.percentile("alice") == 100.0
    assert index.percentile("erin") == 0.0
    assert index.percentile("carol") == 50.0  # beats erin, equals dave, of four others


def test_lower_is_better_reverses_the_order() -> None:
    index = RankIndex(higher_is_better=False)
    for agent, seconds in [("slow", 420.0), ("fast", 180.0), ("mid", 300.0)]:
        index.set(agent, seconds)
    assert [e.agent_id for e in index.entries(0, 3)] == ["fast", "mid", "slow"]
    assert index.rank("slow") == Entry(3, "slow", 420.0)
