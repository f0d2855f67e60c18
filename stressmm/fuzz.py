"""The property: run a program on a backend, judge every outcome with a model, and turn a
forbidden one into a minimal, replayable counterexample.

    >>> from hypothesis import given
    >>> from stressmm import strategies as mst
    >>> from stressmm.fuzz import check_program
    >>> @given(mst.programs(threads=2, ops=3, orders=["seq_cst"]), mst.schedules())
    ... def test_my_runtime(program, schedule):
    ...     check_program(program, schedule)          # raises ForbiddenOutcome with the report

Hardware outcomes are not deterministic: a program may show a forbidden outcome once in a
million runs and not at all the next time. A `Memo` remembers every (program, model, backend)
that ever showed a forbidden outcome, and `check_program` fails such a program at once when
Hypothesis replays it, so shrinking is stable and Hypothesis never reports a Flaky test.
"""
from __future__ import annotations

import json
import platform
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

from . import __version__
from .models import StateLimitError, get_model
from .outcome import Histogram, Outcome
from .runtime import machine_facts
from .program import (FLAGS, And, Cmp, Condition, Expect, FlagIs, MemRef, Not, Program,
                      RegRef, Var)
from .schedule import Schedule

__all__ = ["Counterexample", "StuckCounterexample", "ForbiddenOutcome", "Memo", "check_program", "DEFAULT_MODEL",
           "save_counterexample", "load_counterexample", "load_corpus", "load_corpus_entries",
           "check_replay_meta", "check_corpus", "default_model", "DEFAULT_ITERATIONS",
           "run_in_parts", "START_TRIES", "run_started", "unstarted_note"]

DEFAULT_ITERATIONS = 20_000
PART_SECONDS = 2.0        # run_in_parts: the length of one part of a program's runs
FIRST_PART_RUNS = 500     # run_in_parts: the first part, which measures the pace
START_TRIES = 2           # run_started: tries of a program whose threads could not start in time


DEFAULT_MODEL = "tso"
"""The model a program is judged by when none is named: x86-TSO, the model the native runtime
implements on this machine (a program whose accesses are all seq_cst gets SC from it)."""


def default_model(program: Program) -> str:
    r"""The model a program is judged by when none is named: `go` for a Go program (one that
    uses a Go primitive and whose atomics are all seq_cst, Go's only kind), else DEFAULT_MODEL.
    A program with weaker atomics stays with tso: `go` would read them as seq_cst and forbid
    outcomes they are allowed to show.

        >>> from stressmm.syntax import parse
        >>> mp = parse("litmus MP\nvar x int\nchan c 0\nP0:\n  x = 1\n  c <- 1\nP1:\n  <-c\n  r0 = x\n")
        >>> default_model(mp[0])
        'go'
    """
    from .program import Order

    go_like = program.uses_sync and all(getattr(op, "order", None) in (None, Order.SEQ_CST)
                                        for _, op in program.ops())
    return "go" if go_like else DEFAULT_MODEL


def versions() -> dict:
    import hypothesis

    return {"stressmm": __version__, "python": platform.python_version(),
            "hypothesis": hypothesis.__version__}


@dataclass(frozen=True)
class Counterexample:
    """A program, a schedule and an outcome the model forbids, with how often it was seen."""

    program: Program
    schedule: Schedule
    outcome: Outcome
    count: int
    total: int
    model: str
    backend: str                                   # the spec that rebuilds it (registry)
    mutant: Optional[str] = None
    verdicts: dict = field(default_factory=dict)   # model name -> is the outcome allowed
    others: tuple = ()                             # other forbidden outcomes seen, (Outcome, n)
    why: Optional[str] = None                      # why the model forbids it; None: ask it
    machine: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    impl: tuple = ()                               # user primitives the backend ran
    implementation: str = ""                       # what reports call the code under test

    @property
    def under_test(self) -> str:
        return self.implementation or self.backend

    def explanation(self) -> str:
        """Why the judging model forbids the outcome (`why_forbidden`): `why` when given, else
        computed now. It is computed only when a report is made, not for every failing
        example Hypothesis tries while shrinking."""
        return self.why if self.why is not None else why_forbidden(self.program, self.outcome,
                                                                   self.model)

    @property
    def forbidden_by(self) -> list:
        return [m for m, ok in self.verdicts.items() if not ok]

    @property
    def allowed_by(self) -> list:
        return [m for m, ok in self.verdicts.items() if ok]

    def as_litmus(self) -> str:
        """The counterexample as a .litmus file: the program with a `~exists` clause for the
        forbidden outcome (herd7's form of a forbidden test: the judging model says no
        execution ends there) and `expect` lines, and a header that `stressmm replay` reads."""
        from .syntax import print_program

        prog = replace(self.program, condition=outcome_condition(self.outcome, "~exists"),
                       expects=tuple(Expect(m, "allowed" if ok else "forbidden")
                                     for m, ok in self.verdicts.items()))
        meta = self._replay_meta(outcome=self.outcome.to_json(), count=self.count)
        head = [f"# stressmm counterexample: {self.outcome} seen {self.count:,} times in "
                f"{self.total:,} runs on {self.under_test}" + (f" (mutant {self.mutant})" if self.mutant else ""),
                f"# forbidden by: {', '.join(self.forbidden_by) or '-'}; allowed by: "
                f"{', '.join(self.allowed_by) or '-'}",
                f"# machine: {self._machine_text()}",
                "# stressmm-replay: " + json.dumps(meta, sort_keys=True)]
        return "\n".join(head) + "\n" + print_program(prog)

    def _replay_meta(self, **extra) -> dict:
        """The `stressmm-replay` header's fields: how to run the program again, and `extra`."""
        meta = {"schedule": self.schedule.to_json(), "model": self.model, "mutant": self.mutant,
                "backend": self.backend, "total": self.total, **extra}
        if self.impl:
            meta["impl"] = list(self.impl)
        return meta

    def _machine_text(self) -> str:
        return f"{self.machine.get('cpu', '?')}, {self.machine.get('logical_cpus', '?')} CPUs"

    def _shape_line(self) -> str:
        return (f"program: {len(self.program.threads)} threads, {self.program.size} ops; "
                f"schedule: {self.schedule.to_json()}")

    def _bare_program(self) -> str:
        """The program without condition or expect lines (a finding with no judged outcome)."""
        from .syntax import print_program

        return print_program(replace(self.program, condition=None, expects=()))

    def to_json(self) -> dict:
        from .syntax import print_program

        return {"program": print_program(self.program), "schedule": self.schedule.to_json(),
                "outcome": self.outcome.to_json(), "outcome_text": str(self.outcome),
                "count": self.count, "total": self.total, "model": self.model,
                "backend": self.backend, "impl": list(self.impl),
                "implementation": self.under_test, "mutant": self.mutant, "verdicts": self.verdicts,
                "others": [[o.to_json(), n] for o, n in self.others], "why": self.explanation(),
                "machine": self.machine, "versions": self.versions,
                "threads": len(self.program.threads), "ops": self.program.size}

    def report(self) -> str:
        """The readable report a user sees."""
        from .syntax import print_program

        lines = [f"FORBIDDEN outcome {self.outcome} seen {self.count:,} times in {self.total:,} runs"
                 f" on {self.under_test}" + (f" (mutant {self.mutant})" if self.mutant else ""),
                 f"forbidden by: {', '.join(self.forbidden_by) or '-'}"
                 + (f"; allowed by: {', '.join(self.allowed_by)}" if self.allowed_by else ""),
                 self._shape_line()]
        why = self.explanation()
        if why:
            lines += [f"why ({self.model}): " + line for line in why.splitlines()]
        for o, n in self.others[:5]:
            lines.append(f"also forbidden: {o} ({n:,} times)")
        lines.append("")
        lines.append(print_program(replace(self.program,
                                           condition=outcome_condition(self.outcome, "~exists"))))
        return "\n".join(lines)


@dataclass(frozen=True)
class StuckCounterexample(Counterexample):
    """A program during which the implementation under test crashed (a segfault, an abort) or
    made a call that never returned: the backend's `stuck` note (`info["stuck"]`). Found,
    shrunk, saved and replayed like a forbidden outcome; `outcome` is the `timeout` the run
    ended with, kept for the record (it is not judged).

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus L\\nmutex m\\nP0:\\n  m.Lock()\\nP1:\\n  m.Lock()\\n")
        >>> cex = StuckCounterexample(p, Schedule(), Outcome.flagged("timeout"), 1, 1, "go",
        ...                           "native", stuck="lock crashed (SIGSEGV) while running L")
        >>> cex.report().splitlines()[0]
        'STUCK: lock crashed (SIGSEGV) while running L'
    """

    stuck: str = ""

    def _headline(self) -> str:
        return f"STUCK: {self.stuck}"

    def as_litmus(self) -> str:
        meta = self._replay_meta(stuck=self.stuck)
        head = [f"# stressmm finding: {self._headline()}",
                f"# on {self.under_test}; machine: {self._machine_text()}",
                "# stressmm-replay: " + json.dumps(meta, sort_keys=True)]
        return "\n".join(head) + "\n" + self._bare_program()

    def to_json(self) -> dict:
        return dict(super().to_json(), stuck=self.stuck)

    def explanation(self) -> str:
        return ""

    def report(self) -> str:
        return "\n".join([self._headline(), self._shape_line(), "", self._bare_program()])


def stuck_finding(hist: Histogram, schedule: Schedule, model: str, backend,
                  mutant: Optional[str] = None) -> Optional[StuckCounterexample]:
    """The finding of a run whose implementation crashed or never returned (`info["stuck"]`
    of its histogram), or None for a run that ended normally."""
    from .runtime import backend_name
    from .runtime.registry import spec_of

    note = (hist.info or {}).get("stuck")
    if not note:
        return None
    return StuckCounterexample(
        program=hist.program, schedule=schedule, outcome=Outcome.flagged("timeout"), count=1,
        total=hist.total, model=model, backend=spec_of(backend) or backend_name(backend),
        impl=tuple(getattr(backend, "impl", ()) or ()),
        implementation=hist.backend or backend_name(backend), mutant=mutant, stuck=note,
        machine=machine_facts(), versions=versions())


def outcome_condition(o: Outcome, quantifier: str = "exists") -> Condition:
    """A condition (`exists` unless `quantifier` says otherwise) whose expression is true
    exactly of outcomes equal to `o` on its registers and memory.
    An outcome with nothing in it (a program of primitives only that finished normally) is
    the run that ended with no flag::

        >>> from stressmm.syntax import print_expr
        >>> print_expr(outcome_condition(Outcome()).expr)
        '!deadlock && !panic && !timeout'
    """
    items = [Cmp(RegRef(t, r), v) for t, r, v in o.regs] + [Cmp(MemRef(loc), v) for loc, v in o.mem]
    items += [FlagIs(f) for f in sorted(o.flags)]
    if not items:
        items = [Not(FlagIs(f)) for f in FLAGS]
    return Condition(items[0] if len(items) == 1 else And(tuple(items)), quantifier)


class ForbiddenOutcome(AssertionError):
    """Raised by `check_program`: the backend produced an outcome the model forbids."""

    def __init__(self, counterexample: Counterexample):
        self.counterexample = counterexample
        super().__init__(f"forbidden outcome {counterexample.outcome}")

    def __str__(self) -> str:   # the full report, made only when shown
        return self.counterexample.report()


class Memo:
    """Programs that ever showed a forbidden outcome, keyed by (program, model, backend, mutant).
    Owned by the caller (a campaign, a test session): no global state."""

    def __init__(self) -> None:
        self._seen: dict = {}
        self._programs: set = set()

    def get(self, key) -> Optional[Counterexample]:
        return self._seen.get(key)

    def knows(self, program: Program) -> bool:
        """Whether `program` failed under any model, backend or mutant."""
        return program in self._programs

    def remember(self, key, cex: Counterexample) -> None:
        self._seen.setdefault(key, cex)
        self._programs.add(key[0])

    def __len__(self) -> int:
        return len(self._seen)


def check_program(program: Program, schedule: Schedule = Schedule(), *, backend=None,
                  model: Optional[str] = None, iterations: int = DEFAULT_ITERATIONS,
                  mutant: Optional[str] = None, memo: Optional[Memo] = None,
                  on_run: Optional[Callable[[Histogram], None]] = None,
                  on_part: Optional[Callable[[Histogram], None]] = None,
                  part_seconds: float = PART_SECONDS) -> Histogram:
    """Run `program` `iterations` times on `backend` (default: the native runtime) and raise
    `ForbiddenOutcome` if an outcome `model` forbids shows up (timeouts are not judged).
    Without `model`, a Go program is judged by `go`, any other by `tso` (`default_model`).
    Returns the histogram when every outcome was allowed.

    `backend` follows the protocol of `stressmm.runtime` (docs/backends.md): anything with
    `run(program, iterations=..., schedule=...)` (plus `mutant=` when one is given) returning
    a complete Histogram, or a plain callable with that signature; `get_backend(spec)` loads
    one by name. A histogram that is not complete for the program raises BadHistogram.

    With `on_part`, the iterations run in parts of about `part_seconds` each (`run_in_parts`)
    and `on_part` gets the histogram so far after each: a campaign worker's heartbeat, so that
    a slow program is told from a hung one by its progress, not by its length."""
    from .runtime import backend_name as name_of, run_backend
    from .runtime.registry import spec_of

    model = model or default_model(program)
    backend_name = name_of(backend)
    # Keyed by the backend itself: two implementations judged in one session never share
    # an entry (backend_name is only what reports show).
    key = (program, model, "native" if backend is None else backend, mutant)
    if memo is not None:
        known = memo.get(key)
        if known is not None:
            _fail(known)
    if on_part is None:
        hist = run_backend(backend, program, iterations=iterations, schedule=schedule,
                           mutant=mutant)
    else:   # a part that shows a forbidden outcome ends the runs: the finding is made
        allowed = get_model(model).allowed(program).outcomes
        hist = run_in_parts(backend, program, iterations=iterations, schedule=schedule,
                            mutant=mutant, on_part=on_part, part_seconds=part_seconds,
                            stop=lambda h: bool(h.outside(allowed)))
    if on_run is not None:
        on_run(hist)
    stuck = stuck_finding(hist, schedule, model, backend, mutant)
    if stuck is not None:   # a crash or a call that never returned: a finding of its own
        if memo is not None:
            memo.remember(key, stuck)
        _fail(stuck)
    allowed = get_model(model).allowed(program).outcomes
    bad = hist.outside(allowed)
    if not bad:
        return hist
    ranked = sorted(bad.items(), key=lambda kv: (-kv[1], kv[0]))
    worst, count = ranked[0]
    verdicts = {}
    for name in dict.fromkeys(["sc", "tso", model]):
        verdicts[name] = worst in get_model(name).allowed(program).outcomes
    cex = Counterexample(program=program, schedule=schedule, outcome=worst, count=count,
                         total=hist.total, model=model, backend=spec_of(backend) or backend_name,
                         impl=tuple(getattr(backend, "impl", ()) or ()),
                         implementation=hist.backend or backend_name, mutant=mutant,
                         verdicts=verdicts, others=tuple(ranked[1:]),
                         machine=machine_facts(), versions=versions())
    if memo is not None:
        memo.remember(key, cex)
    _fail(cex)


def run_in_parts(backend, program: Program, *, iterations: int, schedule: Schedule,
                 mutant: Optional[str], on_part: Callable[[Histogram], None],
                 part_seconds: float = PART_SECONDS,
                 stop: Optional[Callable[[Histogram], bool]] = None) -> Histogram:
    """Run `program` `iterations` times on `backend` in parts, calling `on_part(histogram so
    far)` after each, and return the merged histogram. The first part is short
    (FIRST_PART_RUNS); each next one is sized from the pace so far to take about
    `part_seconds`, so a fast backend makes two calls and a slow one (Python threads, an
    overloaded machine) reports every `part_seconds` while a call that never returns stops
    the reports. Part n runs `schedule.part(n)` (fresh delays). The runs end early when a
    part ran fewer iterations than asked (the backend stopped: capped, or a crash or hang,
    `info["stuck"]`), and when a part after the first could not start its threads
    (`ThreadsNotStarted`: the parts done are returned, with `info["capped"]` saying so; from
    the first part it is raised), and when `stop(histogram so far)` is true (a campaign stops
    at the first part that shows a forbidden outcome). Ctrl-C or SIGTERM in a part carries
    the runs of every part done (`partial_histogram`). A race-detector backend runs whole:
    its reports are per process.

        >>> from stressmm.syntax import parse
        >>> from stressmm.outcome import Outcome
        >>> [p] = parse("litmus T\\nvar x int\\nP0:\\n  x = 1\\n")
        >>> def backend(program, iterations, schedule):
        ...     return Histogram(program, {Outcome.make({}, {"x": 1}): iterations}, 1e-3)
        >>> sizes = []
        >>> run_in_parts(backend, p, iterations=5000, schedule=Schedule(), mutant=None,
        ...              on_part=lambda h: sizes.append(h.total)).total
        5000
        >>> sizes[0], sizes[-1]
        (500, 5000)
    """
    from .runtime import ThreadsNotStarted, attach_histogram, partial_histogram, run_backend

    if getattr(backend, "race", False):
        hist = run_backend(backend, program, iterations=iterations, schedule=schedule,
                           mutant=mutant)
        on_part(hist)
        return hist
    started = time.monotonic()
    hist, part = None, min(iterations, FIRST_PART_RUNS)
    for n in range(iterations):   # bounded: every part runs at least one iteration
        try:
            got = run_backend(backend, program, iterations=part, schedule=schedule.part(n),
                              mutant=mutant)
        except ThreadsNotStarted:
            if hist is None:
                raise   # not one run yet: the caller decides (`run_started` tries again)
            # The parts done are judged, not thrown away with this one: a forbidden outcome
            # they showed stays found. The note says why the runs are fewer than asked.
            return replace(hist, info={**hist.info, "capped": (
                f"{hist.total:,} of {iterations:,} runs: the threads of the next part could "
                f"not start in time (machine overloaded?)")})
        except BaseException as exc:   # Ctrl-C, SIGTERM: every part's runs go with the signal
            if hist is not None:
                done = partial_histogram(exc)
                attach_histogram(exc, hist if done is None else hist.merged(done))
            raise
        hist = got if hist is None else hist.merged(got)
        on_part(hist)
        done = hist.total
        if (done >= iterations or got.total < part or (got.info or {}).get("stuck")
                or (stop is not None and stop(hist))):
            break
        pace = done / max(time.monotonic() - started, 1e-6)   # iterations a second so far
        part = max(1, min(iterations - done, int(pace * part_seconds)))
    return hist


def run_started(attempt: Callable[[], Histogram], tries: int = START_TRIES,
                on_retry: Optional[Callable[[], None]] = None) -> Optional[Histogram]:
    """`attempt()` (a run of one program, usually `check_program`), tried again when it
    raises `ThreadsNotStarted` (a program thread missed a start barrier of the runtime: the
    machine is overloaded, which says nothing of the implementation under test), at most
    `tries` times in all. Returns what `attempt` returned, or None when no try could start
    the threads: the program is then unjudged, to be counted (`unstarted_note`), never
    reported as a finding nor as a pass. `on_retry()` is called before each new try (a campaign
    worker's heartbeat: a failed try may have waited out a barrier's bound). What any try
    raises besides `ThreadsNotStarted` (a ForbiddenOutcome, Ctrl-C) goes through at once.
    Campaign workers and the pytest plugin both run their programs through this.

        >>> from stressmm.runtime import ThreadsNotStarted
        >>> calls = []
        >>> def late_once():
        ...     calls.append(1)
        ...     if len(calls) == 1:
        ...         raise ThreadsNotStarted("P: a thread missed the start barrier")
        ...     return "judged"
        >>> run_started(late_once), len(calls)
        ('judged', 2)
        >>> def never():
        ...     raise ThreadsNotStarted("P: a thread missed the start barrier")
        >>> run_started(never) is None
        True
    """
    from .runtime import ThreadsNotStarted

    for n in range(tries):
        if n and on_retry is not None:
            on_retry()
        try:
            return attempt()
        except ThreadsNotStarted:   # overload, not a fault: try again, then give up unjudged
            continue
    return None


def unstarted_note(n: int, remedy: str = "Run fewer jobs beside the campaign, or fewer "
                                         "--workers") -> str:
    """What is said of `n` programs skipped unjudged because their threads could not start in
    time (`run_started` gave up on them), ending with `remedy`.

        >>> unstarted_note(3)
        '3 programs could not start their threads in time (skipped, not judged): machine overloaded? Run fewer jobs beside the campaign, or fewer --workers'
    """
    return (f"{n:,} program{'s' if n != 1 else ''} could not start their threads in time "
            f"(skipped, not judged): machine overloaded? {remedy}")


def why_forbidden(program: Program, outcome: Outcome, model: str = DEFAULT_MODEL) -> str:
    """Why `model` (the one that judged) forbids `outcome`, in the words of that model's own
    explanation (`why_forbidden` of the model object: for sc and tso what the exhaustive search
    vouches for and, when it can tell, a cycle; for go and c11 the rule broken and its cycle),
    or "" when the model allows the outcome or its search passes its work limit."""
    try:
        text = get_model(model).why_forbidden(program, outcome)
    except StateLimitError:
        return ""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def _fail(cex: Counterexample):
    # The one place a ForbiddenOutcome is raised: Hypothesis tells failures apart by where they
    # were raised, so a replay from the memo must fail at the same spot as the first run did.
    raise ForbiddenOutcome(cex)


# ---------------------------------------------------------------- corpus


def check_corpus(directory) -> Path:
    """Make sure counterexamples can be saved in `directory` (created when missing) before a
    campaign spends its budget. Raises OSError saying why not (a read-only folder, a path under
    a regular file, ...).

        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> check_corpus(os.path.join(d, "corpus")).is_dir()
        True
    """
    import tempfile

    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".stressmm-write-check-"):
            pass
    except OSError as e:
        raise OSError(e.errno, f"cannot save counterexamples in {directory}: "
                               f"{e.strerror or e} (give a writable --corpus, or --corpus '' "
                               f"to not save)") from None
    return d


def save_counterexample(cex: Counterexample, directory) -> Path:
    """Write `<id>.litmus` and append a JSON line to `counterexamples.jsonl` in `directory`;
    returns the .litmus path. The id is derived from the program text, so saving the same
    counterexample twice writes one file and one JSON line."""
    import hashlib

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    from .syntax import print_program

    text = cex.as_litmus()
    shown = replace(cex.program, condition=outcome_condition(cex.outcome))
    ident = hashlib.sha1(print_program(shown).encode()).hexdigest()[:12]
    stem = re.sub(r"[^\w+.-]", "_", cex.program.name) or "counterexample"
    path = d / f"{stem}-{ident}.litmus"
    path.write_text(text)
    index = d / "counterexamples.jsonl"
    if ident not in _saved_ids(index):
        entry = dict(cex.to_json(), id=ident, file=str(path), time=time.time())
        with open(index, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
    return path


def _saved_ids(index: Path) -> set:
    """The ids of the counterexamples a `counterexamples.jsonl` lists (unreadable lines skipped)."""
    if not index.exists():
        return set()
    ids = set()
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            ids.add(entry.get("id"))
    return ids


REPLAY_PREFIX = "# stressmm-replay: "


def check_replay_meta(meta, program: Program) -> dict:
    """`meta` (a replay header) if it describes a run of `program`, else ValueError saying what
    is wrong. Every field is optional; those present must be possible for this program.

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus T\\nvar x int\\nP0:\\n  r0 = x\\n")
        >>> check_replay_meta({"outcome": {"regs": {"P3:r0": 1}}}, p)
        Traceback (most recent call last):
        ...
        ValueError: the outcome names P3:r0, but T has no register r0 in thread P3 (threads: P0)
    """
    from .program import FLAGS

    if not isinstance(meta, dict):
        raise ValueError(f"the header must be a JSON object, got {meta!r}")
    nthreads = len(program.threads)
    schedule = meta.get("schedule")
    if schedule is not None:
        if not isinstance(schedule, dict):
            raise ValueError(f"schedule must be a JSON object like {Schedule().to_json()}, "
                             f"got {schedule!r}")
        parsed = Schedule.from_json(schedule)
        if len(parsed.delays) > nthreads:
            raise ValueError(f"the schedule gives delays for {len(parsed.delays)} threads, but "
                             f"{program.name} has {nthreads}")
    if not isinstance(meta.get("backend", ""), str):
        raise ValueError(f"backend must be a string, got {meta['backend']!r}")
    impl = meta.get("impl", [])
    if not (isinstance(impl, list) and all(isinstance(i, str) for i in impl)):
        raise ValueError(f"impl must be a list of module:Class strings, got {impl!r}")
    for name in ("count", "total"):
        value = meta.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if "total" in meta and meta.get("count", 0) > meta["total"]:
        raise ValueError(f"count {meta['count']} is more than total {meta['total']}")
    outcome = meta.get("outcome")
    if outcome is not None:
        if not isinstance(outcome, dict):
            raise ValueError(f"outcome must be a JSON object, got {outcome!r}")
        unknown = sorted(set(outcome) - {"regs", "mem", "flags"})
        if unknown:
            raise ValueError(f"outcome has unknown fields {unknown} (known: regs, mem, flags)")
        flags = outcome.get("flags", [])
        bad = [f for f in flags if f not in FLAGS] if isinstance(flags, list) else [flags]
        if bad:
            raise ValueError(f"outcome flags {bad} are not flags (known: {', '.join(FLAGS)})")
        parsed = Outcome.from_json(outcome)
        odd = [v for _, _, v in parsed.regs] + [v for _, v in parsed.mem]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in odd):
            raise ValueError(f"outcome values must be integers, got {outcome!r}")
        for t, r, _ in parsed.regs:
            if t >= nthreads or r not in program.registers(t):
                raise ValueError(f"the outcome names P{t}:{r}, but {program.name} has no register "
                                 f"{r} in thread P{t} (threads: "
                                 f"{', '.join(f'P{i}' for i in range(nthreads))})")
        declared = {v.name for v in program.decls if isinstance(v, Var)}
        for loc, _ in parsed.mem:
            if loc not in declared:
                raise ValueError(f"the outcome names variable {loc}, which {program.name} does "
                                 f"not declare")
    for name in ("model", "mutant", "backend", "stuck"):
        if meta.get(name) is not None and not isinstance(meta[name], str):
            raise ValueError(f"{name} must be a string, got {meta[name]!r}")
    if meta.get("model") is not None:
        get_model(meta["model"])   # UnknownModelError (a KeyError) listing the models
    return meta


def load_counterexample(path) -> tuple:
    """(Program, replay metadata dict) from a counterexample .litmus file (`-`: standard
    input). A malformed or impossible `# stressmm-replay:` header is a LitmusSyntaxError
    pointing at it."""
    from .syntax import parse, read_text

    text = read_text(path)
    header = None
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(REPLAY_PREFIX):
            header = (n, line)
    progs = parse(text, filename="<stdin>" if str(path) == "-" else str(path))
    if len(progs) != 1:
        from .syntax import LitmusSyntaxError

        raise LitmusSyntaxError(f"a counterexample file holds one test, found {len(progs)}",
                                str(path))
    if header is None:
        return progs[0], {}
    return progs[0], _read_header(header[1][len(REPLAY_PREFIX):], progs[0], str(path), header[0],
                                  header[1], len(REPLAY_PREFIX))


def _read_header(data: str, program: Program, filename: str, line: int, source: str,
                 col: int) -> dict:
    """The replay header `data` (JSON text) checked against `program`; LitmusSyntaxError at
    `filename:line` otherwise."""
    from .syntax import LitmusSyntaxError

    try:
        return check_replay_meta(json.loads(data), program)
    except json.JSONDecodeError as e:
        raise LitmusSyntaxError(f"the replay header is not valid JSON ({e.msg})",
                                filename, line, col + e.pos + 1, source) from None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise LitmusSyntaxError(f"the replay header does not describe a run of this program ({e})",
                                filename, line, col + 1, source) from None


def load_corpus(path) -> list:
    """Every counterexample of a corpus: a `counterexamples.jsonl` file (one JSON object a
    line, as `save_counterexample` writes) or a directory of counterexample `.litmus` files.
    Returns (label, Program, metadata) triples, one per distinct counterexample, and raises
    LitmusSyntaxError at the first bad entry; `load_corpus_entries` reports them all."""
    entries, errors = load_corpus_entries(path)
    if errors:
        raise errors[0]
    return entries


def load_corpus_entries(path) -> tuple:
    """([(label, Program, metadata)], [errors]) for a corpus (see `load_corpus`): good entries
    are kept even when others are bad, so every error can be reported at once."""
    from .syntax import LitmusSyntaxError, parse, read_text

    p = Path(path)
    entries, errors = [], []
    if p.is_dir():
        files = sorted(p.rglob("*.litmus"))
        if not files:
            raise LitmusSyntaxError("no counterexample .litmus files in this directory", str(p))
        for f in files:
            try:
                prog, meta = load_counterexample(f)
                entries.append((str(f), prog, meta))
            except (LitmusSyntaxError, OSError) as e:
                errors.append(e)
        return entries, errors
    seen = set()
    for n, line in enumerate(read_text(p).splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or not isinstance(entry.get("program"), str):
                raise ValueError("expected a JSON object with the program text in \"program\"")
        except (json.JSONDecodeError, ValueError) as e:
            errors.append(LitmusSyntaxError(f"not a counterexample entry ({e})", str(p), n, 1))
            continue
        key = entry.get("id") or line
        if key in seen:
            continue
        seen.add(key)
        try:
            [prog] = parse(entry["program"], filename=f"{p}:{n}")
        except LitmusSyntaxError as e:
            errors.append(LitmusSyntaxError(f"the program of this entry does not parse "
                                            f"({e.message}, its line {e.line})", str(p), n, 1))
            continue
        except ValueError:
            errors.append(LitmusSyntaxError("the program of this entry holds several tests",
                                            str(p), n, 1))
            continue
        meta = {k: entry.get(k) for k in ("schedule", "model", "mutant", "backend", "outcome",
                                          "count", "total", "impl", "stuck") if entry.get(k)
                or k in entry and k not in ("impl", "stuck")}   # as the .litmus header has them
        try:
            meta = check_replay_meta(meta, prog)
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            errors.append(LitmusSyntaxError(f"this entry does not describe a run of its program "
                                            f"({e})", str(p), n, 1))
            continue
        entries.append((f"{p}:{n}", prog, meta))
    return entries, errors
