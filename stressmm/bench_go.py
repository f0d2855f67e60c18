"""`stressmm bench --backend go`: the Go toolchains beside the native runtime, in one run.

Iterations per second on SB and MP (the classic scenarios) for the native runtime, gc and
gccgo, with the time each build took; then programs per minute of a Go fuzz campaign (Go
programs drawn by `stressmm.strategies.go_programs`, each built and judged by the go model,
as `fuzz --go --backend ...` does). Toolchains that are not installed are listed as missing.
"""
from __future__ import annotations

import sys
import time

from .report import fmt_rate, table

__all__ = ["bench_rates", "fuzz_rate", "print_bench"]

NAMES = ("go", "gccgo")


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


def fuzz_rate(name: str, seconds: float = 60.0, iterations: int = 2_000, seed: int = 1) -> dict:
    """Programs per minute of a Go fuzz campaign on backend `name`: each program generated,
    built, run `iterations` times and judged by the go model, for about `seconds`."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed

    from . import strategies as mst
    from .fuzz import ForbiddenOutcome, Memo, check_program
    from .runtime.go import make_backend

    b = make_backend(name)
    memo, stats = Memo(), {"programs": 0, "runs": 0, "found": None}
    deadline = time.monotonic() + seconds
    began = time.monotonic()

    def on_run(hist):
        stats["runs"] += hist.total

    def prop(program, schedule):
        if time.monotonic() > deadline:
            return
        stats["programs"] += 1
        check_program(program, schedule, backend=b, model="go", memo=memo,
                      iterations=iterations, on_run=on_run)

    for chunk in range(10_000):      # bounded: every chunk checks the deadline
        if time.monotonic() > deadline:
            break
        test = settings(max_examples=8, deadline=None, database=None,
                        verbosity=Verbosity.quiet, phases=(Phase.generate, Phase.shrink),
                        suppress_health_check=list(HealthCheck))(
            hseed(seed * 100_003 + chunk)(given(mst.go_programs(threads=(2, 2)),
                                                mst.schedules(threads=2, max_delay=4))(prop)))
        try:
            test()
        except ForbiddenOutcome as e:
            stats["found"] = e.counterexample
            break
    elapsed = time.monotonic() - began
    return {"backend": b.name, "programs": stats["programs"], "runs": stats["runs"],
            "seconds": elapsed, "per_minute": stats["programs"] / elapsed * 60 if elapsed else 0.0,
            "found": stats["found"]}


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
    fuzz_seconds = 20.0 if quick else 60.0
    print(f"\nGo fuzz campaign: {fuzz_seconds:g} s per backend, 2,000 iterations per program, "
          "one build per program", file=out)
    rows = [("backend", "programs", "programs/minute", "runs", "forbidden")]
    for name in NAMES:
        if available(name):
            continue
        r = fuzz_rate(name, fuzz_seconds)
        rows.append((r["backend"], f"{r['programs']:,}", f"{r['per_minute']:.1f}",
                     f"{r['runs']:,}", "FOUND" if r["found"] else "none"))
        figures.append({"backend": r["backend"], "programs": r["programs"],
                        "programs_per_minute": r["per_minute"], "runs": r["runs"],
                        "found": r["found"].report() if r["found"] else None})
        if r["found"]:
            print(r["found"].report(), file=out)
    print(table(rows, align="lrrrl"), file=out)
    return figures
