"""The figures of ``bench.intake --against immudb`` and the table that compares them with issue 12's goals."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.immudb_compare import Plan
    from bench.spy import Profile


def load_line() -> str:
    """The machine's load average (1, 5, 15 min) and its core count, for every phase's line."""
    one, five, fifteen = os.getloadavg()
    return f"[load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores]"


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """min / median / max."""
    if not values:
        return "n/a"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


@dataclass
class Figures:
    """Everything one run measured (rates in events or entries per second, times in seconds)."""

    ours: list[dict[str, Any]] = field(default_factory=list)
    immudb_rounds: list[dict[str, Any]] = field(default_factory=list)
    immudb_plain: list[dict[str, Any]] = field(default_factory=list)
    immudb_bytes: list[float] = field(default_factory=list)
    value_size: int = 0
    value_what: str = ""
    single: list[tuple[float, float]] = field(default_factory=list)
    tree: int = 0
    tree_fill_s: float = 0.0
    proof_local: list[float] = field(default_factory=list)
    proof_http: list[float] = field(default_factory=list)
    tree_rounds: list[tuple[float, float]] = field(default_factory=list)
    permits: dict[str, Any] = field(default_factory=dict)
    profile: Profile | None = None
    start_load: str = ""
    end_load: str = ""

    def add_batch_round(self, ours: dict[str, Any], verified: dict[str, Any], plain: dict[str, Any]) -> None:
        """One paired round of batch-signed intake."""
        self.ours.append({k: v for k, v in ours.items() if k != "profile"})
        self.immudb_rounds.append(verified)
        self.immudb_plain.append(plain)

    def rows(self) -> list[tuple[str, str, str, bool | None]]:
        """(figure, measured, goal, met) for the table."""
        vs_verified = [o["rate"] / i["entries_per_s"] for o, i in zip(self.ours, self.immudb_rounds, strict=True)]
        vs_plain = [o["rate"] / i["entries_per_s"] for o, i in zip(self.ours, self.immudb_plain, strict=True)]
        single = [rate / bound for rate, bound in self.single]
        lag_p99 = [pct(o["lag"], 0.99) for o in self.ours if o["lag"]]
        ours_bytes = [o["bytes_per_event"] for o in self.ours]
        tree = [large / empty for large, empty in self.tree_rounds]
        base = statistics.median(self.permits["baseline"]) if self.permits else 0.0
        actions = [s for samples in self.permits.get("actions", {}).values() for s in samples]
        worst = max(((statistics.median(s) / base, k) for k, s in self.permits.get("actions", {}).items()),
                    default=(0.0, "-"))
        local_p50 = pct(self.proof_local, 0.5) * 1e3 if self.proof_local else 0.0
        http_p99 = pct(self.proof_http, 0.99) * 1e3 if self.proof_http else 0.0
        single_pair = " | ".join(spread(v, "{:,.0f}") for v in ([r for r, _ in self.single], [b for _, b in self.single]))
        bytes_pair = " | ".join(spread(v, "{:,.0f}") for v in (ours_bytes, self.immudb_bytes))
        return [
            ("batch-signed ÷ immudb SetAll+VerifiedTxByID (paired)", spread(vs_verified), "≥ 1.0",
             min(vs_verified, default=0) >= 1.0),
            ("batch-signed ÷ immudb SetAll only (paired)", spread(vs_plain), "(info)", None),
            ("  ours, events/s", spread([o["rate"] for o in self.ours], "{:,.0f}"), "", None),
            ("  immudb verified, entries/s", spread([i["entries_per_s"] for i in self.immudb_rounds], "{:,.0f}"), "", None),
            ("  immudb SetAll only, entries/s", spread([i["entries_per_s"] for i in self.immudb_plain], "{:,.0f}"), "", None),
            ("single-signed ÷ SM2-verify bound (per core × workers)", spread(single), "≥ 0.8", min(single, default=0) >= 0.8),
            ("  single-signed events/s | bound", single_pair, "", None),
            ("checkpoint lag p99 at full intake, ms", spread([v * 1e3 for v in lag_p99], "{:.0f}"), "≤ 1000",
             bool(lag_p99) and max(lag_p99) <= 1.0),
            (f"inclusion proof at {self.tree:,} leaves, in-process p50 | p99 ms",
             f"{local_p50:.3f} | {pct(self.proof_local, 0.99) * 1e3:.3f}" if self.proof_local else "n/a", "≤ 0.5",
             bool(self.proof_local) and local_p50 <= 0.5),
            (f"inclusion proof at {self.tree:,} leaves, HTTP p99 ms", f"{http_p99:.2f}", "≤ 5", bool(self.proof_http) and http_p99 <= 5),
            (f"intake at {self.tree:,} leaves ÷ empty log (paired)", spread(tree), "≥ 0.9", min(tree, default=0) >= 0.9),
            ("bytes on disk per event: ours | immudb", bytes_pair, "ours ≤ immudb",
             bool(ours_bytes) and max(ours_bytes) <= min(self.immudb_bytes, default=0)),
            ("permit action p50 ÷ plain signed event p50 (4 clients)",
             f"{statistics.median(actions) / base:.2f} (worst: {worst[1]} {worst[0]:.2f})" if actions else "n/a",
             "≤ 1.5", bool(actions) and worst[0] <= 1.5),
        ]

    def summary(self, plan: Plan) -> dict[str, Any]:
        """A JSON-able record of the run (for before/after comparisons)."""
        return {"plan": {k: v for k, v in vars(plan).items() if k != "fig"}, "value_size": self.value_size,
                "value_what": self.value_what, "rows": [list(r) for r in self.rows()], "ours": self.ours,
                "immudb_verified": self.immudb_rounds, "immudb_setall": self.immudb_plain,
                "single": self.single, "tree_rounds": self.tree_rounds, "tree_fill_s": self.tree_fill_s,
                "load": [self.start_load, self.end_load]}


def print_table(plan: Plan) -> None:
    """The goal table, with what was compared and the load."""
    fig = plan.fig
    if fig.profile is not None:
        print("\nwhere the time goes (py-spy, one extra batch round):\n" + fig.profile.table(18))
    print(f"\n== issue 12 figures: {plan.rounds} paired rounds of {plan.events:,} events, {plan.batch}/request, "
          f"{plan.clients} clients; load at start {fig.start_load}, at end {fig.end_load}")
    print(f"   each immudb entry is {fig.value_size} random bytes ({fig.value_what}); ours: SQLite WAL "
          "synchronous=FULL (fsync per group commit), immudb --synced (fsync per commit, its default)")
    width = max(len(r[0]) for r in fig.rows())
    print(f"   {'figure':{width}}  {'min / median / max':40}  {'goal':14}  met")
    for name, measured, goal, met in fig.rows():
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"   {name:{width}}  {measured:40}  {goal:14}  {mark}")
    print("   2 cores shared with other engineers: absolute rates are noisy; the paired ratios are the figures.")
