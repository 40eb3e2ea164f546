"""The committed protobuf stubs are exactly what `make proto` generates."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path


def test_committed_stubs_match_the_protos(repo_root: Path, tmp_path: Path) -> None:
    subprocess.run([repo_root / "scripts" / "proto.sh", str(tmp_path)], check=True, cwd=repo_root)
    fresh = tmp_path / "accolade" / "v1"
    committed = repo_root / "services" / "accolade" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.is_file())
    assert names == sorted(
        p.name for p in committed.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"}
    )
    _, mismatch, errors = filecmp.cmpfiles(fresh, committed, names, shallow=False)
    assert (mismatch, errors) == ([], []), "stale stubs: run `make proto` and commit the result"
