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


async def test_apply_diff_get_and_refusals(start_service, tmp_path: Path) -> None:
    achievements = await start_service("achievements")
    at = [
        "--tenant",
        "acme",
        "--address",
        f"127.0.0.1:{achievements.grpc_port}",
        "--key",
        achievements.keys["acme"],
    ]
    starter = str(programs.STARTER)
    ids = [
        d.message.metadata.id
        for d in programs.parse(programs.STARTER.read_text(), "s")
        if d.kind == "Badge"
    ]  # type: ignore[attr-defined]

    code, out, err = await accolade("apply", "-f", starter, "--dry-run", *at)
    assert code == 0, err
    assert out.splitlines()[0] == f"badge/{ids[0]} created (version 1) (dry run: nothing stored)"
    code, out, _ = await accolade("get", "badges", *at)
    assert (code, out.splitlines()[1:]) == (0, [])

    code, out, err = await accolade("apply", "-f", starter, *at)
    assert code == 0, err
    assert (
        len([line for line in out.splitlines() if line.endswith("created (version 1)")])
        == len(ids) + 1
    )
    code, out, _ = await accolade("get", "badges", *at)
    assert sorted(line.split()[0] for line in out.splitlines()[1:]) == sorted(ids)

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
