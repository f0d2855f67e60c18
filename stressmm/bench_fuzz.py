"""`stressmm bench --mutants`: how fast fuzzing finds each broken runtime variant, and how small
the counterexample it shrinks to is; the share of mutants found is the mutation score. The
reference in the same run is the correct runtime under the same campaign settings
(memory-model programs, and Go-style programs), which must find nothing.

Every mutant breaks a clause of docs/contracts.md and is fuzzed with Go-style programs judged
by `go` (`stressmm fuzz --go --mutant M`); the mutants of the atomics are also fuzzed with
memory-model programs judged by `tso`, and `sc-fence-noop` (a fence, which Go does not have)
only with those."""
from __future__ import annotations

import sys
from typing import Optional

from .report import table

__all__ = ["bench_mutants", "print_bench", "campaigns", "score"]


def campaigns(mutants: list) -> list:
    """(mutant or None, Go programs?) for every campaign of the bench, references first."""
    from .runtime.compile import ATOMIC_MUTANTS

    out = [(None, False), (None, True)]
    for m in mutants:
        if m != "sc-fence-noop":
            out.append((m, True))
        if m in ATOMIC_MUTANTS:
            out.append((m, False))
    return out


def _clause_of(mutant: Optional[str]) -> str:
    from .contracts import CLAUSES

    return next((c.id for c in CLAUSES if mutant in c.mutants), "-")


def bench_mutants(minutes: Optional[float] = 2.0, seed: int = 1, mutants: Optional[list] = None,
                  examples: Optional[int] = None, iterations: Optional[int] = None) -> list:
    """One campaign per mutant and kind of programs (and two on the correct runtime);
    rows of dicts. Each campaign
    stops at its first counterexample, or when `minutes` or `examples` (either may be None) run
    out (a budget in examples makes the rows the same on a fast or a busy machine), each example
    run `iterations` times (the campaign default when None).

    >>> bench_mutants(minutes=None, examples=None)
    Traceback (most recent call last):
    ...
    ValueError: give a budget: minutes or examples
    """
    from .campaign import CampaignConfig, run_campaign
    from .runtime.native import MUTANTS

    runs = {} if iterations is None else {"iterations": iterations}
    rows = []
    for name, go in campaigns(list(mutants or MUTANTS)):
        res = run_campaign(CampaignConfig(minutes=minutes, examples=examples, mutant=name,
                                          seed=seed, corpus=None, go=go,
                                          model="go" if go else "tso", **runs))
        if res.interrupted is not None:   # Ctrl-C / SIGTERM stops the whole bench
            raise res.interrupted
        cex = res.counterexamples[0] if res.counterexamples else None
        rows.append({
            "mutant": name or ("(correct, Go programs)" if go else "(correct runtime)"),
            "clause": _clause_of(name) if name else "",
            "programs": "go" if go else "memory",
            "found": cex is not None,
            "first_detection_s": res.first_detection,
            "first_detection_programs": res.first_detection_programs,
            "total_s": res.elapsed,
            "examples": res.examples,
            "runs": res.runs,
            "threads": len(cex.program.threads) if cex else None,
            "ops": cex.program.size if cex else None,
            "outcome": str(cex.outcome) if cex else "",
            "worker_failures": len(res.failures),
        })
    return rows


def score(rows: list) -> tuple:
    """(mutants found by some campaign, mutants benched): the mutation score's fraction."""
    mutants = {r["mutant"] for r in rows if r["clause"]}
    found = {r["mutant"] for r in rows if r["clause"] and r["found"]}
    return len(found), len(mutants)


def print_bench(quick: bool = False, file=None) -> list:
    """Run the campaigns, write the table to `file` (stdout by default), return the rows."""
    file = file or sys.stdout
    minutes = 0.5 if quick else 2.0
    print(f"fuzz campaigns of at most {minutes:g} min each (seed 1); "
          f"first detection = seconds until a forbidden outcome was first seen, and the "
          f"programs tested until then (which do not depend on the machine's load)", file=file)
    rows = bench_mutants(minutes=minutes)
    out = [("mutant", "clause", "programs", "found", "first detection", "campaign", "examples",
            "runs", "shrunk to", "outcome")]
    for r in rows:
        out.append((r["mutant"], r["clause"], r["programs"], "yes" if r["found"] else "no",
                    f"{r['first_detection_s']:.1f}s, program {r['first_detection_programs']}"
                    if r["first_detection_s"] is not None else "-",
                    f"{r['total_s']:.1f}s", f"{r['examples']:,}", f"{r['runs']:,}",
                    f"{r['threads']} threads, {r['ops']} ops" if r["found"] else "-",
                    r["outcome"]))
    print(table(out, align="llllrrrrll"), file=file)
    found, total = score(rows)
    print(f"mutation score: {found} of {total} mutants found ({found / max(total, 1):.0%})",
          file=file)
    return rows
