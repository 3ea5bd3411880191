"""With Redis unreachable every command says so in one line and exits 2; ``--debug``
shows the traceback. No log line before the answer ("reusing redis" is debug)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import main
from pipeline.errors import BackendUnavailable

DOWN = "redis://127.0.0.1:1/0"
LINE = "Redis at 127.0.0.1:1 refused the connection: start it or set REDIS_URL"

# ``info`` reports an unreachable Redis as a line of its report (tests/cli/test_info.py).
COMMANDS = [
    ["stats"],
    ["dlq", "list"],
    ["keys", "create", "--admin"],
    ["keys", "list"],
    ["keys", "revoke", "abcdef12"],
    ["sellers", "list"],
    ["sync", "--seller", "s1", "https://wa.me/c/15551234567"],
]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield {"REDIS_URL": DOWN, "DATA_DIR": str(tmp_path)}
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_unreachable_redis_is_one_line_and_exit_2(env: dict[str, str], args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert LINE in lines[0]
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["--debug", "stats"], env=env)
    assert isinstance(result.exception, BackendUnavailable)
    assert LINE in str(result.exception)


def test_the_installed_entry_point_prints_only_the_line(tmp_path: Path, redis_url: str) -> None:
    """A real process: no INFO lines before the answer, the error alone after it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "LOG_"))}
    base.update(DATA_DIR=str(tmp_path))
    ok = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "dlq", "list"],
        env={**base, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    down = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "dlq", "list"],
        env={**base, "REDIS_URL": DOWN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 2
    assert down.stderr.strip().splitlines() == [f"Error: {LINE} (--debug shows the traceback)"]


@pytest.mark.parametrize("flag", ["--seller", "--seller-id"])
def test_scrape_takes_seller_like_sync_with_the_old_flag_as_alias(
    env: dict[str, str], flag: str
) -> None:
    """Not a usage error (2) with either name: the URL's refusal (1) is the answer."""
    result = CliRunner().invoke(main, ["scrape", flag, "s1", "file:///etc/passwd"], env=env)
    assert result.exit_code == 1, result.output
    assert "No such option" not in result.output
