"""Judging a hardware histogram: each model's verdict (or why it gave up), the `exists`
observation as litmus7 reports it, and the `expect` lines a run can check.

    >>> from stressmm.syntax import find_scenario, parse_file
    >>> [sb] = parse_file(find_scenario("SB"))     # exists (P0:r0 == 0 && P1:r1 == 0)
    >>> weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
    >>> strong = Outcome.make({(0, "r0"): 1, (1, "r1"): 1}, {"x": 1, "y": 1})
    >>> j = judge(Histogram(sb, {weak: 3, strong: 997}), "tso")
    >>> j.observation.line(sb.name)
    'Observation SB Sometimes 3 997'
    >>> list(j.verdicts), j.forbidden
    (['tso', 'sc', 'c11'], 0)
    >>> print(j.expectations[0].text)
    expect sc: forbidden  -> seen 3 times: this machine is weaker than sc (judged by tso)

Only the judging model and the models the program's `expect` lines name are computed; a
model that gives up (state limit) has the verdict None and its message in `gave_up`, and
the histogram is shown all the same. `timeout` runs are never judged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .models import MODELS, StateLimitError, get_model
from .outcome import Histogram, Outcome, evaluate

__all__ = ["Judged", "Observation", "RunExpectation", "judge", "models_to_compute",
           "stuck_reason", "TIMEOUT"]

TIMEOUT = Outcome.flagged("timeout")
DEADLOCK = Outcome.flagged("deadlock")


@dataclass(frozen=True)
class Observation:
    """How many judged runs satisfied the condition's expression (positive) and how many did not
    (negative), as litmus7's `Observation NAME Sometimes|Always|Never p n` line, and the
    condition's quantifier (`exists`, `~exists`, `forall`)."""

    positive: int
    negative: int
    quantifier: str = "exists"

    @property
    def witnessed(self) -> int:
        """Runs that witness the condition (see `stressmm.outcome.witnesses`)."""
        return self.negative if self.quantifier == "forall" else self.positive

    @property
    def validated(self) -> bool:
        """herd7's verdict of the condition over the outcomes seen: `exists` holds when some
        run witnesses it, `~exists` and `forall` when none does."""
        return bool(self.witnessed) == (self.quantifier == "exists")

    def condition_line(self, condition_text: str) -> str:
        """litmus7's `Condition ... is validated` line."""
        return f"Condition {condition_text} is {'' if self.validated else 'NOT '}validated"

    @property
    def verdict(self) -> str:
        if self.positive == 0:
            return "Never"
        return "Always" if self.negative == 0 else "Sometimes"

    def line(self, name: str) -> str:
        return f"Observation {name} {self.verdict} {self.positive} {self.negative}"


@dataclass(frozen=True)
class RunExpectation:
    """One `expect` line as a run sees it: `failed` when the hardware contradicts it for the
    judging model; `text` says what was seen."""

    model: str
    verdict: str
    failed: bool
    text: str


@dataclass(frozen=True)
class Judged:
    """A histogram with its verdicts: `verdicts` maps each computed model to its allowed
    outcomes, or None when it gave up (`gave_up` holds its message)."""

    histogram: Histogram
    checked: Optional[str]
    verdicts: dict
    gave_up: dict = field(default_factory=dict)
    observation: Optional[Observation] = None
    expectations: tuple = ()

    @property
    def timeouts(self) -> int:
        return self.histogram.counts.get(TIMEOUT, 0)

    @property
    def judged(self) -> bool:
        """Whether the judging model gave an answer (False with --model none too)."""
        return self.checked is not None and self.verdicts.get(self.checked) is not None

    def forbidden_outcomes(self) -> dict:
        """Observed outcomes the judging model forbids, with their counts."""
        if not self.judged:
            return {}
        return self.histogram.outside(self.verdicts[self.checked])

    @property
    def forbidden(self) -> int:
        return sum(self.forbidden_outcomes().values())

    @property
    def failed(self) -> int:
        return sum(1 for e in self.expectations if e.failed)


def models_to_compute(program, checked: Optional[str]) -> list:
    """The judging model, then the known models the program's `expect` lines name: the models
    a run is asked about. None (`--model none`) computes no model at all.

    >>> from stressmm.program import Program, Thread, Expect
    >>> models_to_compute(Program("p", (), (Thread(()),), expects=(Expect("sc", "norace"),)), "tso")
    ['tso', 'sc']
    """
    if checked is None:
        return []
    named = [e.model for e in program.expects if e.model in MODELS]
    return list(dict.fromkeys([checked] + named))


def allowed_or_gave_up(model: str, program) -> tuple:
    """(allowed outcomes, None), or (None, message) when the model gave up."""
    try:
        return get_model(model).allowed(program).outcomes, None
    except StateLimitError as e:
        return None, str(e)


def judge(hist: Histogram, checked: Optional[str]) -> Judged:
    """The verdicts of the models a run is asked about (see `models_to_compute`), the
    observation of the `exists` condition and the `expect` lines, for `hist`."""
    program = hist.program
    verdicts, gave_up = {}, {}
    for m in models_to_compute(program, checked):
        verdicts[m], why = allowed_or_gave_up(m, program)
        if why is not None:
            gave_up[m] = why
    obs = None
    if program.condition is not None:
        judged = {o: n for o, n in hist.counts.items() if "timeout" not in o.flags}
        pos = sum(n for o, n in judged.items() if evaluate(program.condition, o))
        obs = Observation(pos, sum(judged.values()) - pos, program.condition.quantifier)
    exps = tuple(_expectation(e, obs, hist, checked, verdicts) for e in program.expects)
    return Judged(hist, checked, verdicts, gave_up, obs, exps)


def _expectation(e, obs: Optional[Observation], hist: Histogram, checked, verdicts) -> RunExpectation:
    head = f"expect {e.model}: {e.verdict}"

    def done(text: str, failed: bool = False) -> RunExpectation:
        return RunExpectation(e.model, e.verdict, failed, f"{head}  -> {text}")

    if e.verdict in ("race", "norace"):
        return done("not checked by a run (races are the model's: `stressmm check`)")
    if checked is None:
        return done("not checked (--model none)")
    if e.model not in verdicts:
        return done(f"not checked (stressmm has no model {e.model!r})")
    if verdicts[e.model] is None:
        return done(f"not checked ({e.model} gave up)")
    if e.verdict == "deadlock":
        n = hist.counts.get(DEADLOCK, 0)
        return done(f"deadlock seen {n:,} times" if n else "deadlock never seen here")
    if obs is None:
        return done("not checked (no exists condition)")
    seen, total = obs.witnessed, obs.positive + obs.negative
    what = "a violation of forall " if obs.quantifier == "forall" else ""
    if e.verdict == "forbidden" and seen:
        if e.model == checked:
            return done(f"FAIL: {what}seen {seen:,} times although {e.model} forbids it", True)
        return done(f"{what}seen {seen:,} times: this machine is weaker than {e.model} "
                    f"(judged by {checked})")
    if e.verdict == "forbidden":
        return done(f"{what}never seen in {total:,} runs, as {e.model} says")
    if seen:
        return done(f"{what}seen {seen:,} times")
    return done(f"{what}allowed by {e.model} but never seen in {total - seen:,} runs here")


def stuck_reason(program, models: list) -> list:
    """What the models say about a program whose runs all timed out: one line per model
    (whether every execution, some, or none can end in `deadlock`: an await or a wait that can
    never complete). Models that give up say so."""
    lines = []
    for m in models:
        allowed, why = allowed_or_gave_up(m, program)
        if allowed is None:
            lines.append(f"{m}: gave up ({why.split('.')[0]})")
        elif allowed == {DEADLOCK}:
            lines.append(f"{m}: every execution deadlocks (an await or a wait can never complete)")
        elif DEADLOCK in allowed:
            lines.append(f"{m}: some executions deadlock (an await or a wait may never complete)")
        else:
            lines.append(f"{m}: every execution completes, so the runtime (or the machine, if "
                         f"overloaded) is stuck")
    return lines
