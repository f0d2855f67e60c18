"""`stressmm bench --backend go`: the Go toolchains beside the native runtime, in one run.

Iterations per second on SB and MP (the classic scenarios) for the native runtime, gc and
gccgo, with the time each build took; then programs per minute of a Go fuzz campaign on gc,
gccgo and go-race side by side, run as `fuzz --go --backend ...` runs it (`run_campaign`:
programs built a chunk per binary, each run the backend's number of times and judged by the
go model). Toolchains that are not installed are listed as missing.
"""
from __future__ import annotations

import sys
import time
from typing import Optional

from .campaign import CHUNK
from .report import fmt_rate, table

__all__ = ["bench_rates", "fuzz_rate", "print_bench"]

NAMES = ("go", "gccgo")
FUZZ_NAMES = ("go", "gccgo", "go-race")


def bench_rates(seconds: float = 2.0, names=NAMES) -> list:
    """Rows (program, backend, iterations/s, build seconds) for SB and MP."""
    from .syntax import find_scenario, parse_file
    from .runtime.native import run as native_run
    from .runtime.go import available, make_backend

    progs = [parse_file(str(find_scenario(n)))[0] for n in ("SB", "MP")]
    rows = []
    for p in progs:
        h = native_run(p, seconds=seconds)
        rows.append((p.name, "native", h.rate, None))
    for name in names:
        why = available(name)
        if why:
            rows.append(("-", name, None, why))
            continue
        b = make_backend(name)
        t0 = time.monotonic()
        b.prepare(progs)
        built = time.monotonic() - t0
        for p in progs:
            h = b.run(p, seconds=seconds)
            rows.append((p.name, b.name, h.rate, built))
    return rows


def fuzz_rate(name: str, seconds: float = 60.0, iterations: Optional[int] = None,
              seed: Optional[int] = None, examples: Optional[int] = None) -> dict:
    """Programs per minute of a Go fuzz campaign on backend `name`, run as `stressmm fuzz --go
    --backend NAME` runs it (`run_campaign`: worker processes, chunks of programs built into
    one binary, a go-race run ending once its races showed): for `seconds` (or `examples`
    programs), each program run `iterations` times (default: the backend's, as `fuzz`). The
    time includes starting the worker. A fresh `seed` (the default) draws programs never built
    before, so every build is timed; the same seed for several backends draws the same
    programs on each.

        r = fuzz_rate("go", examples=2, iterations=200)
        r["programs"], r["found"]          # (2, None)
    """
    from .campaign import CampaignConfig, new_seed, run_campaign
    from .runtime.registry import get_backend

    backend = get_backend(name)
    iterations = iterations or backend.default_iterations
    cfg = CampaignConfig(minutes=None if examples else seconds / 60.0, examples=examples, go=True,
                         backend=name, workers=1, iterations=iterations, corpus=None,
                         seed=new_seed() if seed is None else seed)
    res = run_campaign(cfg)
    found = res.counterexamples[0] if res.counterexamples else None
    failure = (f"worker {res.failures[0].worker} {res.failures[0].what}"
               if res.failures else None)
    return {"backend": backend.name, "iterations": iterations, "programs": res.examples,
            "runs": res.runs, "seconds": res.elapsed, "seed": res.seed,
            "per_minute": res.examples / res.elapsed * 60 if res.elapsed else 0.0,
            "found": found, "failure": failure}


def print_bench(quick: bool = False, file=None) -> list:
    """Print the tables to `file` (default stdout); return the figures as dicts."""
    from .runtime import available_cpus

    out = file if file is not None else sys.stdout
    if len(available_cpus()) < 2:
        print("bench --backend go: needs 2 CPUs to run 2 pinned threads", file=out)
        return []
    figures = []
    seconds = 1.0 if quick else 3.0
    print(f"iterations/s over {seconds:g} s per program; build = one build of both programs", file=out)
    rows = [("program", "backend", "iterations/s", "build")]
    for prog, backend, rate, built in bench_rates(seconds):
        if rate is None:
            rows.append((prog, backend, "missing", built))
            figures.append({"program": prog, "backend": backend, "missing": built})
        else:
            figures.append({"program": prog, "backend": backend, "iterations_per_s": rate,
                            "build_s": built})
            rows.append((prog, backend, fmt_rate(rate),
                         f"{built:.1f}s" if built is not None else "-"))
    print(table(rows, align="llrl"), file=out)
    from .runtime.go import available
    from .campaign import new_seed
    fuzz_seconds = 30.0 if quick else 120.0
    seed = new_seed()
    print(f"\nGo fuzz campaign (as `fuzz --go` runs it: one worker, chunks of {CHUNK} programs "
          f"per build, a go-race run ending once its races showed): {fuzz_seconds:g} s per "
          f"backend with the worker's start, the same programs on each (--seed {seed})",
          file=out)
    rows = [("backend", "runs/program", "programs", "programs/minute", "runs", "finding")]
    for name in FUZZ_NAMES:
        if available(name):
            continue
        r = fuzz_rate(name, fuzz_seconds, seed=seed)
        finding = "FOUND" if r["found"] else ("FAILED" if r["failure"] else "none")
        rows.append((r["backend"], f"{r['iterations']:,}", f"{r['programs']:,}",
                     f"{r['per_minute']:.1f}", f"{r['runs']:,}", finding))
        figures.append({"backend": r["backend"], "iterations": r["iterations"],
                        "programs": r["programs"], "programs_per_minute": r["per_minute"],
                        "runs": r["runs"], "seed": r["seed"],
                        "found": r["found"].report() if r["found"] else None,
                        "failure": r["failure"]})
        if r["found"]:
            print(r["found"].report(), file=out)
        if r["failure"]:
            print(r["failure"], file=out)
    print(table(rows, align="lrrrrl"), file=out)
    return figures
