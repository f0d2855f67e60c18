"""Rendering results for people (aligned terminal tables) and for programs (JSON-ready dicts).

Nothing here computes a verdict: it only shows what check/run/bench produced.

    >>> print(table([("outcome", "count"), ("P0:r0=0", 12)], align="lr"))
    outcome  count
    P0:r0=0     12
"""
from __future__ import annotations

from typing import Optional, Sequence

from .check import CheckReport
from .models.base import listed
from .outcome import Histogram, Outcome, evaluate
from .syntax import print_condition

__all__ = ["table", "render_check", "render_run", "render_judged", "judged_facts", "outcome_texts", "timeout_note", "fmt_int", "fmt_rate"]


GRAPH_MODELS = ("go",)
"""Models whose state count covers only the synchronizing operations (see render_check)."""


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_rate(x: float) -> str:
    """A rate per second, short: 5.2M, 310k, 42."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def table(rows: Sequence[Sequence], align: str = "", indent: str = "") -> str:
    """Rows of cells as aligned text; `align` gives l/r per column (default left)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    out = []
    for row in cells:
        parts = []
        for i, c in enumerate(row):
            right = i < len(align) and align[i] == "r"
            parts.append(c.rjust(widths[i]) if right else c.ljust(widths[i]))
        out.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(out)


def _outcome_cell(o: Outcome, shown_locs) -> str:
    text = o.show(shown_locs)
    return "completed" if text == "(empty)" else text  # a finished run with nothing to show


def shown_locations(program) -> Optional[list]:
    """Locations to show in outcome columns: those the condition names, or all when none."""
    from .program import MemRef

    if program.condition is None:
        return None
    found = []

    def walk(e):
        if hasattr(e, "lhs") and isinstance(e.lhs, MemRef):
            found.append(e.lhs.loc)
        for child in getattr(e, "items", ()):
            walk(child)
        if hasattr(e, "item"):
            walk(e.item)

    walk(program.condition.expr)
    return found


def render_check(report: CheckReport, source: str = "", verbose: bool = False) -> str:
    p = report.program
    lines = [f"{p.name}" + (f"  ({source})" if source else "") + (f"  {p.description}" if p.description else "")]
    models = list(report.results)
    quantifier = p.condition.quantifier if p.condition else "exists"
    rows = [("model", "outcomes", "states", quantifier)]
    for m in models:
        r = report.results[m]
        reach, holds = report.condition_reachable(m), report.condition_holds(m)
        states = fmt_int(r.states) + (" sync" if m in GRAPH_MODELS else "")
        verdict = "-" if reach is None else ("allowed" if reach else "forbidden")
        if reach is not None and quantifier != "exists":   # herd7's Ok / No
            verdict = "holds" if holds else "fails"
        rows.append((m, len(r.outcomes), states, verdict))
    lines.append(table(rows, align="lrrl", indent="  "))
    if any(m in GRAPH_MODELS for m in models):
        lines.append("  (sync: go searches the orders of the synchronizing operations only; plain "
                     "accesses are judged on execution graphs)")
    lists = {m: listed(report.results[m].outcomes) for m in models}
    every = sorted(set().union(*(found for found, _ in lists.values())))
    texts = outcome_texts(every, p)
    unlisted = [m for m, (_, why) in lists.items() if why]
    if unlisted:
        lines.append(f"    ({', '.join(unlisted)}: more allowed outcomes than the work limit "
                     f"lists; each verdict above still holds of all of them; raise "
                     f"--max-states to list them)")
    elif verbose or len(every) <= 12:
        orow = [("outcome",) + tuple(models) + ((quantifier,) if p.condition else ())]
        for o in every:
            orow.append((texts[o],)
                        + tuple("allowed" if o in report.results[m].outcomes else "-" for m in models)
                        + (("*" if evaluate(p.condition, o) else "",) if p.condition else ()))
        lines.append(table(orow, indent="    "))
    else:
        lines.append(f"    ({len(every)} distinct outcomes; --verbose lists them)")
    for m in models:
        for race in report.results[m].races:
            lines.append(f"  DATA RACE ({m}): {race}")
    for e in report.expectations:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[e.holds]
        lines.append(f"  {mark} expect {e.expect.model}: {e.expect.verdict}  -> {e.why}")
    return "\n".join(lines)


def outcome_texts(outcomes, program) -> dict:
    """The text of each outcome in a table: memory limited to the locations the `exists`
    condition names, unless that would make two different outcomes look the same (then every
    location is shown: the memory that tells them apart must not be hidden).

    >>> from stressmm.program import Program, Thread, Var, Store
    >>> p = Program("p", (Var("x"),), (Thread((Store("x", 1),)),))
    >>> list(outcome_texts([Outcome.make({}, {"x": 1})], p).values())
    ['x=1']
    """
    outcomes = list(outcomes)
    locs = shown_locations(program)
    texts = {o: _outcome_cell(o, locs) for o in outcomes}
    if len(set(texts.values())) < len(texts):
        texts = {o: _outcome_cell(o, None) for o in outcomes}
    return texts


def _run_head(hist: Histogram, source: str) -> str:
    p = hist.program
    head = f"{p.name}" + (f"  ({source})" if source else "")
    info = hist.info or {}
    return head + (f"\n  {fmt_int(hist.total)} runs in {hist.elapsed:.2f}s ({fmt_rate(hist.rate)}/s)"
                   f" on {hist.backend or 'native'}"
                   + (f", cpus {list(info['cpus'])}" if info.get("cpus") is not None else "")
                   + (f", mutant {info['mutant']}" if info.get("mutant") else ""))


def _verdict_cell(o: Outcome, allowed) -> str:
    if "timeout" in o.flags:
        return "-"                     # never judged
    if allowed is None:
        return "n/a"                   # the model gave up
    return "allowed" if o in allowed else "FORBIDDEN"


def _run_table(hist: Histogram, verdicts: dict, checked: Optional[str]) -> str:
    models = list(verdicts)
    texts = outcome_texts(hist.counts, hist.program)
    rows = [("outcome", "count") + tuple(models) + ("",)]
    for o, n in sorted(hist.counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cells = tuple(_verdict_cell(o, verdicts[m]) for m in models)
        note = ""
        if "timeout" in o.flags:
            note = "not judged: stopped after its spin budget (see below)"
        elif verdicts.get(checked) is not None and o not in verdicts[checked]:
            note = f"<- forbidden by {checked}"
        elif "FORBIDDEN" in cells:
            note = "weak"
        rows.append((texts[o], fmt_int(n)) + cells + (note,))
    return table(rows, align="lr", indent="  ")


def render_run(hist: Histogram, verdicts: dict, checked: Optional[str], source: str = "") -> str:
    """A histogram as a table: outcome, count, one column per model (allowed / FORBIDDEN, n/a
    where the model gave up, - for timeouts, which are never judged), the rows the checked
    model forbids marked with `<-`."""
    return _run_head(hist, source) + "\n" + _run_table(hist, verdicts, checked)


def timeout_note(judged) -> str:
    """Why some runs are `timeout`, from what the computed models say about deadlocks."""
    n = judged.timeouts
    if not n or n == judged.histogram.total:   # all stuck: the caller says what models say
        return ""
    head = (f"  timeout: {n:,} of {judged.histogram.total:,} runs were stopped after their spin "
            f"budget and a grace for descheduled threads; they are not judged.")
    deadlocking = [m for m, a in judged.verdicts.items() if a is not None
                   and Outcome.flagged("deadlock") in a]
    from .program import Await

    program = judged.histogram.program
    if deadlocking and any(isinstance(op, Await) for _, op in program.ops()):
        return head + (f"\n    {' and '.join(deadlocking)} allow{'s' if len(deadlocking) == 1 else ''}"
                       f" a deadlock here: an await that can never complete ends as timeout at "
                       f"run time.")
    if deadlocking:
        return head + ("\n    A deadlock the runtime could not confirm (a thread was off its CPU "
                       "past the grace: machine overloaded) ends as timeout.")
    if any(a is not None for a in judged.verdicts.values()):
        return head + ("\n    The models say every execution completes: a thread was off its "
                       "CPU that long (machine overloaded), or the runtime is stuck.")
    return head


def render_judged(judged, source: str = "") -> str:
    """A run as a person reads it: the table, the models that gave up, the timeouts explained,
    the `exists` observation (litmus7's line) and the `expect` lines."""
    hist = judged.histogram
    lines = [render_run(hist, judged.verdicts, judged.checked, source)]
    for m, why in judged.gave_up.items():
        lines.append(f"  {m}: n/a, the model gave up: {why}")
    note = timeout_note(judged)
    if note:
        lines.append(note)
    if judged.observation is not None:
        lines.append("  " + judged.observation.line(hist.program.name))
        lines.append("  " + judged.observation.condition_line(
            print_condition(hist.program.condition)))
    for e in judged.expectations:
        lines.append("  " + e.text)
    if judged.forbidden:
        lines.append(f"  FORBIDDEN by {judged.checked}: {judged.forbidden:,} of {hist.total:,} runs")
    return "\n".join(lines)


def judged_facts(judged) -> dict:
    """What judging a run adds to its histogram: the models that gave up, the timeouts, the
    `exists` observation and the `expect` lines (`holds`: True, False, or None when a run
    could not check the line)."""
    obs = judged.observation

    def expectation(e) -> dict:
        why = e.text.split("-> ", 1)[-1]
        holds = False if e.failed else (None if why.startswith("not checked") else True)
        return {"model": e.model, "verdict": e.verdict, "failed": e.failed, "holds": holds,
                "why": why, "text": e.text}

    return {"gave_up": dict(judged.gave_up), "timeouts": judged.timeouts,
            "observation": None if obs is None else {
                "verdict": obs.verdict, "positive": obs.positive, "negative": obs.negative,
                "quantifier": obs.quantifier, "validated": obs.validated},
            "expectations": [expectation(e) for e in judged.expectations]}
