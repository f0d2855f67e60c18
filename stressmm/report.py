"""Rendering results for people (aligned terminal tables) and for programs (JSON-ready dicts).

Nothing here computes a verdict: it only shows what check/run/bench produced.

    >>> print(table([("outcome", "count"), ("P0:r0=0", 12)], align="lr"))
    outcome  count
    P0:r0=0     12
"""
from __future__ import annotations

from typing import Optional, Sequence

from .check import CheckReport
from .outcome import Histogram, Outcome, evaluate

__all__ = ["table", "render_check", "check_json", "render_run", "run_json", "fmt_int", "fmt_rate"]


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
    rows = [("model", "outcomes", "states", "exists")]
    for m in models:
        r = report.results[m]
        reach = report.condition_reachable(m)
        rows.append((m, len(r.outcomes), fmt_int(r.states),
                     "-" if reach is None else ("allowed" if reach else "forbidden")))
    lines.append(table(rows, align="lrrl", indent="  "))
    locs = shown_locations(p)
    every = sorted(set().union(*(r.outcomes for r in report.results.values()))) if models else []
    if verbose or len(every) <= 12:
        orow = [("outcome",) + tuple(models) + (("exists",) if p.condition else ())]
        for o in every:
            orow.append((_outcome_cell(o, locs),)
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


def check_json(report: CheckReport, source: str = "") -> dict:
    return {
        "name": report.program.name,
        "file": source,
        "models": {m: {"outcomes": [o.to_json() for o in sorted(r.outcomes)],
                       "states": r.states, "elapsed": r.elapsed,
                       "races": [str(x) for x in r.races],
                       "exists": report.condition_reachable(m)}
                   for m, r in report.results.items()},
        "expectations": [{"model": e.expect.model, "verdict": e.expect.verdict,
                          "holds": e.holds, "why": e.why} for e in report.expectations],
    }


def render_run(hist: Histogram, verdicts: dict, checked: str, source: str = "") -> str:
    """A histogram as a table: outcome, count, one column per model (allowed / FORBIDDEN),
    the rows the checked model forbids marked with `<-`."""
    p = hist.program
    head = f"{p.name}" + (f"  ({source})" if source else "")
    info = hist.info or {}
    head += (f"\n  {fmt_int(hist.total)} runs in {hist.elapsed:.2f}s ({fmt_rate(hist.rate)}/s)"
             f" on {hist.backend or 'native'}"
             + (f", cpus {list(info['cpus'])}" if info.get("cpus") is not None else "")
             + (f", mutant {info['mutant']}" if info.get("mutant") else ""))
    models = list(verdicts)
    locs = shown_locations(p)
    rows = [("outcome", "count") + tuple(models) + ("",)]
    for o, n in sorted(hist.counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cells = []
        for m in models:
            if "timeout" in o.flags:
                cells.append("stuck")
            else:
                cells.append("allowed" if o in verdicts[m] else "FORBIDDEN")
        note = ""
        if "timeout" not in o.flags and checked in verdicts and o not in verdicts[checked]:
            note = f"<- forbidden by {checked}"
        elif any(c == "FORBIDDEN" for c in cells):
            note = "weak"
        rows.append((_outcome_cell(o, locs), fmt_int(n)) + tuple(cells) + (note,))
    return head + "\n" + table(rows, align="lr", indent="  ")


def run_json(hist: Histogram, verdicts: dict, checked: str, source: str = "") -> dict:
    return {
        "name": hist.program.name, "file": source, "backend": hist.backend,
        "total": hist.total, "elapsed": hist.elapsed, "rate": hist.rate,
        "info": {k: (list(v) if isinstance(v, tuple) else v) for k, v in (hist.info or {}).items()},
        "checked_model": checked,
        "outcomes": [{"outcome": o.to_json(), "text": str(o), "count": n,
                      "allowed": {m: o in verdicts[m] for m in verdicts}}
                     for o, n in sorted(hist.counts.items(), key=lambda kv: (-kv[1], kv[0]))],
        "forbidden": sum(n for o, n in hist.counts.items()
                         if "timeout" not in o.flags and checked in verdicts
                         and o not in verdicts[checked]),
    }
