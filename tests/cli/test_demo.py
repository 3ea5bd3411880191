"""The README's first command: ``catalog-sync demo`` on embedded defaults, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_syncs_the_sample_catalog_and_answers_searches(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "MILVUS_", "ELASTICSEARCH_", "GEMINI_", "SIGLIP_", "RAY_"))
    }
    env.update(DATA_DIR=str(tmp_path / "data"), RAY_USAGE_STATS_ENABLED="0", COLUMNS="160")
    done = subprocess.run(
        [sys.executable, "-m", "serve.cli", "demo", "--no-serve", "--bulk", "5"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "tiny untrained SigLIP" in out  # says plainly that vectors are meaningless
    assert "sync results" in out and "completed" in out
    assert "search: ceramic mug" in out and "mug" in out.split("search: ceramic mug")[1][:2000]
    # The embedded redis-server it started is gone with it.
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "data")], capture_output=True)
    assert leftover.stdout == b"", leftover.stdout
