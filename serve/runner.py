"""Run the API on Ray Serve from the CLI (``catalog-sync serve``, ``catalog-sync demo``)."""

from __future__ import annotations

import signal
import threading

from ray import serve

from pipeline.settings import Settings
from serve.app import build_app_from

APP_NAME = "catalog-sync"


def start_api(settings: Settings, host: str, port: int) -> str:
    """Deploy the app on the connected Ray and return its base URL (Ray must be running)."""
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app_from(settings, {}), name=APP_NAME, route_prefix="/", blocking=False)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def stop_api() -> None:
    serve.shutdown()  # type: ignore[no-untyped-call]
