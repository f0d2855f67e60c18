"""Real Go implementations under test: litmus programs compiled as Go code and run natively.

    from stressmm.runtime.go import make_backend
    from stressmm.syntax import parse_file
    [prog] = parse_file("scenarios/go/Ready+plain.litmus")
    gccgo = make_backend("gccgo")               # gccgo -O2; make_backend("go") is gc 1.19
    h = gccgo.run(prog, iterations=1000)        # needs 2 CPUs
    h.count(Pattern.parse("timeout"))           # the hoisted `for ready == 0 {}`: timeouts
    h.backend                                    # 'gccgo 12.2.0 -O2'

Backends (`BACKENDS`): `go` (gc), `gccgo`, `go-race` (gc with `-race`: the run also holds the
detector's reports against the go model's races, in `hist.info["races"]`). `flags` are passed
to the compiler (`go build FLAGS`, `gccgo FLAGS`; gccgo's default is `-O2`).

A program becomes Go source (`codegen`), is built once per content (`toolchain`), and runs in
child processes, each bounded in time (`runner`). Histograms hold complete outcomes (every
register of every thread, every variable's final value) or a flag: `timeout` (an iteration
still running after `iteration_budget` seconds: the process is ended, what it counted is
kept), `deadlock` (every thread still in the iteration blocked for ever in a channel op or
sync primitive), `panic`. Many programs share one build
when `prepare(programs)` is called first.
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

from ...outcome import Histogram, Outcome
from ...program import Program
from ...schedule import Schedule
from .. import RuntimeUsageError, check_budget
from .codegen import GoCodegenError, GoTest, generate
from .runner import execute
from .toolchain import (INSTALL_HINT, GoBuildError, ToolchainMissing, build, cache_dir,
                        find_toolchain, go_env)

__all__ = ["make_backend", "GoBackend", "BACKENDS", "ToolchainMissing", "GoBuildError",
           "GoCodegenError", "INSTALL_HINT", "available"]

EARLY_SHARE = 0.1      # `stopping_early`: the least share of the iterations a run makes
DEADLOCK_AFTER = 0.02   # seconds a round runs before the harness looks for a deadlock (gc)

BACKENDS = {
    "go": ("gc", False, "gc, the standard Go compiler and runtime"),
    "gccgo": ("gccgo", False, "gccgo, the GCC Go front end and libgo (default -O2)"),
    "go-race": ("gc", True, "gc with -race: the race detector's reports beside the go model's races"),
}


def available(name: str) -> Optional[str]:
    """None when backend `name` can run here, else why not (with the install hint).

    >>> available("no-such") is not None
    True
    """
    if name not in BACKENDS:
        return f"unknown Go backend {name!r}: one of {', '.join(BACKENDS)}"
    try:
        find_toolchain(BACKENDS[name][0])
    except ToolchainMissing as exc:
        return str(exc)
    return None


def make_backend(name: str, flags: tuple = (), *, iteration_budget: Optional[float] = None,
                 deadlock_after: Optional[float] = None) -> "GoBackend":
    """The backend `name` (`go`, `gccgo`, `go-race`) with compiler `flags`; an iteration still
    running after `iteration_budget` seconds (default 3, 10 for go-race) is `timeout`; on gc,
    the harness looks for a deadlock in an iteration running past `deadlock_after` seconds
    (default 0.02; only how soon it looks, never whether a live iteration is called one). Raises
    ToolchainMissing (a RuntimeUsageError) naming the install command when the toolchain is
    not on PATH, RuntimeUsageError for an unknown name."""
    if name not in BACKENDS:
        raise RuntimeUsageError(f"unknown Go backend {name!r}: one of {', '.join(BACKENDS)}")
    if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
        raise RuntimeUsageError(f"compiler flags must be a tuple of strings, got {flags!r}")
    for what, value in (("iteration_budget", iteration_budget), ("deadlock_after", deadlock_after)):
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < float("inf")):
            raise RuntimeUsageError(f"{what} must be a number of seconds > 0, got {value!r}")
    key, race, _ = BACKENDS[name]
    return GoBackend(name, key, race, tuple(flags), iteration_budget=iteration_budget,
                     deadlock_after=deadlock_after)


class GoBackend:
    """A Go toolchain as a `stressmm.runtime.Backend`. `name` says the implementation under
    test, e.g. "go1.19.8 gc", "go1.19.8 gc -race", "gccgo 12.2.0 -O2"."""

    def __init__(self, kind: str, toolchain: str, race: bool, flags: tuple,
                 iteration_budget: Optional[float] = None, start_budget: float = 60.0,
                 deadlock_after: Optional[float] = None):
        self.kind = kind
        self.spec = kind          # what `stressmm.runtime.registry.get_backend` rebuilds it from
        self.toolchain = find_toolchain(toolchain)
        self.race = race
        self.version = self.toolchain.version()
        self.flags = (("-race",) if race else ()) + (flags or self.toolchain.default_flags)
        shown = " ".join(self.flags)
        self.name = (f"{self.version} gc" if toolchain == "gc" else f"gccgo {self.version}") + \
            (f" {shown}" if shown else "")
        self.iteration_budget = iteration_budget or (10.0 if race else 3.0)
        # Runs per program in `fuzz` and `replay`: enough for the weak outcomes x86 shows,
        # few enough that a campaign tests dozens of programs a minute; the race detector
        # gets the 10,000 runs within which it should report every race of a small program.
        self.default_iterations = 10_000 if race else 5_000
        self.start_budget = start_budget
        # gc: the harness looks for a deadlock in a round running past 0.02 s (Go's own check
        # does not fire under -race). Not gccgo: its goroutines are not preempted, so the
        # stop-the-world runtime.Stack needs would wait behind a spin loop; Go's check works.
        self.deadlock_after = (deadlock_after or DEADLOCK_AFTER) if toolchain == "gc" else None
        self._built: dict = {}   # (decls, threads) -> (binary path, GoTest)
        self.race_targets: Optional[Callable] = None   # see `stopping_early`
        self.early_share = EARLY_SHARE

    def __repr__(self) -> str:
        return f"GoBackend({self.name!r})"

    def stopping_early(self, targets: Callable, share: float = None) -> "GoBackend":
        """A copy of this race-detector backend whose run of a program (for a number of
        iterations) ends once the detector has reported every op pair of `targets(program)`
        (a collection of ((thread, op index), (thread, op index)) pairs: the races the caller
        expects, e.g. the go model's) and `share` of the iterations (default a tenth) ran. A
        program with no target, or one whose targets are not all reported, runs every
        iteration, so a missed race is still missed in all of them. The copy shares the builds.

            quick = make_backend("go-race").stopping_early(stressmm.go_fuzz.model_race_pairs)
            quick.run(ready_plain, iterations=10_000).info["race_early"]
            # 'ended after 1,025 of 10,000 runs: every race expected was reported'
        """
        if not self.race:
            raise RuntimeUsageError(f"{self.name} runs no race detector: nothing to stop on")
        share = EARLY_SHARE if share is None else share
        if not 0 < share <= 1:
            raise RuntimeUsageError(f"share must be in (0, 1], got {share!r}")
        twin = copy.copy(self)
        twin.race_targets, twin.early_share = targets, share
        return twin

    def _until(self, program: Program, test: GoTest, iterations: Optional[int]):
        """The early end of a run (see `stopping_early`), or None."""
        if self.race_targets is None or iterations is None:
            return None
        targets = frozenset(tuple(sorted(tuple(tuple(op) for op in pair)))
                            for pair in self.race_targets(program))
        if not targets:
            return None
        least = max(1, int(iterations * self.early_share))
        from .races import op_pair

        def until(done: int, reports: list) -> bool:
            return done >= least and targets <= {op_pair(test, stacks) for stacks in reports}
        return until

    def prepare(self, programs) -> None:
        """Build one binary for all `programs` (later runs of any of them reuse it)."""
        programs = [p for p in dict.fromkeys(programs) if _key(p) not in self._built]
        if not programs:
            return
        gen = generate(programs)
        binary = build(self.toolchain, self.flags, self.source(gen), self.version)
        for test in gen.tests:
            self._built[_key(test.program)] = (str(binary), test)

    def source(self, generated) -> str:
        """The Go source built for `generated` (a `codegen.Generated`): as generated. A
        subclass may change it, e.g. to plant a bug and check that fuzzing finds it."""
        return generated.source

    def run(self, program: Program, iterations: Optional[int] = None,
            seconds: Optional[float] = None, schedule: Schedule = Schedule(),
            mutant: Optional[str] = None, oversubscribe: bool = False) -> Histogram:
        from ..native import choose_cpus

        check_budget(iterations, seconds)
        if not isinstance(schedule, Schedule):
            raise RuntimeUsageError(f"schedule must be a stressmm.schedule.Schedule, got {schedule!r}")
        if mutant is not None:
            raise RuntimeUsageError(f"mutant {mutant!r}: mutants are variants of the native "
                                    f"runtime; the {self.name} backend runs Go itself")
        cpus = choose_cpus(len(program.threads), schedule, oversubscribe)
        self.prepare([program])
        binary, test = self._built[_key(program)]
        res = execute(binary, test.index, iterations=iterations, seconds=seconds, cpus=cpus,
                      delays=tuple(schedule.delay(t) for t in range(len(program.threads))),
                      seed=schedule.seed, iteration_budget=self.iteration_budget,
                      start_budget=self.start_budget, env=go_env(cache_dir()),
                      deadlock_after=self.deadlock_after,
                      until=self._until(program, test, iterations))
        counts = _decode(program, test, res.counts)
        info = {"backend": self.kind, "toolchain": self.toolchain.key, "flags": list(self.flags),
                "runtime": f"{res.version} {res.compiler}".strip(), "cpus":
                list(cpus) if cpus is not None else None, "seed": schedule.seed,
                "notes": list(test.notes), "panics": dict(res.panics),
                "restarts": res.restarts, "stopped": res.stopped,
                "iteration_budget": self.iteration_budget}
        if self.race:   # the detector's reports, as op pairs: stressmm.go_judge judges them
            from .races import reported_ops
            info["race_reports"], info["race_unmapped"] = reported_ops(test, res.stderr)
            info["race_runs"] = res.done
            if res.enough:
                info["race_early"] = (f"ended after {res.done:,} of {iterations:,} runs: every "
                                      "race expected was reported")
        return Histogram(program, counts, res.elapsed, self.name, info)


def _key(program: Program) -> tuple:
    return (program.decls, program.threads)


def _decode(program: Program, test: GoTest, raw: dict) -> dict:
    """Outcome counts from the child's keys: comma-joined ints (registers, then variables)."""
    out: dict = {}
    for key, n in raw.items():
        if key in ("timeout", "deadlock", "panic"):
            o = Outcome.flagged(key)
        else:
            values = [int(v) for v in key.split(",")] if key else []
            k = len(test.regs)
            o = Outcome.make(dict(zip(test.regs, values[:k])), dict(zip(test.vars, values[k:])))
        out[o] = out.get(o, 0) + n
    return out
