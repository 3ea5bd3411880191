"""``catalog-sync`` in a real process, with an environment that holds only what a test sets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """No settings from the caller's shell; DATA_DIR under ``tmp_path``; a wide terminal."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
        "HOME": str(tmp_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        "COLUMNS": "160",
        "DATA_DIR": str(tmp_path / "data"),
        **env,
    }


def cli(
    tmp_path: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serve.cli", *args],
        env=cli_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_process(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """A long-running command (``stats --watch``, ``worker``), output to a file."""
    with open(tmp_path / f"{args[0]}-{time.monotonic_ns()}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "serve.cli", *args],
            env=cli_env(tmp_path, **env),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)
