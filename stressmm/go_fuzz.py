"""Go fuzzing against an implementation under test beyond the native runtime: the race
detector (a `go-race` run whose reports disagree with the go model's races is a finding, shrunk
and saved like a counterexample, and replayed by the detector's reports), and the user's own
primitives (`--impl`), on which a campaign spends its programs (`impl_programs`).

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
           "model_race_pairs", "campaign_backend", "KINDS", "kinds_used", "impl_programs",
           "provided_kinds", "impl_usage"]


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


# ---------------------------------------------------------------- the user's primitives

KINDS = {"mutex": ("mutex",), "rwmutex": ("rwmutex",), "channel": ("chan", "close"),
         "once": ("once",), "waitgroup": ("waitgroup",)}
"""The kinds of primitive an `--impl` can provide (C table entries, Python roles), each with
the names coverage gives its uses (docs/contracts.md; a channel's sends and receives are
`chan`, its close `close`)."""

_MECHANISMS = {"mutex": ("mutex",), "rwmutex": ("rwmutex",),
               "channel": ("chan", "close", "chan-sync"), "once": ("once",),
               "waitgroup": ("waitgroup",)}
"""The handoffs of `go_programs` that go through each kind."""

_ITEMS = {"mutex": ("lock",), "rwmutex": ("rlock", "wlock"),
          "channel": ("send", "recv", "close"), "once": ("once",),
          "waitgroup": ("wg-add", "wg-done", "wg-wait")}
"""The items of `go_op_programs` that use each kind."""

FOCUSED_SHARE = 3
"""Programs drawn for the provided kinds alone, per program drawn from the campaign's usual
mix (and kept only when it uses one of them too)."""


def kinds_used(program) -> frozenset:
    """The kinds of primitive `program` declares and uses.

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus M\\nvar x int\\nmutex mu\\nP0:\\n  mu.Lock()\\n  x = 1\\n"
        ...             "  mu.Unlock()\\nP1:\\n  r0 = x\\n")
        >>> sorted(kinds_used(p))
        ['mutex']
    """
    from .contracts import primitives

    used = primitives(program)
    return frozenset(k for k, prims in KINDS.items() if used & set(prims))


def provided_kinds(backend) -> tuple:
    """The kinds `backend` runs the user's primitives for (its `kinds`), () for none."""
    return tuple(getattr(backend, "kinds", ()) or ())


def impl_programs(mixed, kinds, threads, ops):
    """The programs a campaign draws for an implementation that provides `kinds` (some of
    `KINDS`): only programs that use one of them test it, so FOCUSED_SHARE in
    FOCUSED_SHARE + 1 draws are Go programs whose handoffs and contentions go through those
    kinds alone, or drawn op by op over them and plain data (with the lost wake-up shape
    when a channel is provided), and the rest come from `mixed`, the campaign's usual
    programs, where the kinds meet the built-in primitives (a lock-order inversion across
    two kinds). Every program, shrunk ones included, must use a provided kind: one that does
    not is rejected, so shrinking never ends on a program that tests none of them.

        >>> from hypothesis import find, strategies as st
        >>> p = find(impl_programs(st.nothing(), ("once",), (2, 2), (1, 3)), lambda p: True)
        >>> sorted(kinds_used(p)), p.description
        (['once'], 'P0 -once-> P1')
    """
    from hypothesis import strategies as st

    from . import strategies as mst

    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ValueError(f"kinds {tuple(kinds)!r}: give some of {', '.join(KINDS)}")
    wanted = frozenset(kinds)
    mechanisms = tuple(m for k in KINDS if k in wanted for m in _MECHANISMS[k])
    items = tuple(i for k in KINDS if k in wanted for i in _ITEMS[k]) + ("store", "load")
    focused = [mst.go_programs(threads=threads, ops=ops, sync=mechanisms),
               mst.go_op_programs(threads=threads, ops=ops, items=items)]
    if "channel" in wanted:
        from .strategies.go_shapes import wakeups
        focused.append(wakeups(threads[1]))
    return st.one_of(*[st.one_of(focused)] * FOCUSED_SHARE, mixed).filter(
        lambda p: bool(kinds_used(p) & wanted))


def impl_usage(coverage, kinds) -> str:
    """The summary line of a campaign on the user's primitives: how many of its programs used
    each provided kind (`coverage`: the campaign's `Coverage`; a channel counts the programs
    that send or receive).

        >>> from stressmm.contracts import Coverage
        >>> cov = Coverage.from_counts({"programs": 9, "primitive:mutex": 8}, model="go")
        >>> impl_usage(cov, ("mutex",))
        'your primitives were used by: mutex 8 of 9 programs'
    """
    used = dict(coverage.per_primitive)
    return "your primitives were used by: " + ", ".join(
        f"{k} {used.get(KINDS[k][0], 0):,} of {coverage.programs:,} programs" for k in kinds)
