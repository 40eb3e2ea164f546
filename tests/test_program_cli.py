"""`accolade apply` and `accolade get` against a running achievements service."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from accolade import programs


async def accolade(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accolade.cli",
        *args,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def targets(achievements, leaderboards) -> list[str]:  # type: ignore[no-untyped-def]
    """The options that point the command at the test's two services, as acme's admin."""
    return [
        "--tenant",
        "acme",
        "--address",
        f"127.0.0.1:{achievements.grpc_port}",
        "--leaderboards",
        f"127.0.0.1:{leaderboards.grpc_port}",
        "--key",
        achievements.keys["acme"],
    ]


async def test_apply_diff_get_and_refusals(start_service, tmp_path: Path) -> None:
    achievements = await start_service("achievements")
    leaderboards = await start_service("leaderboards")
    at = targets(achievements, leaderboards)
    starter = str(programs.STARTER)
    documents = programs.parse(programs.STARTER.read_text(), "s")
    ids = [d.message.metadata.id for d in documents if d.kind == "Badge"]  # type: ignore[attr-defined]
    boards = [d.message.metadata.id for d in documents if d.kind == "Leaderboard"]  # type: ignore[attr-defined]
    cards = [d.message.metadata.id for d in documents if d.kind == "Scorecard"]  # type: ignore[attr-defined]
    assert cards  # the starter program has a scorecard, applied with its boards

    code, out, err = await accolade("apply", "-f", starter, "--dry-run", *at)
    assert code == 0, err
    assert out.splitlines()[0] == f"badge/{ids[0]} created (version 1) (dry run: nothing stored)"
    code, out, _ = await accolade("get", "badges", *at)
    assert (code, out.splitlines()[1:]) == (0, [])

    code, out, err = await accolade("apply", "-f", starter, *at)
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.endswith("created (version 1)")]) == len(
        ids
    ) + 1 + len(boards) + len(cards)
    code, out, _ = await accolade("get", "badges", *at)
    assert sorted(line.split()[0] for line in out.splitlines()[1:]) == sorted(ids)
    code, out, _ = await accolade("get", "boards", *at)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "daily-resolutions",
        *sorted(boards),
        *sorted(cards),
    ]

    # What `get -o yaml` prints applies again as it is, changing nothing.
    code, out, _ = await accolade("get", "badges", "csat-champion", "-o", "yaml", *at)
    assert code == 0
    (doc,) = yaml.safe_load_all(out)
    assert (doc["kind"], doc["metadata"]["id"], doc["metadata"]["version"]) == (
        "Badge",
        "csat-champion",
        1,
    )
    del doc["metadata"]["version"], doc["metadata"]["effective_at"]
    changed = tmp_path / "changed.yaml"
    doc["spec"]["tiers"][0]["threshold"] = 12
    changed.write_text(yaml.safe_dump(doc))
    code, out, _ = await accolade("apply", "-f", str(changed), "--dry-run", *at)
    assert code == 0
    assert "-    threshold: 10\n" in out and "+    threshold: 12\n" in out
    assert (
        out.splitlines()[-1] == "badge/csat-champion updated (version 2) (dry run: nothing stored)"
    )

    # A misspelt key is found in the file; bad CEL and tiers by the service. Either way
    # each problem names its document and field, and nothing is applied.
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "apiVersion: accolade/v1\nkind: Badge\nmetadata: {id: x, name: X}\n"
        "spec: {event: survey_submitted, wehn: 'event.csat == 5', tiers: [{id: a, threshold: 1}]}\n"
    )
    code, _, err = await accolade("apply", "-f", str(typo), *at)
    assert code == 1
    assert "typo.yaml, document 1 (Badge x): spec.wehn: unknown field" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: accolade/v1\nkind: Badge\nmetadata: {id: fine, name: Fine}\n"
        "spec: {event: survey_submitted, tiers: [{id: a, threshold: 1}]}\n---\n"
        "apiVersion: accolade/v1\nkind: Badge\nmetadata: {id: broken, name: Broken}\n"
        "spec:\n  event: survey_submitted\n  when: event.csat = 5\n"
        "  tiers: [{id: b, threshold: 5}, {id: a, threshold: 1}]\n"
    )
    code, _, err = await accolade("apply", "-f", str(bad), *at)
    assert code == 1
    assert "nothing was applied" in err
    assert "bad.yaml, document 2 (Badge broken): spec.when: 1:12: Syntax error" in err
    assert "bad.yaml, document 2 (Badge broken): spec.tiers[1].threshold: tiers must ascend" in err
    code, out, _ = await accolade("get", "badges", "fine", *at)
    assert code == 1


BOARDS = """
apiVersion: accolade/v1
kind: Leaderboard
metadata: {id: csat-month, name: CSAT this month}
spec: {event: survey_submitted, metric: avg, field: csat, period: month, min_events: 20}
---
apiVersion: accolade/v1
kind: Badge
metadata: {id: five-stars, name: Five stars}
spec:
  event: survey_submitted
  when: event.csat == 5
  tiers: [{id: one, threshold: 1, xp: 5}]
"""


async def test_a_file_of_badges_and_boards_goes_to_both_services_or_to_neither(
    start_service, tmp_path: Path
) -> None:
    achievements = await start_service("achievements")
    leaderboards = await start_service("leaderboards")
    at = targets(achievements, leaderboards)
    # A typo in the board's condition: neither the board nor the badge is applied.
    bad = tmp_path / "bad.yaml"
    bad.write_text(BOARDS.replace("metric: avg,", "metric: avg, when: event.csta > 0,"))
    code, _, err = await accolade("apply", "-f", str(bad), *at)
    assert code == 1
    assert "bad.yaml, document 1 (Leaderboard csat-month): spec.when: 1:6: " in err, err
    code, out, _ = await accolade("get", "badges", *at)
    assert (code, out.splitlines()[1:]) == (0, [])
    code, out, _ = await accolade("get", "boards", *at)
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["daily-resolutions"]

    good = tmp_path / "good.yaml"
    good.write_text(BOARDS)
    code, out, err = await accolade("apply", "-f", str(good), *at)
    assert code == 0, err
    assert out.splitlines() == [
        "badge/five-stars created (version 1)",
        "leaderboard/csat-month created (version 1)",
    ]
    # What `get boards -o yaml` prints applies again as it is, changing nothing.
    code, out, _ = await accolade("get", "boards", "csat-month", "-o", "yaml", *at)
    (doc,) = yaml.safe_load_all(out)
    assert (doc["kind"], doc["spec"]["min_events"], doc["metadata"]["version"]) == (
        "Leaderboard",
        20,
        1,
    )
    del doc["metadata"]["version"], doc["metadata"]["effective_at"]
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(doc))
    code, out, err = await accolade("apply", "-f", str(again), *at)
    assert (code, out.splitlines()) == (0, ["leaderboard/csat-month unchanged (version 1)"]), err
