"""Start a test server as a child process and wait, with a deadline, for the line that says it is ready."""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Server:
    """A child process, the match of its ready line, and its output so far (for failure messages)."""

    process: subprocess.Popen[str]
    ready: re.Match[str]
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(command: Sequence[str], ready: str, *, timeout: float = 30.0, cwd: Path | None = None) -> Server:
    """Run ``command`` and return once a line of its output matches ``ready``; ``RuntimeError`` with its output
    if it exits first or ``timeout`` seconds pass."""
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    pattern = re.compile(ready)
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"{command[0]} not ready in {timeout} s: {''.join(output)[-2000:]}") from None
        if line is None:
            raise RuntimeError(f"{' '.join(command)} exited with {process.wait()}: {''.join(output)[-2000:]}")
        if (match := pattern.search(line)) is not None:
            return Server(process, match, output)
