"""Checking a program's `expect` lines against the models.

    >>> from stressmm.syntax import parse
    >>> [sb] = parse('''
    ... litmus SB
    ... var x, y int
    ... P0:
    ...   x = 1
    ...   r0 = y
    ... P1:
    ...   y = 1
    ...   r1 = x
    ... exists (P0:r0 == 0 && P1:r1 == 0)
    ... expect sc: forbidden
    ... expect tso: allowed
    ... ''')
    >>> report = check(sb, ["sc", "tso"])
    >>> [(e.expect.model, e.holds) for e in report.expectations]
    [('sc', True), ('tso', True)]
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Optional

from .models import MODELS, Explanation, ModelResult, applies, get_model
from .outcome import Outcome
from .program import Expect, Not, Program

__all__ = ["ExpectationResult", "CheckReport", "OutcomeExplanation", "check", "explain_outcome",
           "model_for", "verdict_holds", "witness_allowed", "condition_holds_under",
           "unknown_models"]


@dataclass(frozen=True)
class ExpectationResult:
    """One `expect MODEL: VERDICT` line and whether it holds (None: the model was not run)."""

    expect: Expect
    holds: Optional[bool]
    why: str


@dataclass(frozen=True)
class CheckReport:
    program: Program
    results: dict  # model name -> ModelResult
    expectations: tuple

    @property
    def failed(self) -> tuple:
        return tuple(e for e in self.expectations if e.holds is False)

    def condition_reachable(self, model: str) -> Optional[bool]:
        """Whether `model` allows a witness of the condition (`witness_allowed`)."""
        if self.program.condition is None or model not in self.results:
            return None
        return witness_allowed(self.program, self.results[model])

    def condition_holds(self, model: str) -> Optional[bool]:
        """herd7's verdict of the condition under `model`: `exists` holds when a witness is
        allowed, `~exists` and `forall` when none is."""
        if self.program.condition is None or model not in self.results:
            return None
        return condition_holds_under(self.program, self.results[model])


def condition_holds_under(program: Program, result: ModelResult) -> bool:
    """herd7's verdict (Ok / No) of the program's condition under a model's result."""
    return witness_allowed(program, result) == (program.condition.quantifier == "exists")


def witness_allowed(program: Program, result: ModelResult) -> bool:
    """Whether the model allows an outcome that witnesses the program's condition (see
    `stressmm.outcome.witnesses`); always, when the behaviour is undefined."""
    c = program.condition
    return result.allows(Not(c.expr) if c.quantifier == "forall" else c.expr)


def verdict_holds(program: Program, verdict: str, result: ModelResult) -> bool:
    """Whether `verdict` (see stressmm.program.VERDICTS) holds of a model's result."""
    if verdict in ("allowed", "forbidden"):
        return witness_allowed(program, result) == (verdict == "allowed")
    if verdict in ("race", "norace"):
        return bool(result.races) == (verdict == "race")
    if verdict == "deadlock":
        return Outcome.flagged("deadlock") in result.outcomes
    raise ValueError(f"unknown verdict {verdict!r}")


def model_for(name: str, max_states: Optional[int] = None):
    """The model `name`, with its work limit set to `max_states` when given."""
    model = get_model(name)
    return model if max_states is None else model.with_max_states(max_states)


@dataclass(frozen=True)
class OutcomeExplanation:
    """What one model says about an outcome: `witness`, an execution it allows that ends in the
    outcome (its steps, one a line), or, when it forbids every such execution, `why` (the rule
    broken and its cycle, where the model can tell; "" when it cannot)."""

    model: str
    witness: Optional[Explanation]
    why: str = ""

    @property
    def allowed(self) -> bool:
        return self.witness is not None

    @property
    def text(self) -> str:
        return str(self.witness) if self.witness is not None else self.why


def explain_outcome(program: Program, query, model: str,
                    max_states: Optional[int] = None) -> OutcomeExplanation:
    """Why `model` allows or forbids the outcomes matching `query` (an Outcome, a Pattern or
    its text): what `stressmm check --explain` prints, and what reports show beside an outcome.

        >>> from stressmm.syntax import find_scenario, parse_file
        >>> [sb] = parse_file(find_scenario("SB"))
        >>> explain_outcome(sb, "P0:r0=0 P1:r1=0", "tso").allowed
        True
        >>> print(explain_outcome(sb, "P0:r0=0 P1:r1=0", "sc").text)   # doctest: +ELLIPSIS
        SB: P0:r0=0 P1:r1=0 is forbidden by sc: the search of every interleaving ...
    """
    m = model_for(model, max_states)
    witness = m.explain(program, query)
    if witness is not None:
        return OutcomeExplanation(model, witness)
    return OutcomeExplanation(model, None, m.why_forbidden(program, query))


def check(program: Program, models: Iterable[str],
          max_states: Optional[int] = None) -> CheckReport:
    """Run `models` on `program` and judge its expectations. Expectations naming a model that
    was not asked for, or that stressmm does not have, are reported with holds=None.
    `max_states` overrides each model's work limit."""
    names = list(models)
    results = {name: model_for(name, max_states).allowed(program) for name in names
               if applies(name, program)}       # c11 leaves out programs with Go primitives
    judged = []
    for e in program.expects:
        if e.model in results:
            ok = verdict_holds(program, e.verdict, results[e.model])
            judged.append(ExpectationResult(e, ok, "holds" if ok else "FAILS"))
        elif e.model in names:
            judged.append(ExpectationResult(e, None, f"not checked ({e.model} does not describe "
                                                     f"this program's operations)"))
        elif e.model in MODELS:
            judged.append(ExpectationResult(e, None, f"not checked (--model leaves out {e.model})"))
        else:
            judged.append(ExpectationResult(
                e, None, f"not checked (stressmm has no model {e.model!r} yet; "
                         f"known: {', '.join(MODELS)})"))
    return CheckReport(program, results, tuple(judged))


def unknown_models(program: Program, source: str = "") -> list:
    """A warning for each `expect` line naming a model stressmm does not have (a typo, or a
    model not built yet): such a line is never checked.

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus T\\nvar x int\\nP0:\\n  x = 1\\nexpect sx: norace\\n")
        >>> unknown_models(p, "T.litmus")
        ["T.litmus:5: expect sx: stressmm has no model 'sx', so this line is not checked; did you mean sc? (known: sc, tso, go, c11)"]
    """
    out = []
    for e in program.expects:
        if e.model in MODELS:
            continue
        close = difflib.get_close_matches(e.model.lower(), list(MODELS), n=1, cutoff=0.5)
        where = f"{source or program.name}:{e.line}" if e.line else (source or program.name)
        out.append(f"{where}: expect {e.model}: stressmm has no model {e.model!r}, so this line "
                   f"is not checked" + (f"; did you mean {close[0]}?" if close else "")
                   + f" (known: {', '.join(MODELS)})")
    return out
