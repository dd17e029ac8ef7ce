"""``Periodic``: a daemon thread that runs a job every ``interval`` seconds until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

_log = logging.getLogger(__name__)


class Periodic:
    """Runs ``job()`` every ``interval`` seconds; a failing run is logged and the next one still happens."""

    def __init__(self, name: str, interval: float, job: Callable[[], object]) -> None:
        self._name, self._interval, self._job = name, interval, job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:  # noqa: BLE001 - a periodic job must survive one bad run
                _log.exception("%s: run failed; retrying in %.0f s", self._name, self._interval)

    def close(self) -> None:
        """Stop and wait for a run in progress to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
