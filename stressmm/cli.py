"""The `stressmm` command.

    stressmm check [PATH...] [--model sc,tso] [--explain OUTCOME] [--json]
    stressmm run PATH... [--iterations N | --seconds S] [--mutant NAME] [--model M] [--json]
    stressmm fuzz [--minutes M | --examples N] [--mutant NAME] [--model M] [--seed S] ...
    stressmm replay FILE
    stressmm mutants
    stressmm bench [--models] [--mutants] [--quick]

Exit status: 0 all good, 1 an expectation failed or a forbidden outcome was seen,
2 a usage error or bad input (the message says what and where), 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from .schedule import MAX_BATCH, MAX_DELAY

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """Bad command-line input: reported as `stressmm: error: ...` with exit status 2."""


def _die(msg: str) -> int:
    print(f"stressmm: error: {msg}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- inputs


def litmus_files(paths: Sequence[str]) -> list:
    """The .litmus files named by `paths` (directories are searched recursively); with no paths,
    the bundled scenario library."""
    from .syntax import find_scenario, scenario_paths

    if not paths:
        return [Path(p) for p in scenario_paths()]
    found = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = sorted(p.rglob("*.litmus"))
            if not inside:
                raise UsageError(f"{raw}: no .litmus files in this directory")
            found += inside
        elif p.is_file():
            found.append(p)
        elif "/" not in raw and not raw.endswith(".litmus"):
            try:  # a bundled scenario by name: `stressmm run SB`
                found.append(Path(find_scenario(raw)))
            except LookupError as e:
                raise UsageError(f"{raw}: no such file, directory or bundled scenario ({e})")
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return found


def load_programs(paths: Sequence[str]) -> list:
    """(source path, Program) for every test in the files `paths` name."""
    from .syntax import parse_file

    out = []
    for f in litmus_files(paths):
        for prog in parse_file(str(f)):
            out.append((str(f), prog))
    return out


def model_names(text: Optional[str], default: Sequence[str]) -> list:
    from .models import MODELS

    if not text:
        return list(default)
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in MODELS:
            raise UsageError(f"--model: unknown model {m!r} (known: {', '.join(MODELS)})")
    if not names:
        raise UsageError("--model: give at least one model name, e.g. --model sc,tso")
    return names


# ---------------------------------------------------------------- commands


def cmd_check(args) -> int:
    from .check import check
    from .models import MODELS, get_model
    from .outcome import Pattern
    from .report import check_json, render_check

    models = model_names(args.model, list(MODELS))
    pattern = Pattern.parse(args.explain) if args.explain else None
    progs = load_programs(args.paths)
    failures, unchecked, docs, blocks = 0, 0, [], []
    for source, prog in progs:
        report = check(prog, models)
        failures += len(report.failed)
        unchecked += sum(1 for e in report.expectations if e.holds is None)
        if args.json:
            doc = check_json(report, source)
        else:
            blocks.append(render_check(report, source, verbose=args.verbose))
        if pattern is not None:
            pattern.check_against(prog)
            for m in models:
                ex = get_model(m).explain(prog, pattern)
                if args.json:
                    doc.setdefault("explain", {})[m] = (
                        {"outcome": ex.outcome.to_json(), "steps": list(ex.steps)} if ex else None)
                elif ex is None:
                    why = getattr(get_model(m), "why_forbidden", None)
                    reason = why(prog, pattern) if why is not None else ""
                    blocks.append(f"  {m}: no execution of {prog.name} ends in {pattern}: "
                                  f"{m} forbids it" + "".join(f"\n      {line}" for line in reason.splitlines()))
                else:
                    blocks.append(f"  {m}: an execution ending in {ex.outcome}:\n"
                                  + "\n".join(f"      {line}" for line in str(ex).splitlines()))
        if args.json:
            docs.append(doc)
    if args.json:
        print(json.dumps({"tests": docs, "failed_expectations": failures}, indent=2))
    else:
        print("\n\n".join(blocks))
        total = sum(len(p.expects) for _, p in progs)
        print(f"\n{len(progs)} tests, {total - unchecked} expectations checked, {failures} failed"
              + (f", {unchecked} not checked" if unchecked else ""))
    return 1 if failures else 0


def cmd_run(args) -> int:
    from .models import get_model
    from .report import render_run, run_json
    from .runtime import native
    from .schedule import Schedule

    if args.iterations is None and args.seconds is None:
        args.iterations = 1_000_000
    checked = model_names(args.model, ["tso"])
    if len(checked) != 1:
        raise UsageError("--model: `run` checks against one model, e.g. --model tso")
    checked = checked[0]
    progs = load_programs(args.paths)
    seen_forbidden, docs = 0, []
    for source, prog in progs:
        schedule = Schedule(delays=tuple((0, args.delay) for _ in prog.threads),
                            layout=args.layout, batch=args.batch, seed=args.seed)
        hist = native.run(prog, iterations=args.iterations, seconds=args.seconds,
                          schedule=schedule, mutant=args.mutant, oversubscribe=args.oversubscribe)
        # sc and tso always; go too for programs written for it (Go primitives or expectations)
        wants_go = prog.uses_sync or any(e.model == "go" for e in prog.expects)
        shown = list(dict.fromkeys(["sc", "tso"] + (["go"] if wants_go else []) + [checked]))
        verdicts = {m: get_model(m).allowed(prog).outcomes for m in shown}
        forbidden = sum(hist.outside(verdicts[checked]).values())
        seen_forbidden += forbidden
        if args.json:
            docs.append(run_json(hist, verdicts, checked, source))
        else:
            print(render_run(hist, verdicts, checked, source))
            if forbidden:
                print(f"  FORBIDDEN by {checked}: {forbidden:,} of {hist.total:,} runs")
            print()
    if args.json:
        print(json.dumps({"tests": docs, "forbidden": seen_forbidden}, indent=2))
    else:
        print(f"{len(progs)} tests; {seen_forbidden:,} runs ended in an outcome {checked} forbids")
    return 1 if seen_forbidden else 0


def cmd_fuzz(args) -> int:
    from .campaign import CampaignConfig, plan_workers, program_threads, run_campaign
    from .fuzz import DEFAULT_ITERATIONS
    from .report import fmt_rate

    if args.minutes is None and args.examples is None:
        args.minutes = 1.0
    args.iterations = args.iterations or DEFAULT_ITERATIONS
    if args.mutant is not None:
        from .runtime.compile import SYNC_MUTANTS, check_mutant

        check_mutant(args.mutant)   # RuntimeUsageError listing the known mutants
        if args.mutant in SYNC_MUTANTS and not args.go:
            args.go = True  # a broken Go primitive shows only in programs that use it
            print(f"{args.mutant} breaks a Go primitive: fuzzing with Go-style programs (--go)",
                  file=sys.stderr)
    model = model_names(args.model, ["go" if args.go else "tso"])
    if len(model) != 1:
        raise UsageError("--model: a campaign judges with one model, e.g. --model tso")
    if args.go and not 2 <= args.threads <= 8:
        raise UsageError(f"--threads {args.threads}: Go-style programs have 2 to 8 threads")
    cfg = CampaignConfig(minutes=args.minutes, examples=args.examples, mutant=args.mutant,
                         model=model[0], seed=args.seed, threads=args.threads, ops=args.ops,
                         workers=args.workers, iterations=args.iterations,
                         corpus=args.corpus or None, go=args.go)
    try:
        plan_workers(program_threads(cfg), args.workers)
    except ValueError as e:
        raise UsageError(str(e))
    tty = sys.stderr.isatty() and not args.json
    last = [0.0]

    def progress(res):
        now = res.elapsed
        if now - last[0] < (0.5 if tty else 10.0):
            return
        last[0] = now
        line = (f"examples {res.examples:,}  runs {res.runs:,} ({fmt_rate(res.runs / max(now, 1e-9))}/s)"
                f"  elapsed {int(now) // 60}:{int(now) % 60:02d}  counterexamples "
                f"{len(res.counterexamples)}  worker failures {len(res.failures)}")
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    what = (f"mutant {args.mutant}" if args.mutant else "the native runtime") + (
        " with Go-style programs" if args.go else "")
    if not args.json:
        budget = f"{args.minutes:g} min" if args.minutes is not None else f"{args.examples:,} examples"
        print(f"fuzzing {what} for {budget}: programs of up to {args.threads} threads x "
              f"{args.ops} ops, {args.iterations:,} runs each, judged by {model[0]}", file=sys.stderr)
    res = run_campaign(cfg, progress)
    if tty:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps({"examples": res.examples, "runs": res.runs, "elapsed": res.elapsed,
                          "workers": res.workers, "cpus": res.cpus,
                          "counterexamples": [c.to_json() for c in res.counterexamples],
                          "saved": res.saved, "first_detection": res.first_detection,
                          "coverage": res.coverage.to_json(),
                          "worker_failures": [f.__dict__ for f in res.failures]}, indent=2))
        return 1 if res.found else 0
    for cex, path in zip(res.counterexamples, res.saved + [None] * len(res.counterexamples)):
        print(cex.report())
        if path:
            print(f"replay: stressmm replay {path}")
    for f in res.failures:
        print(f"WORKER FAILURE: worker {f.worker} {f.what} while running:\n{f.program_text}")
    used = [p for p, n in res.coverage.per_primitive if n or args.go]
    print(res.coverage.render(primitives_shown=used))
    print(f"{res.examples:,} programs, {res.runs:,} runs in {res.elapsed:.1f}s on {res.workers} "
          f"worker(s) (CPUs {res.cpus}): " + (
              f"{len(res.counterexamples)} counterexample(s), {len(res.failures)} worker failure(s)"
              if res.found else f"no outcome forbidden by {model[0]} was seen"))
    return 1 if res.found else 0


def cmd_replay(args) -> int:
    from .fuzz import load_counterexample
    from .models import get_model
    from .outcome import Outcome
    from .report import render_run
    from .runtime import native
    from .schedule import Schedule

    prog, meta = load_counterexample(args.file)
    model = args.model or meta.get("model") or "tso"
    mutant = (args.mutant or None) if args.mutant is not None else meta.get("mutant")
    schedule = Schedule.from_json(meta["schedule"]) if meta.get("schedule") else Schedule()
    iterations = args.iterations or max(100_000, int(meta.get("total", 0)))
    hist = native.run(prog, iterations=iterations, schedule=schedule, mutant=mutant)
    shown = list(dict.fromkeys(["sc", "tso", model]))
    verdicts = {m: get_model(m).allowed(prog).outcomes for m in shown}
    print(render_run(hist, verdicts, model, args.file))
    bad = hist.outside(verdicts[model])
    target = Outcome.from_json(meta["outcome"]) if meta.get("outcome") else None
    if target is not None:
        print(f"recorded outcome {target}: seen {hist.counts.get(target, 0):,} times in this replay"
              f" (recorded: {meta.get('count', '?')} in {meta.get('total', '?')} runs)")
    print(f"{sum(bad.values()):,} of {hist.total:,} runs ended in an outcome {model} forbids"
          + ("" if bad else ": not reproduced this time (hardware outcomes are not deterministic;"
                            " try more --iterations)"))
    return 1 if bad else 0


def cmd_mutants(args) -> int:
    from .runtime.native import MUTANTS
    from .report import table

    print(table([(name, desc) for name, desc in MUTANTS.items()]))
    return 0


def cmd_bench(args) -> int:
    if args.mutants:
        from .bench_fuzz import print_bench as bench_mutants
        bench_mutants(quick=args.quick)
        return 0
    if args.models:
        from .bench_models import print_bench as bench_models
        bench_models(quick=args.quick)
        return 0
    from .bench_native import print_bench as bench_native
    bench_native(quick=args.quick)
    return 0


# ---------------------------------------------------------------- entry point


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stressmm", description=(
        "Stress-test memory models: run litmus programs on real threads and check every "
        "outcome against reference models."))
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", help="allowed outcomes per model; check the `expect` lines")
    c.add_argument("paths", nargs="*", metavar="PATH",
                   help=".litmus files or directories (default: the bundled scenarios)")
    c.add_argument("--model", help="comma-separated models (default: all)")
    c.add_argument("--explain", metavar="OUTCOME",
                   help='show an execution ending in OUTCOME, e.g. "P0:r0=0 P1:r1=0"')
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.add_argument("-v", "--verbose", action="store_true", help="list every outcome")
    c.set_defaults(func=cmd_check)

    r = sub.add_parser("run", help="run programs on the native runtime and judge the outcomes")
    r.add_argument("paths", nargs="+", metavar="PATH")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--iterations", type=_positive_int, help="runs per test (default 1,000,000)")
    g.add_argument("--seconds", type=_positive_float, help="run each test for this long")
    r.add_argument("--mutant", help="a deliberately broken runtime variant (see `stressmm mutants`)")
    r.add_argument("--model", help="the model outcomes are checked against (default tso)")
    r.add_argument("--layout", choices=("spread", "packed"), default="spread",
                   help="locations on separate cache lines (spread) or together (packed)")
    r.add_argument("--batch", type=_batch, default=1024,
                   help=f"test instances per round (1..{MAX_BATCH})")
    r.add_argument("--delay", type=_delay, default=1,
                   help="each thread pauses 0..DELAY steps before each iteration (default 1)")
    r.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the per-thread delays")
    r.add_argument("--oversubscribe", action="store_true",
                   help="allow more program threads than CPUs (unpinned; hides weak behaviour)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_run)

    f = sub.add_parser("fuzz", help="random programs on the native runtime until a forbidden outcome")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=_positive_float, help="time budget (default 1)")
    g.add_argument("--examples", type=_positive_int, help="number of generated programs")
    f.add_argument("--mutant", help="fuzz a deliberately broken runtime variant")
    f.add_argument("--go", action="store_true",
                   help="Go-style programs (channels, mutexes, once, waitgroups) judged by the go model")
    f.add_argument("--model", help="model that judges outcomes (default tso)")
    f.add_argument("--seed", type=_nonneg_int, help="seed for reproducible generation")
    f.add_argument("--threads", type=_positive_int, default=2, help="max threads per program")
    f.add_argument("--ops", type=_positive_int, default=4, help="max ops per thread")
    f.add_argument("--workers", type=_positive_int, help="worker processes (default: as many as fit the CPUs)")
    f.add_argument("--iterations", type=_positive_int, default=None,
                   help="runs per program (default 20,000)")
    f.add_argument("--corpus", default=".stressmm/counterexamples",
                   help="where counterexamples are saved ('' to not save)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_fuzz)

    rp = sub.add_parser("replay", help="rerun a saved counterexample")
    rp.add_argument("file", metavar="FILE")
    rp.add_argument("--iterations", type=_positive_int, help="runs (default: max(100,000, as recorded))")
    rp.add_argument("--mutant", help="override the recorded mutant ('' for the correct runtime)")
    rp.add_argument("--model", help="override the recorded model")
    rp.set_defaults(func=cmd_replay)

    m = sub.add_parser("mutants", help="list the deliberately broken runtime variants")
    m.set_defaults(func=cmd_mutants)

    b = sub.add_parser("bench", help="benchmarks: native runtime (default) or the models")
    b.add_argument("--models", action="store_true", help="time the model explorer instead")
    b.add_argument("--mutants", action="store_true",
                   help="per mutant: fuzzing time to first detection and shrunk size")
    b.add_argument("--quick", action="store_true", help="fewer repetitions, shorter campaigns")
    b.set_defaults(func=cmd_bench)
    return ap


def _number(parse, ok, what):
    """An argparse type: `parse` the text, and accept it when `ok(value)`."""
    def convert(text: str):
        try:
            value = parse(text.replace("_", "").replace(",", ""))
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return convert


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(int, lambda v: v >= 0, "a non-negative integer")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number of seconds")
_batch = _number(int, lambda v: 1 <= v <= MAX_BATCH, f"an integer in 1..{MAX_BATCH}")
_delay = _number(int, lambda v: 0 <= v <= MAX_DELAY, f"an integer in 0..{MAX_DELAY}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    from .models import StateLimitError, UnknownModelError
    from .outcome import PatternError
    from .program import ProgramError
    from .runtime import RuntimeUsageError
    from .syntax import LitmusSyntaxError

    try:
        return args.func(args)
    except LitmusSyntaxError as e:
        return _die(e.excerpt())
    except (UsageError, ProgramError, PatternError, RuntimeUsageError, StateLimitError) as e:
        return _die(str(e))
    except UnknownModelError as e:
        return _die(e.args[0] if e.args else str(e))
    except (OSError, UnicodeDecodeError) as e:
        return _die(f"{getattr(e, 'filename', '') or ''}: {e}".lstrip(": "))
    except BrokenPipeError:  # `stressmm check | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("stressmm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
