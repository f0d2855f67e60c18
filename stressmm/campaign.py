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
A worker runs a program's iterations in parts (`run_in_parts`) and reports after each, so
silence means no progress, not a long program: a slow program on an overloaded machine goes
on, a call that never returns is a hang. Silence counts from a worker's first message: its
start-up (spawning, imports) has a bound of its own (`startup_seconds`), so a slow start on a
loaded machine is not taken for a hang. A program whose threads cannot even start in time
(`ThreadsNotStarted`: the machine is overloaded) is tried again, then skipped and counted in
`unstarted`: never a finding, never a worker failure.
Each campaign has a seed (drawn when not given, reported in the result): the same seed draws
the same programs again.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .contracts import Coverage, tally, weak_runs
from .fuzz import DEFAULT_ITERATIONS, DEFAULT_MODEL, PART_SECONDS

__all__ = ["CampaignConfig", "CampaignResult", "WorkerFailure", "run_campaign", "plan_workers",
           "keep_counterexample", "new_seed", "silence_verdict"]

HEARTBEAT = 0.5          # seconds between progress messages from a worker
CHUNK = 8                # Hypothesis examples per chunk: bounds the overshoot past the deadline
GO_TOOLCHAIN_BACKENDS = ("go", "gccgo", "go-race")   # Go programs compiled by a Go toolchain
MAX_RESPAWNS = 3         # fresh workers per slot after crashes or hangs; then the slot stays empty
FIGURES = ("examples", "runs", "unstarted")   # a worker's counts, summed over the workers
# The longest a try of a program may wait at a start barrier before ThreadsNotStarted: the
# native executor's MM_STUCK_SECONDS (20 s), pythreads' BARRIER_SECONDS (30 s). A worker beats
# between tries, so that is the longest silence an overloaded machine causes.
START_BARRIER_SECONDS = 30.0


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
    hang_seconds: float = 120.0      # a started worker silent this long is hung (see hang_note)
    startup_seconds: float = 300.0   # a worker must start (spawn, imports) within this
    go: bool = False
    backend: str = "native"          # a registry spec: each worker builds its own backend
    impl: tuple = ()                 # user primitives for the backend (--impl)
    stuck_shrink_seconds: float = 60.0   # shrinking a crash or a hang (a try may wait for a watchdog)

    def budget_seconds(self) -> float:
        return self.minutes * 60.0 if self.minutes is not None else float("inf")

    def hang_note(self) -> str:
        """What is wrong with `hang_seconds`, or "": below START_BARRIER_SECONDS, a program
        whose threads wait out their start barrier on an overloaded machine (a try that is
        then skipped, not a fault) is taken for a hung worker.

            >>> CampaignConfig().hang_note()
            ''
            >>> CampaignConfig(hang_seconds=10).hang_note()[:60]
            'hang_seconds=10 is below the 30 s a try of a program may wai'
        """
        if self.hang_seconds >= START_BARRIER_SECONDS:
            return ""
        return (f"hang_seconds={self.hang_seconds:g} is below the {START_BARRIER_SECONDS:g} s "
                f"a try of a program may wait for its threads to start on an overloaded "
                f"machine: such a wait is then reported as a hung worker; give hang_seconds "
                f"of {START_BARRIER_SECONDS * 2:g} or more")

    def part_seconds(self) -> float:
        """How long one part of a program's runs may take (`run_in_parts`): a twentieth of the
        hang threshold, at most PART_SECONDS, so a worker reports many times within it.

            >>> CampaignConfig().part_seconds(), CampaignConfig(hang_seconds=4).part_seconds()
            (2.0, 0.2)
        """
        return min(PART_SECONDS, self.hang_seconds / 20)


@dataclass(frozen=True)
class WorkerFailure:
    """A worker process that crashed or hung, with the program it was running."""

    worker: int
    what: str            # "crashed (exit code -11)" / "hung (no progress for 120 s)" / "did not start ..."
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
    first_detection_programs: Optional[int] = None   # programs tested up to that run (all workers)
    first_detection_runs: Optional[int] = None       # runs made up to that run (all workers)
    save_errors: list = field(default_factory=list)   # why a counterexample could not be saved
    interrupted: Optional[BaseException] = None       # the Ctrl-C / SIGTERM that ended it early
    seed: Optional[int] = None                 # the campaign's seed: `--seed` it to repeat the draws
    coverage: Coverage = Coverage()           # what the programs exercised, weak outcomes seen
    unstarted: int = 0     # programs skipped: their threads could not start in time (overload)

    @property
    def found(self) -> bool:
        return bool(self.counterexamples or self.failures)


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


def new_seed() -> int:
    """A fresh random campaign seed (32 bits): what a campaign without `seed` uses."""
    return int.from_bytes(os.urandom(4), "little")


def worker_seed(seed: int, n: int) -> int:
    """The Hypothesis seed of the `n`-th worker a campaign of seed `seed` starts (n = 1, 2, ...):
    a campaign rerun with the same seed draws the same programs in each worker.

        >>> worker_seed(0, 1), worker_seed(0, 2)
        (7919, 15838)
    """
    return seed + 7919 * n


def program_threads(cfg: CampaignConfig) -> int:
    """The most threads a campaign's programs have (Go programs have at least 2)."""
    return max(2, cfg.threads) if cfg.go else cfg.threads


def strategies_for(cfg: CampaignConfig, kinds: tuple = ()):
    """The programs and schedules a campaign draws. Memory-model campaigns mix random programs
    with programs built from critical cycles (SB, MP, LB, ... with fences and orders), which reach
    the shapes that expose fence and ordering bugs far more often than uniform draws; Go
    campaigns draw Go-style programs: handoffs through channels, locks, once, waitgroups, and
    programs drawn op by op over a few shared primitives; with the user's primitives of
    `kinds` (--impl), only programs that use them (go_fuzz.impl_programs)."""
    from hypothesis import strategies as st

    from . import strategies as mst

    if cfg.go:
        # Half templates (handoffs, contentions), half programs drawn op by op over shared
        # objects: several values on one channel, many sections on one lock, Add/Done/Wait
        # and Once.Do from every thread, closes racing with receives (see docs/contracts.md).
        # And a tenth lost wake-ups: receivers asleep on an empty channel, then a close or a
        # send (strategies/go_shapes.py), which drawn programs rarely reach.
        from .strategies.go_shapes import wakeups
        progs = st.one_of(
            mst.go_programs(threads=(2, program_threads(cfg)), ops=(1, cfg.ops)),
            mst.go_op_programs(threads=(2, program_threads(cfg)), ops=(1, cfg.ops)))
        progs = st.one_of(*[progs] * 9, wakeups(program_threads(cfg)))
        if cfg.backend in GO_TOOLCHAIN_BACKENDS:
            # Real Go: also the k+C rule, a reused WaitGroup, a Once with a racy body.
            from .strategies.go_shapes import go_shapes
            progs = st.one_of(progs, go_shapes())
        if kinds:
            from .go_fuzz import impl_programs
            progs = impl_programs(progs, kinds, (2, program_threads(cfg)), (1, cfg.ops))
    elif cfg.threads >= 2:
        progs = st.one_of(
            mst.programs(threads=(1, cfg.threads), ops=(1, cfg.ops), locations=cfg.locations),
            mst.cycles(threads=(2, min(cfg.threads, 4)), atomic="mixed"))
    else:
        progs = mst.programs(threads=1, ops=(1, cfg.ops), locations=cfg.locations)
    # Small start delays: weak outcomes need the threads' windows to overlap, and on this kind
    # of machine a few pause steps of skew is what surfaces them (see `stressmm bench`).
    return progs, mst.schedules(threads=cfg.threads, max_delay=4, batch=(64, 256))


def silence_verdict(now: float, launched: float, last_word: Optional[float],
                    hang_seconds: float, startup_seconds: float) -> Optional[str]:
    """Why a live worker counts as failed (hung, or never started), or None while it is fine.
    A worker's start-up (spawning a process, importing Hypothesis, building the strategies) can
    take seconds on a loaded machine: it counts against `startup_seconds`, and the hang clock
    starts at the worker's first word (`last_word` is None until then).

        >>> silence_verdict(10.0, launched=0.0, last_word=None, hang_seconds=3, startup_seconds=60)
        >>> silence_verdict(10.0, launched=0.0, last_word=5.0, hang_seconds=3, startup_seconds=60)
        'hung (no progress for 3 s)'
        >>> silence_verdict(70.0, launched=0.0, last_word=None, hang_seconds=3, startup_seconds=60)
        'did not start within 60 s'
    """
    if last_word is None:
        return (f"did not start within {startup_seconds:.0f} s"
                if now - launched > startup_seconds else None)
    return f"hung (no progress for {hang_seconds:.0f} s)" if now - last_word > hang_seconds else None


def _count(into: dict, *counts: dict) -> dict:
    """Add `counts` into the counter dict `into` (in place: a worker's running tally)."""
    for c in counts:
        for k, n in c.items():
            into[k] = into.get(k, 0) + n
    return into


def _weak(hist, model: Optional[str]) -> dict:
    """{"weak_runs": n, "weak_programs": 0/1} of one histogram judged by `model` (without
    one, by the model that judges the program: `default_model`; nothing when sc judges: then
    no outcome is weak; nothing when a model gives up on the program)."""
    from .fuzz import default_model
    from .models import StateLimitError, get_model

    model = model or default_model(hist.program)
    if model == "sc":
        return {}
    try:
        n = weak_runs(hist, get_model(model).allowed(hist.program).outcomes,
                      get_model("sc").allowed(hist.program).outcomes)
    except StateLimitError:
        return {}
    return {"weak_runs": n, "weak_programs": int(n > 0)}


def _worker(index: int, cfg: CampaignConfig, cpus: list, seed: int, deadline: float,
            examples_budget: Optional[int], out) -> None:
    """One worker: runs Hypothesis chunks until the deadline, the example budget, or a
    counterexample; sends ("beat", ...), ("program", text), ("found", json) and ("done", ...)
    down `out`, its own pipe to the campaign (a message is pickled as it is sent)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from .fuzz import ForbiddenOutcome, Memo, check_program, run_started
    from .runtime.registry import get_backend
    from .syntax import print_program

    os.sched_setaffinity(0, cpus)
    # Ctrl-C at a terminal reaches the whole process group: the campaign process stops the
    # workers and reports; a worker must not die of it first (or print a traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()   # a worker whose campaign process died (SIGKILL) stops at once
    try:
        backend = None if cfg.backend == "native" and not cfg.impl else get_backend(cfg.backend, cfg.impl)
    except Exception as e:   # the same in every fresh worker: the campaign stops with it
        out.send(("error", index, f"{type(e).__name__}: {e}"))
        return
    from .go_fuzz import campaign_backend, provided_kinds
    progs, scheds = strategies_for(cfg, provided_kinds(backend))
    backend = campaign_backend(backend)   # go-race: ends a program's runs once its races showed
    memo = Memo()
    stats = {"examples": 0, "runs": 0, "unstarted": 0, "coverage": {}}
    last = [0.0]
    out.send(("ready", index, None))  # started: from now on, silence means a hang

    def beat(so_far=None):
        """Say the worker makes progress (at most every HEARTBEAT s): after each part of a
        program's runs (`so_far`: the histogram of its parts done, whose runs count at once,
        so a worker that hangs in a later part loses none of them), and after each program."""
        if os.getppid() != parent:   # orphaned: nobody reads our results; end, do not linger
            os._exit(0)
        now = time.monotonic()
        if now - last[0] > HEARTBEAT:
            last[0] = now
            out.send(("beat", index, stats if so_far is None
                      else dict(stats, runs=stats["runs"] + so_far.total)))

    def on_run(hist):
        stats["runs"] += hist.total
        _count(stats["coverage"], {"runs": hist.total}, _weak(hist, cfg.model))
        beat()
        if (hist.info or {}).get("stuck") and "stuck" not in stats:
            stats["stuck"] = time.monotonic()   # the shrinking budget of a crash or hang starts

    passed = set()   # (program, schedule) pairs this worker ran and found no fault in

    def prop(program, schedule):
        if not should_run(stats, program, schedule, passed, examples_budget, memo,
                          cfg.stuck_shrink_seconds):
            return   # passes unrun
        stats["examples"] += 1
        _count(stats["coverage"], {"programs": 1}, tally(program))
        out.send(("program", index, print_program(program)))
        try:
            # Overload, not a fault: a program whose threads could not start is tried again,
            # then skipped unjudged. A beat before the new try: the failed one may have waited
            # out a barrier's whole bound without a word.
            hist = run_started(lambda: check_program(
                program, schedule, backend=backend, model=cfg.model, mutant=cfg.mutant,
                memo=memo, iterations=cfg.iterations, on_run=on_run, on_part=beat,
                part_seconds=cfg.part_seconds()), on_retry=beat)
            if hist is None:
                stats["unstarted"] += 1
                return   # passes unrun (not in `passed`: it may be drawn again)
            if getattr(backend, "race", False):   # go-race: the detector is under test too
                from .go_fuzz import check_races
                check_races(hist, schedule, backend, cfg.model, memo)
            passed.add((program, schedule))
        except Exception as e:
            stats["failing"] = True   # shrinking from now on (see should_run)
            if isinstance(e, ForbiddenOutcome) and "first" not in stats:
                stats["first"] = time.time()
                out.send(("first", index, {"time": stats["first"], "examples": stats["examples"],
                                           "runs": stats["runs"]}))
            raise

    chunk = 0
    while time.monotonic() < deadline and (examples_budget is None or stats["examples"] < examples_budget):
        # One more than the budget left: a chunk's opening example may be one already run.
        n = CHUNK if examples_budget is None else min(CHUNK, examples_budget - stats["examples"] + 1)
        # derandomize=False: under a CI environment Hypothesis would otherwise inherit its `ci`
        # profile and draw the same examples in every chunk; `hseed` keeps runs reproducible.
        test_settings = settings(max_examples=n, deadline=None, database=None,
                                 verbosity=Verbosity.quiet, derandomize=False,
                                 phases=(Phase.generate, Phase.shrink),
                                 suppress_health_check=list(HealthCheck))
        chunk_seed = seed * 100_003 + chunk
        test = test_settings(hseed(chunk_seed)(given(progs, scheds)(prop)))
        chunk += 1
        tested = stats["examples"]
        try:
            if callable(getattr(backend, "prepare", None)):
                _prebuild(backend, test_settings, chunk_seed, progs, scheds,
                          lambda: out.send(("beat", index, stats)))
            test()
        except ForbiddenOutcome as e:
            out.send(("found", index, e.counterexample))
            break
        except Exception as e:  # a fault of the campaign itself, the same in any fresh worker
            out.send(("error", index, f"{type(e).__name__}: {e}"))
            return
        if stats["examples"] == tested:   # a whole chunk of pairs already run: nothing new left
            break
    out.send(("done", index, stats))


def should_run(stats: dict, program, schedule, passed: set, examples_budget: Optional[int],
               memo, stuck_shrink_seconds: float) -> bool:
    """Whether a worker runs an example Hypothesis hands it, or lets it pass unrun. One rule
    per phase of the worker (`stats["failing"]` is set once an example raised):

    - searching: a (program, schedule) pair in `passed` (each chunk is a fresh Hypothesis
      run that opens with its simplest example) and anything past `examples_budget` pass
      unrun, so the budget is spent on programs not run yet;
    - shrinking: every example runs (Hypothesis replays the failing one, and a pass there
      would be reported as Flaky), until a crash or a hang (`stats["stuck"]`, the time of the
      first stuck run) has shrunk for `stuck_shrink_seconds`: each try may cost a watchdog's
      wait, so from then on only programs known to fail (`memo`) run, and Hypothesis settles
      on the smallest failing program it has.

        >>> from stressmm.fuzz import Memo
        >>> should_run({"examples": 3}, "p", "s", set(), 3, Memo(), 60)
        False
        >>> should_run({"examples": 3, "failing": True}, "p", "s", set(), 3, Memo(), 60)
        True
        >>> should_run({"examples": 3, "failing": True, "stuck": -1e9}, "p", "s", set(), 3,
        ...            Memo(), 60)
        False
    """
    if "failing" in stats:
        started = stats.get("stuck")
        spent = started is not None and time.monotonic() - started >= stuck_shrink_seconds
        return not spent or memo.knows(program)
    return (program, schedule) not in passed and (examples_budget is None
                                                 or stats["examples"] < examples_budget)


def keep_counterexample(result: CampaignResult, cex, corpus: Optional[str]) -> None:
    """Add a found counterexample to `result` and save it in `corpus` (when given). A save that
    fails loses nothing: `saved` gets None in its place and `save_errors` says why, and the
    counterexample stays in the result, to be printed in full."""
    from .fuzz import save_counterexample

    result.counterexamples.append(cex)
    if not corpus:
        return
    try:
        result.saved.append(str(save_counterexample(cex, corpus)))
    except OSError as e:
        result.saved.append(None)
        result.save_errors.append(f"{corpus}: {e.strerror or e}")


def _prebuild(backend, test_settings, chunk_seed: int, progs, scheds, beat) -> None:
    """Draw a chunk's programs ahead (the same seed and settings draw the same examples) and
    build them at once with `backend.prepare`, calling `beat()` every HEARTBEAT seconds while
    it builds (a build is bounded by its own timeout): a Go backend then compiles one binary
    per chunk, not one per program. Programs drawn later (shrinking) are built one by one, and
    a build that fails here is left to the run of each program, which reports it with the
    program that does not compile."""
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

    if cfg.minutes is None and cfg.examples is None:
        raise ValueError("give a budget: minutes or examples")
    plans = plan_workers(program_threads(cfg), cfg.workers)
    if cfg.hang_note():
        import warnings
        warnings.warn(f"stressmm: {cfg.hang_note()}", RuntimeWarning, stacklevel=2)
    seed = cfg.seed if cfg.seed is not None else new_seed()
    start = time.monotonic()
    wall_start = time.time()
    deadline = start + cfg.budget_seconds()
    per_worker = None if cfg.examples is None else -(-cfg.examples // len(plans))
    from multiprocess.connection import wait as wait_for_any

    ctx = mp.get_context("spawn")
    inboxes: dict = {}     # spawn number -> the campaign's end of that worker's pipe
    result = CampaignResult(workers=len(plans), cpus=[c for p in plans for c in p], seed=seed)
    live: dict = {}
    launched: dict = {}
    beats: dict = {}
    current: dict = {}
    totals: dict = {}
    slot_of: dict = {}     # spawn number -> slot; messages carry the spawn number
    ident: dict = {}       # slot -> spawn number of the worker now in it
    banked = dict(dict.fromkeys(FIGURES, 0), coverage={})   # figures of workers that died

    def spawn(i):
        n = len(slot_of) + 1
        slot_of[n], ident[i] = i, n
        # One pipe per worker: a worker killed in the middle of a message spoils only its
        # own pipe (a queue shared by the workers would keep the lock the killed one held,
        # and every other worker would block on its next message).
        inboxes[n], sending_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(n, cfg, plans[i], worker_seed(seed, n),
                                                 deadline, per_worker, sending_end), daemon=True)
        proc.start()
        sending_end.close()   # the worker has its own: its pipe ends when it does
        live[i] = proc
        launched[i] = time.monotonic()
        beats[i] = None   # no word yet: starting up
        totals[i] = dict(dict.fromkeys(FIGURES, 0), coverage={})

    def receive(wait: float) -> bool:
        """Handle one message from a worker (waiting up to `wait` s); False if none came.
        A message from a worker that has been replaced (sent before it crashed or was
        killed) changes nothing but a counterexample or an error it reports."""
        nonlocal deadline
        message = None
        for conn in wait_for_any(list(inboxes.values()), timeout=wait):
            try:
                message = conn.recv()
                break
            except Exception:   # the worker ended (or was killed in the middle of a message)
                inboxes.pop(next(k for k, c in inboxes.items() if c is conn))
                conn.close()
        if message is None:
            return False
        kind, n, payload = message
        i, now = slot_of[n], time.monotonic()
        stale = ident[i] != n
        if not stale:
            beats[i] = now
            if kind in ("beat", "done"):
                totals[i] = payload
            elif kind == "program":
                current[i] = payload
        if kind == "first" and result.first_detection is None:
            # Programs and runs up to the detection: load independent, unlike its time.
            others = [t for j, t in totals.items() if j != i]
            result.first_detection = payload["time"] - wall_start
            result.first_detection_programs = (banked["examples"] + payload["examples"]
                                               + sum(t["examples"] for t in others))
            result.first_detection_runs = (banked["runs"] + payload["runs"]
                                           + sum(t["runs"] for t in others))
        elif kind == "error":
            # Not a crash of the runtime under test: a fresh worker would fail the same
            # way, so the campaign stops with the error instead of respawning.
            result.failures.append(WorkerFailure(i, f"failed: {payload}", current.get(i, "")))
            deadline = now
        elif kind == "found":
            keep_counterexample(result, payload, cfg.corpus)
            deadline = now  # the first counterexample ends the campaign
            for j, proc in list(live.items()):
                if j != i or stale:
                    proc.terminate()
                    live.pop(j)
        if kind in ("done", "found", "error") and not stale:
            proc = live.pop(i, None)
            if proc is not None:
                proc.join(timeout=5)
                if proc.is_alive():   # finished but not exiting: never left behind
                    proc.kill()
                    proc.join(timeout=5)
        return True

    def drain() -> None:
        """Handle the messages already sent (a bounded number: workers send a few a second)."""
        for _ in range(10_000):
            if not receive(0):
                return

    respawns = dict.fromkeys(range(len(plans)), 0)
    try:
        for i in range(len(plans)):
            spawn(i)
        while live:
            if receive(0.2):
                drain()   # everything already sent, before judging who is alive
            now = time.monotonic()
            for j, proc in list(live.items()):
                if proc.exitcode == -signal.SIGTERM:   # SIGTERM sent to the process group
                    from .interrupt import Terminated
                    raise Terminated()
                dead = not proc.is_alive()
                if dead:
                    drain()   # its last words ("done", a counterexample) come first
                    if j not in live:
                        continue
                silent = silence_verdict(now, launched[j], beats[j], cfg.hang_seconds,
                                         cfg.startup_seconds)
                if dead or silent:
                    if silent:
                        proc.kill()
                    proc.join(timeout=5)
                    live.pop(j)
                    what = f"crashed (exit code {proc.exitcode})" if dead else silent
                    result.failures.append(WorkerFailure(j, what, current.get(j, "")))
                    _count(banked, {k: totals[j].get(k, 0) for k in FIGURES})
                    _count(banked["coverage"], totals[j]["coverage"])
                    if (time.monotonic() < deadline - 1 and not result.counterexamples
                            and respawns[j] < MAX_RESPAWNS):
                        respawns[j] += 1
                        spawn(j)
            for k in FIGURES:
                setattr(result, k, banked[k] + sum(t.get(k, 0) for t in totals.values()))
            result.coverage = Coverage.from_counts(
                _count(dict(banked["coverage"]), *(t["coverage"] for t in totals.values())),
                cfg.model or ("go" if cfg.go else DEFAULT_MODEL))
            result.elapsed = time.monotonic() - start
            if progress is not None:
                progress(result)
    except KeyboardInterrupt as e:   # Ctrl-C or SIGTERM: stop, and report what was done
        result.interrupted = e
    finally:
        for proc in live.values():
            proc.kill()
        for proc in live.values():
            proc.join(timeout=5)
        for conn in inboxes.values():
            conn.close()
    result.elapsed = time.monotonic() - start
    return result
