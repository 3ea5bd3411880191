"""The FastAPI app served over real HTTP on loopback by uvicorn, in a thread of the test."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from pipeline.local.services import free_port


class ThreadedUvicorn:
    """``ThreadedUvicorn(app).start()`` ... ``.stop()``, or ``with ThreadedUvicorn(app)``.
    Its lifespan closes the app's dependencies on uvicorn's own loop (their async clients
    live there)."""

    def __init__(self, app: FastAPI, *, proxy_headers: bool = True) -> None:
        """``proxy_headers`` False: uvicorn leaves X-Forwarded-For alone (as Serve's proxy
        does under ``FORWARDED_ALLOW_IPS=``); True is uvicorn's default (trust loopback)."""
        self.port = free_port()
        # ws="none": no websocket library is imported (the page uses none), so none of
        # their deprecation warnings can fire.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none",
            access_log=False, lifespan="on", loop="asyncio", proxy_headers=proxy_headers,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ThreadedUvicorn:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> ThreadedUvicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
