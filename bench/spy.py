"""Profiles of the server and its intake workers with py-spy (a sampling profiler: no slowdown of the
profiled code worth mentioning, unlike cProfile), summarised per process role.

``Spy(pid).start()`` attaches ``py-spy record --subprocesses`` to a running server; ``stop()`` writes the
collapsed stacks and returns a ``Profile``, whose ``table()`` prints, for the server and for the workers,
the functions with the most samples (inclusive: on the stack; self: at the top).
Run on a saved profile: .venv/bin/python -m bench.spy bench/out/intake.spy.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
_PROCESS = re.compile(r'^process (\d+):"(.*?)"(?:;(?! )|$)')  # a worker's command line has "; " in it
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def available() -> str | None:
    """The py-spy executable, or None when it is not installed (it is in the test extra)."""
    found = PY_SPY if PY_SPY.exists() else shutil.which("py-spy")
    return str(found) if found else None


def role(command: str) -> str:
    """``server`` for the API process, ``worker`` for a process-pool child, else the command."""
    if "evidence_api.cli" in command and "serve" in command:
        return "server"
    if "multiprocessing" in command:
        return "worker"
    return command[:60]


def _function(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.rsplit("/work/wt/", 1)[-1].split("/", 1)[-1]
    return f"{match['name']} ({path})"


@dataclass
class RoleProfile:
    """Samples of one role (all its processes): per function, on the stack and at the top."""

    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)
    self_: Counter[str] = field(default_factory=Counter)
    pids: set[str] = field(default_factory=set)
    stacks: list[tuple[list[str], int]] = field(default_factory=list)

    def below(self, function: str, depth: int = 1) -> Counter[str]:
        """Where the samples under ``function`` go: the frames ``depth`` levels below its first occurrence."""
        out: Counter[str] = Counter()
        for body, count in self.stacks:
            if function in body:
                at = body.index(function) + depth
                out[" > ".join(body[body.index(function) + 1 : at + 1]) if at < len(body) else "(self)"] += count
        return out


@dataclass
class Profile:
    """A py-spy collapsed-stack profile split by process role."""

    roles: dict[str, RoleProfile]
    seconds: float

    @classmethod
    def parse(cls, text: str, seconds: float = 0.0) -> Profile:
        """From py-spy's ``--format raw`` output (one ``frame;frame;... count`` line per stack)."""
        roles: dict[str, RoleProfile] = defaultdict(RoleProfile)
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            name, pid, rest = "process", "?", stack
            while process := _PROCESS.match(rest):  # children are nested under their parent's frame
                name, pid, rest = role(process[2]), process[1], rest[process.end():]
            frames = rest.split(";")
            body = [_function(f) for f in frames if not f.startswith("thread ")]
            profile = roles[name]
            profile.pids.add(pid)
            profile.samples += int(count)
            profile.stacks.append((body, int(count)))
            for function in set(body):
                profile.inclusive[function] += int(count)
            if body:
                profile.self_[body[-1]] += int(count)
        return cls(dict(roles), seconds)

    def table(self, top: int = 20) -> str:
        """The heaviest functions per role, as percentages of that role's samples."""
        lines = []
        for name, profile in sorted(self.roles.items(), key=lambda item: -item[1].samples):
            busy = f", ≈{profile.samples / self.seconds / 100:.2f} cores busy at 100 Hz" if self.seconds else ""
            lines.append(f"== {name} ({len(profile.pids)} process(es), {profile.samples} samples{busy})")
            lines.append("   inclusive (on the stack):")
            lines += [f"   {c / profile.samples:6.1%}  {f}" for f, c in profile.inclusive.most_common(top)]
            lines.append("   self (top of the stack):")
            lines += [f"   {c / profile.samples:6.1%}  {f}" for f, c in profile.self_.most_common(top // 2)]
        return "\n".join(lines)


class Spy:
    """``py-spy record`` attached to ``pid`` and its children, sampling active threads at ``rate`` Hz (with
    ``gil``: only the thread holding the GIL, i.e. where a process's Python work queues)."""

    def __init__(self, pid: int, out: Path, rate: int = 100, *, gil: bool = False) -> None:
        self.pid, self.out, self.rate, self.gil = pid, out, rate, gil
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    def start(self) -> Spy:
        """Attach; raises RuntimeError when py-spy is missing."""
        exe = available()
        if exe is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install -r requirements-dev.lock")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [exe, "record", "--subprocesses", "--nonblocking", "--rate", str(self.rate), "--format", "raw",
             "-o", str(self.out), "--pid", str(self.pid), *(["--gil"] if self.gil else [])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._started = time.monotonic()
        return self

    def stop(self) -> Profile:
        """Detach and parse what was sampled."""
        assert self._process is not None, "start() first"
        seconds = time.monotonic() - self._started
        self._process.send_signal(signal.SIGINT)
        _, err = self._process.communicate(timeout=120)
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")
        return Profile.parse(self.out.read_text(), seconds * self.rate / 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--below", help="break down the samples under this function (as printed), per role")
    parser.add_argument("--depth", type=int, default=1, help="with --below: how many frames deep")
    args = parser.parse_args()
    profile = Profile.parse(args.profile.read_text())
    if not args.below:
        print(profile.table(args.top))
        return
    for name, part in profile.roles.items():
        below = part.below(args.below, args.depth)
        if below:
            print(f"== {name}: under {args.below} ({sum(below.values()) / part.samples:.1%} of its samples)")
            print("\n".join(f"   {c / part.samples:6.1%}  {f}" for f, c in below.most_common(args.top)))


if __name__ == "__main__":
    main()
