"""What a run on a Go backend says beside the go model: what the model forbids that was seen,
what it allows that never showed, what the timeouts mean, the detector's races.

    >>> from stressmm.syntax import parse
    >>> from stressmm.models import get_model
    >>> from stressmm.outcome import Histogram, Outcome
    >>> [p] = parse("litmus R\\nvar x int\\nP0:\\n  r0 = x\\n")
    >>> h = Histogram(p, {Outcome.flagged("timeout"): 1}, backend="gccgo 12.2.0 -O2")
    >>> for line in judge(h, get_model("go").allowed(p)): print(line)
    never shown by gccgo 12.2.0 -O2 in 1 runs (the go model allows them): P0:r0=0 x=0
    1 runs timed out (an iteration still running after its budget); the go model says every run of R ends: a hang it does not allow, or a budget too small for this machine

The race detector's reports (a `go-race` run's `info`) are held against the go model's races
here, above the runtime: the implementation under test never consults the oracle. Where the
detector differs from the memory model on purpose (docs/go-backends.md), its reports are listed
apart (`channel`, `waitgroup`), never as unexpected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .models.base import listed
from .models.go import Access
from .models.machine import op_text
from .outcome import Histogram
from .program import Close, Recv, Send, WgAdd, WgWait, walk_ops

__all__ = ["judge", "RaceComparison", "compare", "race_comparison"]


def judge(hist: Histogram, model_result) -> list:
    """Lines for a report: forbidden outcomes seen, allowed ones never shown, timeouts beside
    what the model allows, how ops were mapped, panics, races (go-race), why a run stopped."""
    lines = []
    allowed = model_result.outcomes
    bad = hist.outside(allowed)
    if bad:
        lines.append(f"FORBIDDEN by go: {sum(bad.values()):,} runs ended in "
                     + "; ".join(f"{o} ({n:,})" for o, n in sorted(bad.items())))
    every, unlisted = listed(allowed)
    missing = [o for o in every if o not in hist.counts]
    if unlisted:
        lines.append("the go model allows more outcomes than its work limit lists, so those "
                     "never shown are not listed (raise --max-states to list them)")
    if missing:
        lines.append(f"never shown by {hist.backend} in {hist.total:,} runs (the go model allows "
                     f"them): " + "; ".join(map(str, missing)))
    timeouts = sum(n for o, n in hist.counts.items() if "timeout" in o.flags)
    if timeouts:
        head = f"{timeouts:,} runs timed out (an iteration still running after its budget); "
        if model_result.allows("deadlock"):       # exact, without listing the outcomes
            lines.append(head + "the go model allows a run that never ends here (a goroutine "
                         "blocked for ever, or a spin loop that never sees the write: a "
                         "compiler may hoist a plain load out of the loop)")
        else:
            lines.append(head + f"the go model says every run of {hist.program.name} ends: a "
                         "hang it does not allow, or a budget too small for this machine")
    info = hist.info or {}
    for note in info.get("notes", ()):
        lines.append(f"note: {note}")
    for text, n in sorted((info.get("panics") or {}).items()):
        lines.append(f"panic: {text} ({n:,} runs)")
    comparison = race_comparison(hist, model_result)
    if comparison is not None:
        lines += comparison.lines(info.get("race_runs", hist.total))
    if info.get("race_early"):
        lines.append(f"race detector run {info['race_early']}")
    if info.get("stopped"):
        lines.append(f"run {info['stopped']}")
    return lines


def race_comparison(hist: Histogram, model_result) -> Optional["RaceComparison"]:
    """The detector's reports of a race-detector run beside the model's races; None for a run
    that had no detector."""
    info = hist.info or {}
    if "race_reports" not in info:
        return None
    return compare(hist.program, info["race_reports"], info.get("race_unmapped", ()),
                   model_result.races)


def _access(program, thread: int, index: int) -> Access:
    op = list(walk_ops(program.threads[thread].ops))[index]
    return Access(thread, index, op.line, op_text(op))


def _op(program, access: Access):
    return list(walk_ops(program.threads[access.thread].ops))[access.index]


def _is_chan(program, pair: tuple) -> bool:
    return any(isinstance(_op(program, a), (Send, Recv, Close)) for a in pair)


def _is_wg_add_wait(program, pair: tuple) -> bool:
    kinds = {type(_op(program, a)) for a in pair}
    return kinds == {WgAdd, WgWait}


@dataclass(frozen=True)
class RaceComparison:
    """The detector's reports beside the model's races, as pairs of `Access`."""

    reported: frozenset      # pairs (sorted Access tuples) the detector reported
    predicted: frozenset     # pairs the go model reports
    unmapped: tuple          # reports whose stacks name no litmus op (harness lines)
    channel: frozenset       # reported pairs on channel ops: a documented difference
    waitgroup: frozenset = frozenset()   # reported WaitGroup Add / Wait pairs: the same

    @property
    def missed(self) -> frozenset:
        """Races the model predicts that the detector never reported."""
        return self.predicted - self.reported

    @property
    def unexpected(self) -> frozenset:
        """Reports the model says cannot happen (the documented differences excepted: see
        `channel` and `waitgroup`)."""
        return self.reported - self.predicted - self.channel - self.waitgroup

    def lines(self, runs: int) -> list:
        out = []
        for a, b in sorted(self.reported & self.predicted):
            out.append(f"race reported and predicted: {a} / {b}")
        for a, b in sorted(self.missed):
            out.append(f"MISSED: the go model's race {a} / {b} was not reported by the "
                       f"detector in {runs:,} runs")
        for a, b in sorted(self.unexpected):
            out.append(f"UNEXPECTED: the detector reported {a} / {b}, a race the go model "
                       "says cannot happen (a detector false positive or a model bug)")
        for a, b in sorted(self.channel - self.predicted):
            out.append(f"channel race reported: {a} / {b} (the detector treats close as a "
                       "write and send/receive as a read of the channel; not a memory-model race)")
        for a, b in sorted(self.waitgroup - self.predicted):
            out.append(f"WaitGroup misuse reported as a race: {a} / {b} (an Add that may "
                       "start from zero concurrent with a Wait, which the sync documentation "
                       "forbids; not a memory-model race)")
        for stacks in self.unmapped:
            out.append(f"report on lines {list(stacks[0])} / {list(stacks[1])} names no litmus op")
        return out

    def to_json(self) -> dict:
        def show(pairs):
            return [[str(a), str(b)] for a, b in sorted(pairs)]
        return {"reported": show(self.reported), "predicted": show(self.predicted),
                "missed": show(self.missed), "unexpected": show(self.unexpected),
                "channel": show(self.channel), "waitgroup": show(self.waitgroup), "unmapped": [list(map(list, s)) for s in self.unmapped]}


def compare(program, reported_pairs, unmapped, model_races: tuple) -> RaceComparison:
    """The detector's reports on `program` (op pairs `[[thread, index], [thread, index]]` and
    the reports that name no op, as a Go backend's run gives them in `info`) beside
    `model_races` (the go model's `Race` values for `program`)."""
    reported = {tuple(sorted(_access(program, t, i) for t, i in pair)) for pair in reported_pairs}
    # The model's races, named by the ops of `program` (matched by thread and op index).
    predicted = {tuple(sorted(_access(program, a.thread, a.index) for a in (r.first, r.second)))
                 for r in model_races}
    channel = {p for p in reported if _is_chan(program, p)}
    waitgroup = {p for p in reported if _is_wg_add_wait(program, p)}
    return RaceComparison(frozenset(reported), frozenset(predicted),
                          tuple(tuple(tuple(s) for s in stacks) for stacks in unmapped),
                          frozenset(channel), frozenset(waitgroup))
