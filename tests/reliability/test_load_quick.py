"""The load benchmark at its CI size: concurrent syncs over HTTP through real worker
processes, then every invariant (one final state per job, ``stats --check``, each product
live once, no product indexed twice). The full size is a README command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_load_quick_keeps_every_invariant(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--quick", "--workers", "1",
         "--results-dir", str(tmp_path)],
        capture_output=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    [result] = json.loads((tmp_path / "load.json").read_text())["results"]
    sound = result["invariants"]
    assert sound["stats_check_ok"] and sound["all_final"], sound
    assert sound["live"] == sound["expected_live"] == sound["keyword_docs"] == sound["vector_rows"]
    assert sum(result["dead"].values()) == 0
    assert result["jobs"] >= 20 * (2 + 3 * 5)  # every type ran: syncs, scrapes, 3 per product
    assert (tmp_path / "load-1w.png").stat().st_size > 1000
