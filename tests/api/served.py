"""A real evidence service on a local port (uvicorn in a thread), for tests that speak HTTP to it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from evidence_api.config import Settings
from evidence_api.main import create_app


@contextmanager
def served(settings: Settings) -> Iterator[tuple[str, FastAPI]]:
    """Serve ``create_app(settings)`` on 127.0.0.1 until the block ends; yields the base URL and the app.

    The listening socket is bound before the server thread starts, so a first request simply waits in the
    backlog until the app's startup is done: no polling for readiness."""
    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="served-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
