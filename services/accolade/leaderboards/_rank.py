"""The rank index: one board period's scores in order, with logarithmic rank queries.

Counting the rows ahead of an agent in PostgreSQL costs time in proportion to the
board; a board of a million agents answers that in hundreds of milliseconds. The index
keeps the entries of a period sorted in memory instead, as a list of short sorted runs
(a few hundred entries each, the layout of a B-tree's leaves) with a Fenwick tree over
the runs' lengths: finding a run is a binary search, moving within it a memmove of at
most a few kilobytes, and the count of entries before a run a walk of logarithmic
length. Updates, ranks and positions all cost O(log n).

Order: better score first ("higher" or "lower" is better, by board); among equal scores,
agent ids in code-point order, so a listing is stable. Ranks are standard competition
ranks: equal scores share a rank, and the next rank skips as many as shared it
(1, 2, 2, 4).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable

# Entries per run before it splits in two. Larger runs make updates move more memory and
# the Fenwick tree (rebuilt on a split) smaller; a few hundred balances the two.
RUN = 512

Key = tuple[float, str]  # (score as sorted: negated when higher is better, agent id)


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """An agent's place on a board: rank (shared by equal scores), agent and score."""

    rank: int
    agent_id: str
    score: float


class RankIndex:
    """The scores of one board period, ranked; not safe across threads (one event loop)."""

    def __init__(self, higher_is_better: bool = True, run: int = RUN) -> None:
        self._sign = -1.0 if higher_is_better else 1.0
        self._run = run
        self._scores: dict[str, float] = {}
        self._runs: list[list[Key]] = []
        self._maxes: list[Key] = []  # the last key of each run
        self._tree: list[int] = [0]  # Fenwick tree over run lengths, 1-based

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._scores

    def score(self, agent_id: str) -> float | None:
        """The agent's score, or None when the agent is not on the board."""
        return self._scores.get(agent_id)

    def load(self, scores: Iterable[tuple[str, float]]) -> None:
        """Replaces the whole index with `scores` (agent, score) at once: one sort."""
        self._scores = dict(scores)
        keys = sorted((self._sign * s, a) for a, s in self._scores.items())
        half = max(1, self._run // 2)
        self._runs = [keys[i : i + half] for i in range(0, len(keys), half)]
        self._maxes = [r[-1] for r in self._runs]
        self._rebuild()

    def set(self, agent_id: str, score: float) -> None:
        """Puts the agent on the board with `score`, in place of any earlier score."""
        held = self._scores.get(agent_id)
        if held == score:
            return
        if held is not None:
            self._remove((self._sign * held, agent_id))
        self._scores[agent_id] = score
        self._insert((self._sign * score, agent_id))

    def discard(self, agent_id: str) -> None:
        """Takes the agent off the board, if on it."""
        held = self._scores.pop(agent_id, None)
        if held is not None:
            self._remove((self._sign * held, agent_id))

    def rank(self, agent_id: str) -> Entry | None:
        """The agent's entry, or None when the agent is not on the board."""
        score = self._scores.get(agent_id)
        if score is None:
            return None
        return Entry(self._rank_of(score), agent_id, score)

    def entries(self, offset: int, limit: int) -> list[Entry]:
        """`limit` entries from position `offset` (0 is the best), in board order."""
        out: list[Entry] = []
        if offset < 0 or limit <= 0 or offset >= len(self._scores):
            return out
        i, j = self._locate(offset)
        rank = 0
        last: float | None = None
        while i < len(self._runs) and len(out) < limit:
            run = self._runs[i]
            for key in run[j : j + limit - len(out)]:
                score = self._sign * key[0]
                if score != last:
                    # Entries after the first share its rank while the score holds.
                    rank = self._rank_of(score) if last is None else offset + len(out) + 1
                    last = score
                out.append(Entry(rank, key[1], score))
            i, j = i + 1, 0
        return out

    def around(self, agent_id: str, k: int) -> list[Entry]:
        """The agent's entry with up to `k` entries above and `k` below it."""
        score = self._scores.get(agent_id)
        if score is None:
            return []
        at = self._position((self._sign * score, agent_id))
        start = max(0, at - k)
        return self.entries(start, at - start + k + 1)

    def bottom(self, limit: int) -> list[Entry]:
        """The `limit` lowest placed entries, the lowest first."""
        start = max(0, len(self._scores) - limit)
        return self.entries(start, len(self._scores) - start)[::-1]

    def at_least(self, score: float) -> int:
        """How many entries have a score of at least `score` (whatever the direction)."""
        if self._sign < 0:  # higher is better: such scores sort first
            return self._position((math.nextafter(-score, math.inf), ""))
        return len(self._scores) - self._position((score, ""))

    def percentile(self, agent_id: str) -> float | None:
        """The share of the board, in percent, whose score the agent's beats or equals;
        100 for the best, and for every agent of a board of one."""
        entry = self.rank(agent_id)
        if entry is None:
            return None
        n = len(self._scores)
        if n == 1:
            return 100.0
        at_or_above = self._after(entry.score)
        tied = at_or_above - self._rank_of(entry.score) + 1
        return 100.0 * (n - at_or_above + tied - 1) / (n - 1)

    # Positions.

    def _rank_of(self, score: float) -> int:
        # Every agent id sorts after "", so this counts the strictly better scores.
        return self._position((self._sign * score, "")) + 1

    def _after(self, score: float) -> int:
        """How many entries score as well as `score` or better."""
        return self._position((math.nextafter(self._sign * score, math.inf), ""))

    def _position(self, key: Key) -> int:
        """How many keys sort before `key`."""
        i = bisect.bisect_left(self._maxes, key)
        if i == len(self._runs):
            return len(self._scores)
        return self._before(i) + bisect.bisect_left(self._runs[i], key)

    def _locate(self, position: int) -> tuple[int, int]:
        """The run and the place within it of the entry at `position` (< len)."""
        # Fenwick descent: the last run whose prefix of lengths is <= position.
        i, left = 0, position
        step = 1 << (len(self._runs).bit_length())
        while step:
            nxt = i + step
            if nxt <= len(self._runs) and self._tree[nxt] <= left:
                i = nxt
                left -= self._tree[nxt]
            step >>= 1
        return i, left

    # The runs.

    def _insert(self, key: Key) -> None:
        if not self._runs:
            self._runs, self._maxes = [[key]], [key]
            self._rebuild()
            return
        i = min(bisect.bisect_left(self._maxes, key), len(self._runs) - 1)
        run = self._runs[i]
        bisect.insort(run, key)
        self._maxes[i] = run[-1]
        if len(run) > self._run:
            half = len(run) // 2
            self._runs[i : i + 1] = [run[:half], run[half:]]
            self._maxes[i : i + 1] = [run[half - 1], run[-1]]
            self._rebuild()
        else:
            self._add(i, 1)

    def _remove(self, key: Key) -> None:
        i = bisect.bisect_left(self._maxes, key)
        run = self._runs[i]
        del run[bisect.bisect_left(run, key)]
        if run:
            self._maxes[i] = run[-1]
            self._add(i, -1)
        else:
            del self._runs[i], self._maxes[i]
            self._rebuild()

    # The Fenwick tree over run lengths.

    def _rebuild(self) -> None:
        tree = [0] * (len(self._runs) + 1)
        for i, run in enumerate(self._runs, 1):
            tree[i] += len(run)
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self._tree = tree

    def _add(self, run: int, delta: int) -> None:
        i = run + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def _before(self, run: int) -> int:
        """The number of entries in the runs before `run`."""
        total, i = 0, run
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total


@dataclasses.dataclass(frozen=True, slots=True)
class Distribution:
    """How a board's scores spread: the extremes, the median and equal-width buckets
    (lower, upper, agents), the last of which includes its upper bound."""

    low: float
    high: float
    median: float
    buckets: list[tuple[float, float, int]]


def distribution(index: RankIndex, buckets: int) -> Distribution | None:
    """The spread of the index's scores in `buckets` buckets; None when it is empty.

    Costs O(buckets log n): each bucket is counted from two positions, not by visiting
    its entries.
    """
    n = len(index)
    if n == 0:
        return None
    ends = [index.entries(0, 1)[0].score, index.entries(n - 1, 1)[0].score]
    low, high = min(ends), max(ends)
    middle = (index.entries((n - 1) // 2, 1)[0].score + index.entries(n // 2, 1)[0].score) / 2
    if low == high:
        return Distribution(low, high, middle, [(low, high, n)])
    width = (high - low) / buckets
    edges = [low + i * width for i in range(buckets)] + [high]
    counts = [index.at_least(e) for e in edges[:-1]] + [0]
    out = [(edges[i], edges[i + 1], counts[i] - counts[i + 1]) for i in range(buckets)]
    return Distribution(low, high, middle, out)
