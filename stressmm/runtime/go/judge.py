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
"""
from __future__ import annotations

from ...outcome import Histogram

__all__ = ["judge"]


def judge(hist: Histogram, model_result) -> list:
    """Lines for a report: forbidden outcomes seen, allowed ones never shown, timeouts beside
    what the model allows, how ops were mapped, panics, races (go-race), why a run stopped."""
    lines = []
    allowed = model_result.outcomes
    bad = hist.outside(allowed)
    if bad:
        lines.append(f"FORBIDDEN by go: {sum(bad.values()):,} runs ended in "
                     + "; ".join(f"{o} ({n:,})" for o, n in sorted(bad.items())))
    missing = sorted(o for o in allowed if o not in hist.counts)
    if missing:
        lines.append(f"never shown by {hist.backend} in {hist.total:,} runs (the go model allows "
                     f"them): " + "; ".join(map(str, missing)))
    timeouts = sum(n for o, n in hist.counts.items() if "timeout" in o.flags)
    if timeouts:
        head = f"{timeouts:,} runs timed out (an iteration still running after its budget); "
        if any("deadlock" in o.flags for o in allowed):
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
    lines += list(info.get("race_lines", ()))
    if info.get("stopped"):
        lines.append(f"run {info['stopped']}")
    return lines
