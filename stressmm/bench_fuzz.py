"""`stressmm bench --mutants`: how fast fuzzing finds each broken runtime variant, and how small
the counterexample it shrinks to is. The reference in the same run is the correct runtime under
the same campaign settings (memory-model programs, and Go-style programs), which must find
nothing. Mutants of the Go primitives are fuzzed with Go-style programs judged by `go`."""
from __future__ import annotations

import sys
from typing import Optional

from .report import table

__all__ = ["bench_mutants", "print_bench"]


def bench_mutants(minutes: Optional[float] = 2.0, seed: int = 1, mutants: Optional[list] = None,
                  examples: Optional[int] = None, iterations: Optional[int] = None) -> list:
    """One campaign per mutant (and one on the correct runtime); rows of dicts. Each campaign
    stops at its first counterexample, or when `minutes` or `examples` (either may be None) run
    out (a budget in examples makes the rows the same on a fast or a busy machine), each example
    run `iterations` times (the campaign default when None).

    >>> bench_mutants(minutes=None, examples=None)
    Traceback (most recent call last):
    ...
    ValueError: give a budget: minutes or examples
    """
    from .campaign import CampaignConfig, run_campaign
    from .runtime.native import MUTANTS, SYNC_MUTANTS

    runs = {} if iterations is None else {"iterations": iterations}
    rows = []
    for name, go in [(None, False), (None, True)] + [(m, m in SYNC_MUTANTS)
                                                     for m in (mutants or MUTANTS)]:
        res = run_campaign(CampaignConfig(minutes=minutes, examples=examples, mutant=name,
                                          seed=seed, corpus=None, go=go, **runs))
        if res.interrupted is not None:   # Ctrl-C / SIGTERM stops the whole bench
            raise res.interrupted
        cex = res.counterexamples[0] if res.counterexamples else None
        rows.append({
            "mutant": name or ("(correct, Go programs)" if go else "(correct runtime)"),
            "programs": "go" if go else "memory",
            "found": cex is not None,
            "first_detection_s": res.first_detection,
            "total_s": res.elapsed,
            "examples": res.examples,
            "runs": res.runs,
            "threads": len(cex.program.threads) if cex else None,
            "ops": cex.program.size if cex else None,
            "outcome": str(cex.outcome) if cex else "",
            "worker_failures": len(res.failures),
        })
    return rows


def print_bench(quick: bool = False, file=None) -> list:
    """Run the campaigns, write the table to `file` (stdout by default), return the rows."""
    file = file or sys.stdout
    minutes = 0.5 if quick else 2.0
    print(f"fuzz campaigns of at most {minutes:g} min each (seed 1); "
          f"first detection = seconds until a forbidden outcome was first seen", file=file)
    rows = bench_mutants(minutes=minutes)
    out = [("mutant", "programs", "found", "first detection", "campaign", "examples", "runs",
            "shrunk to", "outcome")]
    for r in rows:
        out.append((r["mutant"], r["programs"], "yes" if r["found"] else "no",
                    f"{r['first_detection_s']:.1f}s" if r["first_detection_s"] is not None else "-",
                    f"{r['total_s']:.1f}s", f"{r['examples']:,}", f"{r['runs']:,}",
                    f"{r['threads']} threads, {r['ops']} ops" if r["found"] else "-",
                    r["outcome"]))
    print(table(out, align="lllrrrrll"), file=file)
    return rows
