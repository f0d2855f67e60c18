"""Fuzzing campaigns: Hypothesis draws programs and schedules, `check_program` judges them,
worker processes share the CPUs, and the first forbidden outcome ends the campaign with a
minimal counterexample.

    cfg = CampaignConfig(minutes=0.5, mutant="sc-store-no-fence")
    result = run_campaign(cfg)              # on 2 CPUs: found within seconds
    result.counterexamples[0].program       # the SB shape: 2 threads, 4 ops

Each worker is a process (the `multiprocess` package) pinned to its own CPUs, as many as the
largest program has threads, so the campaign never runs more program threads than CPUs. A
worker reports a heartbeat and the program it is running; a worker that dies or stops
reporting becomes a reported failure naming that program, and a fresh worker takes its place.
"""
from __future__ import annotations

import os
import queue as queue_mod
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .fuzz import DEFAULT_ITERATIONS

__all__ = ["CampaignConfig", "CampaignResult", "WorkerFailure", "run_campaign", "plan_workers"]

HEARTBEAT = 0.5          # seconds between progress messages from a worker
CHUNK = 8                # Hypothesis examples per chunk: bounds the overshoot past the deadline
GO_TOOLCHAIN_BACKENDS = ("go", "gccgo", "go-race")   # Go programs compiled by a Go toolchain
MAX_RESPAWNS = 3         # fresh workers per slot after crashes or hangs; then the slot stays empty


@dataclass(frozen=True)
class CampaignConfig:
    minutes: Optional[float] = None
    examples: Optional[int] = None
    mutant: Optional[str] = None
    model: Optional[str] = None
    seed: Optional[int] = None
    threads: int = 2
    ops: int = 4
    locations: int = 2
    workers: Optional[int] = None
    iterations: int = DEFAULT_ITERATIONS
    corpus: Optional[str] = ".stressmm/counterexamples"
    hang_seconds: float = 120.0
    go: bool = False
    backend: str = "native"          # a registry spec: each worker builds its own backend
    impl: tuple = ()                 # user primitives for the backend (--impl)

    def budget_seconds(self) -> float:
        return self.minutes * 60.0 if self.minutes is not None else float("inf")


@dataclass(frozen=True)
class WorkerFailure:
    """A worker process that crashed or hung, with the program it was running."""

    worker: int
    what: str            # "crashed (exit code -11)" / "hung (no progress for 120 s)"
    program_text: str


@dataclass
class CampaignResult:
    examples: int = 0
    runs: int = 0
    elapsed: float = 0.0
    counterexamples: list = field(default_factory=list)
    saved: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    workers: int = 0
    cpus: list = field(default_factory=list)
    first_detection: Optional[float] = None   # seconds from the start to the first forbidden run

    @property
    def found(self) -> bool:
        return bool(self.counterexamples or self.failures)


class StuckPrimitive(BaseException):
    """A user primitive never returned (the backend's `stuck` note). A BaseException, so that
    Hypothesis passes it through at once instead of shrinking a hang."""


def plan_workers(threads: int, requested: Optional[int] = None) -> list:
    """Split this process's CPUs among workers so each has `threads` CPUs of its own.
    Returns one CPU list per worker; raises ValueError when even one worker cannot fit."""
    import psutil

    cpus = sorted(psutil.Process().cpu_affinity() or range(psutil.cpu_count() or 1))
    fit = len(cpus) // threads
    if fit < 1:
        raise ValueError(f"programs of {threads} threads need {threads} CPUs, but this process "
                         f"may use {len(cpus)} ({cpus}); use --threads {len(cpus)} or fewer")
    n = fit if requested is None else requested
    if n < 1:
        raise ValueError(f"--workers must be at least 1, got {n}")
    if n > fit:
        raise ValueError(f"--workers {n} with {threads}-thread programs needs {n * threads} CPUs; "
                         f"this process may use {len(cpus)}: use --workers {fit} or fewer")
    return [cpus[i * threads:(i + 1) * threads] for i in range(n)]


def program_threads(cfg: CampaignConfig) -> int:
    """The most threads a campaign's programs have (Go programs have at least 2)."""
    return max(2, cfg.threads) if cfg.go else cfg.threads


def strategies_for(cfg: CampaignConfig):
    """The programs and schedules a campaign draws. Memory-model campaigns mix random programs
    with programs built from critical cycles (SB, MP, LB, ... with fences and orders), which reach
    the shapes that expose fence and ordering bugs far more often than uniform draws; Go
    campaigns draw Go-style programs (handoffs through channels, locks, once, waitgroups)."""
    from hypothesis import strategies as st

    from . import strategies as mst

    if cfg.go:
        progs = mst.go_programs(threads=(2, program_threads(cfg)), ops=(1, cfg.ops))
        if cfg.backend in GO_TOOLCHAIN_BACKENDS:
            # Real Go: also the k+C rule, a reused WaitGroup, a Once with a racy body.
            from .strategies.go_shapes import go_shapes
            progs = st.one_of(progs, go_shapes())
    elif cfg.threads >= 2:
        progs = st.one_of(
            mst.programs(threads=(1, cfg.threads), ops=(1, cfg.ops), locations=cfg.locations),
            mst.cycles(threads=(2, min(cfg.threads, 4)), atomic="mixed"))
    else:
        progs = mst.programs(threads=1, ops=(1, cfg.ops), locations=cfg.locations)
    # Small start delays: weak outcomes need the threads' windows to overlap, and on this kind
    # of machine a few pause steps of skew is what surfaces them (see `stressmm bench`).
    return progs, mst.schedules(threads=cfg.threads, max_delay=4, batch=(64, 256))


def _worker(index: int, cfg: CampaignConfig, cpus: list, seed: int, deadline: float,
            examples_budget: Optional[int], out) -> None:
    """One worker: runs Hypothesis chunks until the deadline, the example budget, or a
    counterexample; sends ("beat", ...), ("program", text), ("found", json) and ("done", ...)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from .fuzz import ForbiddenOutcome, Memo, check_program
    from .runtime.registry import get_backend
    from .syntax import print_program

    os.sched_setaffinity(0, cpus)
    try:
        backend = None if cfg.backend == "native" and not cfg.impl else get_backend(cfg.backend, cfg.impl)
    except Exception as e:   # the same in every fresh worker: the campaign stops with it
        out.put(("error", index, f"{type(e).__name__}: {e}"))
        return
    memo = Memo()
    stats = {"examples": 0, "runs": 0}
    last = [0.0]
    progs, scheds = strategies_for(cfg)

    def on_run(hist):
        stats["runs"] += hist.total
        now = time.monotonic()
        if now - last[0] > HEARTBEAT:
            last[0] = now
            out.put(("beat", index, dict(stats)))
        if (hist.info or {}).get("stuck"):
            raise StuckPrimitive(hist.info["stuck"])

    def prop(program, schedule):
        stats["examples"] += 1
        out.put(("program", index, print_program(program)))
        try:
            hist = check_program(program, schedule, backend=backend, model=cfg.model,
                                 mutant=cfg.mutant, memo=memo, iterations=cfg.iterations,
                                 on_run=on_run)
            if getattr(backend, "race", False):   # go-race: the detector is under test too
                from .go_fuzz import check_races
                check_races(hist, schedule, backend, cfg.model, memo)
        except ForbiddenOutcome:
            if "first" not in stats:
                stats["first"] = time.time()
                out.put(("first", index, stats["first"]))
            raise

    chunk = 0
    while time.monotonic() < deadline and (examples_budget is None or stats["examples"] < examples_budget):
        n = CHUNK if examples_budget is None else max(1, min(CHUNK, examples_budget - stats["examples"]))
        # derandomize=False: under a CI environment Hypothesis would otherwise inherit its `ci`
        # profile and draw the same examples in every chunk; `hseed` keeps runs reproducible.
        test_settings = settings(max_examples=n, deadline=None, database=None,
                                 verbosity=Verbosity.quiet, derandomize=False,
                                 phases=(Phase.generate, Phase.shrink),
                                 suppress_health_check=list(HealthCheck))
        chunk_seed = seed * 100_003 + chunk
        test = test_settings(hseed(chunk_seed)(given(progs, scheds)(prop)))
        chunk += 1
        try:
            if callable(getattr(backend, "prepare", None)):
                _prebuild(backend, test_settings, chunk_seed, progs, scheds,
                          lambda: out.put(("beat", index, dict(stats))))
            test()
        except ForbiddenOutcome as e:
            out.put(("found", index, e.counterexample))
            break
        except StuckPrimitive as e:   # reported with the program it was running
            out.put(("error", index, f"STUCK: {e}"))
            return
        except Exception as e:  # a fault of the campaign itself, the same in any fresh worker
            out.put(("error", index, f"{type(e).__name__}: {e}"))
            return
    out.put(("done", index, dict(stats)))


def _prebuild(backend, test_settings, chunk_seed: int, progs, scheds, beat) -> None:
    """Draw a chunk's programs ahead (the same seed and settings draw the same examples) and
    build them at once with `backend.prepare`, calling `beat()` every HEARTBEAT seconds while
    it builds (a build is bounded by its own timeout): a Go backend then compiles one binary
    per chunk, not one per program. Programs drawn later (shrinking) are built one by one, and
    a build that fails here is left to the run of each program, which reports it with the
    program that does not compile."""
    import threading

    from hypothesis import Phase, given
    from hypothesis import seed as hseed

    drawn = []
    collect = test_settings.__class__(test_settings, phases=(Phase.generate,))
    collect(hseed(chunk_seed)(given(progs, scheds)(lambda p, s: drawn.append(p))))()

    def build():
        try:
            backend.prepare(drawn)
        except Exception:   # noqa: BLE001 - each program's run raises it again, with the program
            pass

    builder = threading.Thread(target=build, daemon=True)
    builder.start()
    while builder.is_alive():
        builder.join(HEARTBEAT)
        beat()


def run_campaign(cfg: CampaignConfig, progress: Optional[Callable[[CampaignResult], None]] = None
                 ) -> CampaignResult:
    """Run a campaign to its budget (minutes or examples) or its first counterexample."""
    import multiprocess as mp

    from .fuzz import save_counterexample

    if cfg.minutes is None and cfg.examples is None:
        raise ValueError("give a budget: minutes or examples")
    plans = plan_workers(program_threads(cfg), cfg.workers)
    seed = cfg.seed if cfg.seed is not None else int.from_bytes(os.urandom(4), "little")
    start = time.monotonic()
    wall_start = time.time()
    deadline = start + cfg.budget_seconds()
    per_worker = None if cfg.examples is None else -(-cfg.examples // len(plans))
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    result = CampaignResult(workers=len(plans), cpus=[c for p in plans for c in p])
    live: dict = {}
    beats: dict = {}
    current: dict = {}
    spawned = [0]

    def spawn(i):
        spawned[0] += 1
        proc = ctx.Process(target=_worker, args=(i, cfg, plans[i], seed + 7919 * spawned[0],
                                                 deadline, per_worker, out), daemon=True)
        proc.start()
        live[i] = proc
        beats[i] = time.monotonic()
        totals[i] = {"examples": 0, "runs": 0}

    totals: dict = {}
    respawns = dict.fromkeys(range(len(plans)), 0)
    banked = {"examples": 0, "runs": 0}
    for i in range(len(plans)):
        spawn(i)
    try:
        while live:
            try:
                kind, i, payload = out.get(timeout=0.2)
            except queue_mod.Empty:
                kind = None
            now = time.monotonic()
            if kind is not None:
                beats[i] = now
                if kind in ("beat", "done"):
                    totals[i] = payload
                elif kind == "program":
                    current[i] = payload
                elif kind == "first" and result.first_detection is None:
                    result.first_detection = payload - wall_start
                elif kind == "error":
                    # Not a crash of the runtime under test: a fresh worker would fail the same
                    # way, so the campaign stops with the error instead of respawning.
                    result.failures.append(WorkerFailure(i, f"failed: {payload}", current.get(i, "")))
                    deadline = now
                elif kind == "found":
                    result.counterexamples.append(payload)
                    if cfg.corpus:
                        result.saved.append(str(save_counterexample(payload, cfg.corpus)))
                if kind in ("done", "found", "error"):
                    if kind == "found":
                        deadline = now  # the first counterexample ends the campaign
                        for j, proc in list(live.items()):
                            if j != i:
                                proc.terminate()
                                live.pop(j)
                    proc = live.pop(i, None)
                    if proc is not None:
                        proc.join(timeout=5)
            for j, proc in list(live.items()):
                dead = not proc.is_alive()
                hung = now - beats[j] > cfg.hang_seconds
                if dead or hung:
                    if hung:
                        proc.kill()
                    proc.join(timeout=5)
                    live.pop(j)
                    what = (f"hung (no progress for {cfg.hang_seconds:.0f} s)" if hung
                            else f"crashed (exit code {proc.exitcode})")
                    result.failures.append(WorkerFailure(j, what, current.get(j, "")))
                    banked["examples"] += totals[j]["examples"]
                    banked["runs"] += totals[j]["runs"]
                    if (time.monotonic() < deadline - 1 and not result.counterexamples
                            and respawns[j] < MAX_RESPAWNS):
                        respawns[j] += 1
                        spawn(j)
            result.examples = banked["examples"] + sum(t["examples"] for t in totals.values())
            result.runs = banked["runs"] + sum(t["runs"] for t in totals.values())
            result.elapsed = time.monotonic() - start
            if progress is not None:
                progress(result)
    finally:
        for proc in live.values():
            proc.kill()
    result.elapsed = time.monotonic() - start
    return result
