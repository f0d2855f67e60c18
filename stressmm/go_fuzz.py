"""The race detector as an implementation under test in fuzzing: a `go-race` run whose
reports disagree with the go model's races is a finding, shrunk and saved like a
counterexample, and replayed by the detector's reports.

    >>> from stressmm.syntax import parse
    >>> from stressmm.models import get_model
    >>> from stressmm.outcome import Histogram, Outcome
    >>> from stressmm.schedule import Schedule
    >>> [p] = parse("litmus R\\nvar x int\\nP0:\\n  x = 1\\nP1:\\n  r0 = x\\n")
    >>> h = Histogram(p, {Outcome.make({(1, "r0"): 0}, {"x": 1}): 500}, backend="go1.19.8 gc -race",
    ...               info={"race_reports": [], "race_unmapped": [], "race_runs": 500})
    >>> cex = race_finding(h, get_model("go").allowed(p), Schedule(), "go-race")
    >>> cex.kind, cex.total, cex.pairs
    ('missed', 500, (('P0 `x = 1` (line 4)', 'P1 `r0 = x` (line 6)'),))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from .fuzz import Counterexample
from .go_judge import race_comparison
from .outcome import Histogram

__all__ = ["RaceCounterexample", "race_finding", "race_replay", "check_races", "RACE_KINDS",
           "model_race_pairs", "campaign_backend"]


RACE_KINDS = ("missed", "unexpected")


@dataclass(frozen=True)
class RaceCounterexample(Counterexample):
    """A fuzzing finding of the race detector (a `go-race` campaign): races the go model
    predicts that the detector never reported in `total` runs (`kind` "missed": a probabilistic
    finding, the detector may report them in more runs), or reports the model says cannot
    happen (`kind` "unexpected": a detector false positive or a model bug). The documented
    differences (`channel`, `waitgroup`) are never findings. `outcome` is the outcome seen
    most often, kept for the record: every outcome seen was allowed.

        >>> from stressmm.syntax import parse
        >>> from stressmm.schedule import Schedule
        >>> from stressmm.outcome import Outcome
        >>> [p] = parse("litmus R\\nvar x int\\nP0:\\n  x = 1\\nP1:\\n  r0 = x\\n")
        >>> o = Outcome.make({(1, "r0"): 0}, {"x": 1})
        >>> cex = RaceCounterexample(p, Schedule(), o, 5, 5, "go", "go-race", kind="missed",
        ...                          pairs=(("P0 `x = 1` (line 4)", "P1 `r0 = x` (line 6)"),))
        >>> cex.report().splitlines()[0]
        'RACE DETECTOR MISSED a race the go model predicts, in all 5 runs on go-race'
    """

    kind: str = "missed"
    pairs: tuple = ()          # (str, str) op pairs, as the race comparison names them
    ops: tuple = ()            # the same pairs as ((thread, op index), (thread, op index))

    def _headline(self) -> str:
        if self.kind == "missed":
            return (f"RACE DETECTOR MISSED a race the go model predicts, in all {self.total:,} "
                    f"runs on {self.under_test}")
        return (f"RACE DETECTOR REPORTED a race the go model says cannot happen (a detector "
                f"false positive or a model bug), in {self.total:,} runs on {self.under_test}")

    def _details(self) -> list:
        lines = [f"{'missed' if self.kind == 'missed' else 'reported'}: {a} / {b}"
                 for a, b in self.pairs]
        if self.kind == "missed":
            lines.append(f"a probabilistic finding: the race was not reported in {self.total:,} "
                         "runs; the detector keeps a few accesses per address and reports a "
                         "pair of lines once per process (docs/go-backends.md)")
        return lines

    def race_meta(self) -> dict:
        return {"kind": self.kind, "pairs": [list(p) for p in self.pairs],
                "ops": [[list(a), list(b)] for a, b in self.ops], "runs": self.total}

    def as_litmus(self) -> str:
        meta = {"schedule": self.schedule.to_json(), "model": self.model,
                "backend": self.backend, "race": self.race_meta()}
        head = [f"# stressmm race finding: {self._headline()}"] + \
            [f"# {line}" for line in self._details()] + \
            ["# stressmm-replay: " + json.dumps(meta, sort_keys=True)]
        return "\n".join(head) + "\n" + self._bare_program()

    def to_json(self) -> dict:
        return dict(super().to_json(), race=self.race_meta())

    def report(self) -> str:
        return "\n".join([self._headline()] + self._details()
                         + [self._shape_line(), "", self._bare_program()])


def race_finding(hist: Histogram, model_result, schedule, backend_spec: str,
                 model: str = "go") -> Optional[RaceCounterexample]:
    """The race finding of a race-detector run (`hist` from `go-race`), or None when the
    detector reported exactly the model's races (the documented differences aside), or the
    run had no detector. Unexpected reports come first: they are never a matter of luck."""
    comparison = race_comparison(hist, model_result)
    if comparison is None:
        return None
    runs = (hist.info or {}).get("race_runs", hist.total)
    for kind, pairs in (("unexpected", comparison.unexpected), ("missed", comparison.missed)):
        if pairs and runs > 0:
            seen = sorted(((o, n) for o, n in hist.counts.items() if not o.flags),
                          key=lambda kv: (-kv[1], kv[0]))
            outcome, count = seen[0] if seen else max(hist.counts.items(), key=lambda kv: kv[1])
            return RaceCounterexample(
                program=hist.program, schedule=schedule, outcome=outcome, count=count,
                total=runs, model=model, backend=backend_spec, implementation=hist.backend,
                verdicts={model: True}, kind=kind,
                pairs=tuple((str(a), str(b)) for a, b in sorted(pairs)),
                ops=tuple(((a.thread, a.index), (b.thread, b.index)) for a, b in sorted(pairs)))
    return None


def race_replay(hist: Histogram, model_result, meta: dict) -> tuple:
    """(reproduced, line) for a replay of a race finding (`meta["race"]` from its header):
    reproduced when the same kind of finding shows again for the recorded pairs."""
    race = meta.get("race") or {}
    comparison = race_comparison(hist, model_result)
    if comparison is None:
        return False, ("not reproduced: the backend ran no race detector; replay on go-race "
                       "(--backend go-race)")
    kind = race.get("kind")
    now = {((a.thread, a.index), (b.thread, b.index)): f"{a} / {b}"
           for a, b in (comparison.missed if kind == "missed" else comparison.unexpected)}
    recorded = {tuple(tuple(x) for x in p) for p in race.get("ops", ())}
    hit = sorted(now[p] for p in recorded & set(now))
    runs = (hist.info or {}).get("race_runs", hist.total)
    if hit:
        return True, f"REPRODUCED: {kind} race {'; '.join(hit)} again in {runs:,} runs"
    return False, (f"not reproduced: the {kind} race(s) {race.get('pairs')} did not show as "
                   f"{kind} in {runs:,} runs" + (" (the detector reported them this time: a "
                                                 "missed race is probabilistic)"
                                                 if kind == "missed" else ""))


def check_races(hist: Histogram, schedule, backend, model: Optional[str] = None,
                memo=None) -> None:
    """Raise ForbiddenOutcome with a `RaceCounterexample` when a race-detector run disagrees
    with the go model's races (see `race_finding`). `model` is the one `check_program` judged
    the outcomes by: the finding is remembered in `memo` under the key `check_program` looks
    up, so that Hypothesis's replays of the program fail alike."""
    from .fuzz import DEFAULT_MODEL, _fail
    from .models import get_model
    from .runtime import backend_name
    from .runtime.registry import spec_of

    cex = race_finding(hist, get_model("go").allowed(hist.program), schedule,
                       spec_of(backend) or backend_name(backend))
    if cex is None:
        return
    if memo is not None:
        memo.remember((hist.program, model or DEFAULT_MODEL, backend, None), cex)
    _fail(cex)


def model_race_pairs(program) -> tuple:
    """The go model's races of `program` as op pairs ((thread, op index), (thread, op index));
    () when the model gives up on the program (its state limit).

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus R\\nvar x int\\nP0:\\n  x = 1\\nP1:\\n  r0 = x\\n")
        >>> model_race_pairs(p)
        (((0, 0), (1, 0)),)
    """
    from .models import StateLimitError, get_model

    try:
        races = get_model("go").allowed(program).races
    except StateLimitError:
        return ()
    return tuple(sorted(tuple(sorted(((r.first.thread, r.first.index),
                                      (r.second.thread, r.second.index)))) for r in races))


def campaign_backend(backend):
    """The backend a fuzz campaign runs: a race-detector backend ends a program's runs once
    the detector has reported every race the go model predicts (after a tenth of them: a
    racy program runs 5-40 times slower under the detector than a race-free one); a program
    with a race not yet reported, or with none predicted, runs every iteration, so missed
    races and false reports on race-free programs are looked for as before. Any other backend
    is returned as it is."""
    if getattr(backend, "race", False) and callable(getattr(backend, "stopping_early", None)):
        return backend.stopping_early(model_race_pairs)
    return backend
