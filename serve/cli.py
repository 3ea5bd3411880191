"""The ``catalog-sync`` console script: the pipeline's CLI with the HTTP API plugged in.

``pipeline`` never imports ``serve``; the commands that serve the API (``serve``,
``demo``) get this runner through the click context instead. It imports Ray Serve and
FastAPI only when a command starts the API, so every other command starts fast.
"""

from __future__ import annotations

from pipeline.cli.main import main as cli
from pipeline.settings import Settings


class LazyApiRunner:
    def start_api(self, settings: Settings, host: str, port: int) -> str:
        from serve.runner import start_api

        return start_api(settings, host, port)

    def stop_api(self) -> None:
        from serve.runner import stop_api

        stop_api()

    def wait_for_interrupt(self) -> None:
        from serve.runner import wait_for_interrupt

        wait_for_interrupt()


def main() -> None:
    cli(obj={"api_runner": LazyApiRunner()})


if __name__ == "__main__":  # pragma: no cover
    main()
