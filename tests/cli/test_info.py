"""``catalog-sync info`` in a real process: passwords in REDIS_URL, MILVUS_URI and
ELASTICSEARCH_URL never reach its output, and a backend that does not answer is a line of
the report (exit 1), not a traceback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.common import configure_logging
from pipeline.local.services import free_port
from pipeline.redact import redact
from pipeline.settings import Settings

SECRETS = ("hunter2redis", "milvus-pw-77", "es-pw-99", "tok-55")


def _info(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", str(Path(__file__).resolve().parents[2])),
        "HOME": str(tmp_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        "DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli.main", "info", "--json"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _nobody() -> str:
    return f"127.0.0.1:{free_port()}"


def test_info_with_every_backend_down_reports_them_without_passwords(tmp_path: Path) -> None:
    done = _info(
        tmp_path,
        REDIS_URL=f"redis://:hunter2redis@{_nobody()}/0",
        MILVUS_URI=f"http://root:milvus-pw-77@{_nobody()}",
        ELASTICSEARCH_URL=f"http://elastic:es-pw-99@{_nobody()}/?token=tok-55",
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, secret
    report = json.loads(done.stdout)
    assert report["redis_ping"] is False and report["redis_error"]
    assert report["vectors_reachable"] is False and report["keyword_index_reachable"] is False
    assert report["vectors"].startswith("http://root:***@")


def test_info_with_redis_up_says_so(tmp_path: Path, redis_url: str) -> None:
    done = _info(tmp_path, REDIS_URL=redis_url, MILVUS_URI=f"http://u:milvus-pw-77@{_nobody()}")
    assert done.returncode == 1, done.stderr  # Milvus does not answer
    report = json.loads(done.stdout)
    assert report["redis_ping"] is True and report["keyword_index_reachable"] is True
    assert "milvus-pw-77" not in done.stdout


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("rediss://user:pw@h/0", "rediss://user:***@h/0"),
        ("https://ghp_token@host/x", "https://***@host/x"),
        ("http://h/?password=pw&x=1", "http://h/?password=***&x=1"),
        (
            "failed: Error connecting to redis://a:b@c:6379.",
            "failed: Error connecting to redis://a:***@c:6379.",
        ),
        ("no url here", "no url here"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_log_lines_are_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings.defaults().with_overrides(core={"data_dir": tmp_path}))
        logging.getLogger("pipeline.test").warning("cannot reach %s", "redis://:hunter2redis@h/0")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "cannot reach redis://:***@h/0" in err and "hunter2redis" not in err


def test_handlers_we_did_not_build_are_redacted_too() -> None:
    """Ray's handlers in Serve replicas: a filter rewrites the record, traceback included."""
    import io

    from pipeline.redact import redact_root_handlers

    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        redact_root_handlers()
        redact_root_handlers()  # idempotent
        assert len(handler.filters) == 1
        try:
            raise ConnectionError("Error connecting to redis://:hunter2redis@h:6379")
        except ConnectionError:
            logging.getLogger("serve.x").exception("failed on %s", "http://u:milvus-pw-77@m/")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "hunter2redis" not in text and "milvus-pw-77" not in text, text
    assert "redis://:***@h:6379" in text and "Traceback" in text
