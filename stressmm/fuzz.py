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
from .models import get_model
from .outcome import Histogram, Outcome
from .runtime import machine_facts
from .program import (FLAGS, And, Cmp, Condition, Expect, Fence, FlagIs, MemRef, Not, Program,
                      RegRef)
from .schedule import Schedule

__all__ = ["Counterexample", "ForbiddenOutcome", "Memo", "check_program", "DEFAULT_MODEL",
           "save_counterexample", "load_counterexample", "DEFAULT_ITERATIONS"]

DEFAULT_ITERATIONS = 20_000


DEFAULT_MODEL = "tso"
"""The model a program is judged by when none is named: x86-TSO, the model the native runtime
implements on this machine (a program whose accesses are all seq_cst gets SC from it)."""


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
    backend: str
    mutant: Optional[str] = None
    verdicts: dict = field(default_factory=dict)   # model name -> is the outcome allowed
    others: tuple = ()                             # other forbidden outcomes seen, (Outcome, n)
    why: str = ""                                  # the rule the outcome breaks, when known
    machine: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def forbidden_by(self) -> list:
        return [m for m, ok in self.verdicts.items() if not ok]

    @property
    def allowed_by(self) -> list:
        return [m for m, ok in self.verdicts.items() if ok]

    def as_litmus(self) -> str:
        """The counterexample as a .litmus file: the program with an `exists` clause for the
        forbidden outcome and `expect` lines, and a header that `stressmm replay` reads."""
        from .syntax import print_program

        prog = replace(self.program, condition=outcome_condition(self.outcome),
                       expects=tuple(Expect(m, "allowed" if ok else "forbidden")
                                     for m, ok in self.verdicts.items()))
        meta = {"schedule": self.schedule.to_json(), "model": self.model, "mutant": self.mutant,
                "backend": self.backend, "outcome": self.outcome.to_json(),
                "count": self.count, "total": self.total}
        head = [f"# stressmm counterexample: {self.outcome} seen {self.count:,} times in "
                f"{self.total:,} runs on {self.backend}" + (f" (mutant {self.mutant})" if self.mutant else ""),
                f"# forbidden by: {', '.join(self.forbidden_by) or '-'}; allowed by: "
                f"{', '.join(self.allowed_by) or '-'}",
                f"# machine: {self.machine.get('cpu', '?')}, {self.machine.get('logical_cpus', '?')} CPUs",
                "# stressmm-replay: " + json.dumps(meta, sort_keys=True)]
        return "\n".join(head) + "\n" + print_program(prog)

    def to_json(self) -> dict:
        from .syntax import print_program

        return {"program": print_program(self.program), "schedule": self.schedule.to_json(),
                "outcome": self.outcome.to_json(), "outcome_text": str(self.outcome),
                "count": self.count, "total": self.total, "model": self.model,
                "backend": self.backend, "mutant": self.mutant, "verdicts": self.verdicts,
                "others": [[o.to_json(), n] for o, n in self.others], "why": self.why,
                "machine": self.machine, "versions": self.versions,
                "threads": len(self.program.threads), "ops": self.program.size}

    def report(self) -> str:
        """The readable report a user sees."""
        from .syntax import print_program

        lines = [f"FORBIDDEN outcome {self.outcome} seen {self.count:,} times in {self.total:,} runs"
                 + (f" (mutant {self.mutant})" if self.mutant else ""),
                 f"forbidden by: {', '.join(self.forbidden_by) or '-'}"
                 + (f"; allowed by: {', '.join(self.allowed_by)}" if self.allowed_by else ""),
                 f"program: {len(self.program.threads)} threads, {self.program.size} ops; "
                 f"schedule: {self.schedule.to_json()}"]
        if self.why:
            lines.append("why: " + self.why)
        for o, n in self.others[:5]:
            lines.append(f"also forbidden: {o} ({n:,} times)")
        lines.append("")
        lines.append(print_program(replace(self.program, condition=outcome_condition(self.outcome))))
        return "\n".join(lines)


def outcome_condition(o: Outcome) -> Condition:
    """An `exists` clause true exactly of outcomes equal to `o` on its registers and memory.
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
    return Condition(items[0] if len(items) == 1 else And(tuple(items)))


class ForbiddenOutcome(AssertionError):
    """Raised by `check_program`: the backend produced an outcome the model forbids."""

    def __init__(self, counterexample: Counterexample):
        self.counterexample = counterexample
        super().__init__(counterexample.report())


class Memo:
    """Programs that ever showed a forbidden outcome, keyed by (program, model, backend, mutant).
    Owned by the caller (a campaign, a test session): no global state."""

    def __init__(self) -> None:
        self._seen: dict = {}

    def get(self, key) -> Optional[Counterexample]:
        return self._seen.get(key)

    def remember(self, key, cex: Counterexample) -> None:
        self._seen.setdefault(key, cex)

    def __len__(self) -> int:
        return len(self._seen)


def check_program(program: Program, schedule: Schedule = Schedule(), *, backend=None,
                  model: Optional[str] = None, iterations: int = DEFAULT_ITERATIONS,
                  mutant: Optional[str] = None, memo: Optional[Memo] = None,
                  on_run: Optional[Callable[[Histogram], None]] = None) -> Histogram:
    """Run `program` `iterations` times on `backend` (default: the native runtime) and raise
    `ForbiddenOutcome` if an outcome `model` forbids shows up (timeouts are not judged).
    Returns the histogram when every outcome was allowed.

    `backend` is anything with `run(program, iterations=..., schedule=..., mutant=...)` (or
    without `mutant`) returning a Histogram, or a plain callable with that signature."""
    model = model or DEFAULT_MODEL
    backend_name = getattr(backend, "name", None) or ("native" if backend is None else
                                                      getattr(backend, "__name__", "custom"))
    # Keyed by the backend itself: two implementations judged in one session never share
    # an entry (backend_name is only what reports show).
    key = (program, model, "native" if backend is None else backend, mutant)
    if memo is not None:
        known = memo.get(key)
        if known is not None:
            _fail(known)
    hist = _run(backend, program, iterations, schedule, mutant)
    if on_run is not None:
        on_run(hist)
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
                         total=hist.total, model=model, backend=backend_name, mutant=mutant,
                         verdicts=verdicts, others=tuple(ranked[1:]), why=why_forbidden(program, worst),
                         machine=machine_facts(), versions=versions())
    if memo is not None:
        memo.remember(key, cex)
    _fail(cex)


def why_forbidden(program: Program, outcome: Outcome) -> str:
    """The rule `outcome` breaks, with a witness cycle, when a model can say it: the go model
    explains programs whose atomics are all seq_cst (its atomics are seq_cst ones). "" otherwise."""
    from .program import Order

    if any(getattr(op, "order", None) not in (None, Order.SEQ_CST) and not isinstance(op, Fence)
           for _, op in program.ops()):
        return ""
    try:
        go = get_model("go")
    except KeyError:
        return ""
    if outcome in go.allowed(program).outcomes:
        return ""
    text = go.why_forbidden(program, outcome)
    # keep the witness: the last line names the cycle and the rule
    return text.strip().splitlines()[-1].strip() if text.strip() else ""


def _fail(cex: Counterexample):
    # The one place a ForbiddenOutcome is raised: Hypothesis tells failures apart by where they
    # were raised, so a replay from the memo must fail at the same spot as the first run did.
    raise ForbiddenOutcome(cex)


def _run(backend, program, iterations, schedule, mutant) -> Histogram:
    if backend is None:
        from .runtime import native

        return native.run(program, iterations=iterations, schedule=schedule, mutant=mutant)
    run = getattr(backend, "run", backend)
    if mutant is not None:
        return run(program, iterations=iterations, schedule=schedule, mutant=mutant)
    return run(program, iterations=iterations, schedule=schedule)


# ---------------------------------------------------------------- corpus


def save_counterexample(cex: Counterexample, directory) -> Path:
    """Write `<id>.litmus` and append a JSON line to `counterexamples.jsonl` in `directory`;
    returns the .litmus path. The id is derived from the program text, so saving the same
    counterexample twice writes one file."""
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
    entry = dict(cex.to_json(), id=ident, file=str(path), time=time.time())
    with open(d / "counterexamples.jsonl", "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    return path


def load_counterexample(path) -> tuple:
    """(Program, replay metadata dict) from a counterexample .litmus file. A malformed
    `# stressmm-replay:` header is a LitmusSyntaxError pointing at it."""
    from .syntax import LitmusSyntaxError, parse

    text = Path(path).read_text()
    meta = None
    prefix = "# stressmm-replay: "
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            try:
                meta = json.loads(line[len(prefix):])
                if not isinstance(meta, dict):
                    raise ValueError("the header must be a JSON object")
                if meta.get("schedule") is not None:
                    Schedule.from_json(meta["schedule"])
                if meta.get("outcome") is not None:
                    Outcome.from_json(meta["outcome"])
                for field_ in ("count", "total"):
                    if not isinstance(meta.get(field_, 0), int):
                        raise ValueError(f"{field_} must be an integer, got {meta[field_]!r}")
            except json.JSONDecodeError as e:
                raise LitmusSyntaxError(f"the replay header is not valid JSON ({e.msg})",
                                        str(path), n, len(prefix) + e.pos + 1, line)
            except (ValueError, TypeError, AttributeError, KeyError) as e:
                raise LitmusSyntaxError(f"the replay header does not describe a run ({e})",
                                        str(path), n, len(prefix) + 1, line)
    progs = parse(text, filename=str(path))
    if len(progs) != 1:
        raise LitmusSyntaxError(f"a counterexample file holds one test, found {len(progs)}",
                                str(path))
    return progs[0], (meta or {})
