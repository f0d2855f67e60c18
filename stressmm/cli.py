"""The `stressmm` command.

    stressmm check [PATH...] [--model sc,tso] [--explain OUTCOME] [--strict] [--json]
    stressmm run PATH... [--iterations N | --seconds S] [--mutant NAME] [--model M] [--json]
    stressmm fuzz [--minutes M | --examples N] [--mutant NAME] [--model M] [--seed S] ...
    stressmm replay FILE|CORPUS [--json]
    (run, fuzz, replay: [--backend native|pythreads|go|gccgo|go-race|module:Class]
                        [--impl FILE.c|FILE.so|[ROLE=]module:Class])
    stressmm convert PATH... --to litmus|herd-c [--output-dir DIR]
    stressmm mutants [--json]
    stressmm impl [--header | --include-dir]
    stressmm bench [--models] [--mutants] [--quick] [--json]

A PATH is a .litmus file (stressmm's format, or herd7's C litmus format when its first line is
`C NAME`), a directory, a bundled scenario's name (`stressmm run SB`) or `-`
(standard input). Every file is read and validated before anything runs: each bad file is
reported with its name, the good ones still run, and the exit status is then 2.

Exit status: 0 all good, 1 an expectation failed, a forbidden outcome was seen or every run of
a program timed out, 2 a usage error or bad input (the message says what and where) or a model
that gave up, 130 / 143 interrupted by Ctrl-C / SIGTERM (after printing what was done).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

from .reports.output import add_options as add_output_options, finish
from .schedule import MAX_BATCH, MAX_DELAY

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """Bad command-line input: reported as `stressmm: error: ...` with exit status 2."""


def _die(msg: str) -> int:
    print(f"stressmm: error: {msg}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Loaded:
    """The tests the command-line paths name, and what was wrong with the others.

    `programs`: (source file, Program) pairs that parsed; `errors`: one message per file or
    path that could not be used, naming it; `warnings`: `expect` lines that are never checked."""

    programs: tuple
    errors: tuple = ()
    warnings: tuple = ()


def is_stdin(raw: str) -> bool:
    return raw == "-"


def litmus_files(paths: Sequence[str]) -> tuple:
    """(files, errors): the .litmus files named by `paths` (directories are searched
    recursively, `-` is standard input, a bare name is a bundled scenario: `stressmm run SB`),
    and a message for each path that names none. With no paths, the bundled scenario library."""
    from .syntax import find_scenario, scenario_paths

    if not paths:
        return [Path(p) for p in scenario_paths()], []
    found, errors = [], []
    for raw in paths:
        p = Path(raw)
        if is_stdin(raw):
            found.append(raw)
        elif p.is_dir():
            inside = sorted(p.rglob("*.litmus"))
            if not inside:
                errors.append(f"{raw}: no .litmus files in this directory")
            found += inside
        elif p.exists():   # a regular file, or a pipe: /dev/fd/N from `<(...)`
            found.append(p)
        elif "/" not in raw and not raw.endswith(".litmus"):
            try:
                found.append(Path(find_scenario(raw)))
            except LookupError as e:
                errors.append(f"{raw}: no such file, directory or bundled scenario ({e})")
        else:
            errors.append(f"{raw}: no such file or directory")
    return found, errors


def load_programs(paths: Sequence[str]) -> Loaded:
    """Every test in the files `paths` name. A file that cannot be read or parsed is an error
    naming it; the other files are still loaded, so that every error is reported at once."""
    from .check import unknown_models
    from .program import ProgramError
    from .herd_c import parse_file_any as parse_file
    from .syntax import LitmusSyntaxError

    files, errors = litmus_files(paths)
    programs, warnings = [], []
    for f in files:
        source = "<stdin>" if is_stdin(str(f)) else str(f)
        try:
            tests = parse_file(f)
        except LitmusSyntaxError as e:
            errors.append(e.excerpt())
            continue
        except ProgramError as e:
            errors.append(f"{source}: {e}")
            continue
        except OSError as e:
            errors.append(f"{source}: {e.strerror or e}")
            continue
        for prog in tests:
            programs.append((source, prog))
            warnings += unknown_models(prog, source)
    return Loaded(tuple(programs), tuple(errors), tuple(warnings))


def report_problems(loaded: Loaded, strict: bool = False) -> None:
    """Print every error and warning of `loaded` on stderr, before any result."""
    for msg in loaded.errors:
        print(f"stressmm: error: {msg}", file=sys.stderr)
    for msg in loaded.warnings:
        print(f"stressmm: {'error' if strict else 'warning'}: {msg}", file=sys.stderr)


def too_many_threads(programs: Sequence, oversubscribe: bool) -> tuple:
    """(runnable programs, errors): a program with more threads than this process has CPUs
    cannot be pinned; unless `oversubscribe`, it is an error naming its file, found before
    anything runs."""
    from .runtime import available_cpus

    if oversubscribe:
        return tuple(programs), ()
    cpus = len(available_cpus())
    ok, errors = [], []
    for source, prog in programs:
        if len(prog.threads) <= cpus:
            ok.append((source, prog))
        else:
            errors.append(f"{source}: {prog.name} has {len(prog.threads)} threads but only {cpus} "
                          f"CPUs are available: more threads than CPUs hides weak behaviours; run "
                          f"it with --oversubscribe (threads then unpinned) or use a smaller program")
    return tuple(ok), tuple(errors)


def model_names(text: Optional[str], default: Sequence[str]) -> list:
    from .models import MODELS

    if text is None:
        return list(default)
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in MODELS:
            raise UsageError(f"--model: unknown model {m!r} (known: {', '.join(MODELS)})")
    if not names:
        raise UsageError("--model: give at least one model name, e.g. --model sc,tso")
    return names


def load_backend(spec: Optional[str], impl: Sequence[str] = ()):
    """(spec, backend) from --backend and --impl: a Python class (--impl) runs on pythreads
    unless --backend names another; None stands for the native runtime."""
    from .runtime.registry import default_backend, get_backend

    spec = spec or default_backend(impl)
    if spec == "native" and not impl:
        return spec, None
    return spec, get_backend(spec, tuple(impl))


def print_notes(hist) -> None:
    """What a backend noted about a run: a stuck user primitive, the first panic, the calls
    the first deadlock waited in."""
    info = hist.info or {}
    for key, label in (("stuck", "STUCK"), ("panic_note", "first panic"),
                       ("deadlock_note", "first deadlock"),
                       ("timeout_note", "first timeout"), ("capped", "capped")):
        if info.get(key):
            print(f"  {label}: {info[key]}")


# ---------------------------------------------------------------- commands


def cmd_check(args) -> int:
    from .check import check, explain_outcome
    from .models import MODELS
    from .outcome import Pattern
    from .report import render_check
    from .reports.progress import over
    from .reports.results import check_test, document

    models = model_names(args.model, list(MODELS))
    if args.explain is not None and not args.explain.strip():
        raise UsageError('--explain: give an outcome, e.g. --explain "P0:r0=0 P1:r1=0"')
    pattern = Pattern.parse(args.explain) if args.explain is not None else None
    loaded = load_programs(args.paths)
    report_problems(loaded, strict=args.strict)
    progs = loaded.programs
    failures, unchecked, docs, blocks = 0, 0, [], []
    want_doc = bool(args.json or args.report or args.junit)
    for source, prog in over(progs, "check", "tests"):
        report = check(prog, models, args.max_states)
        failures += len(report.failed)
        unchecked += sum(1 for e in report.expectations if e.holds is None)
        doc = check_test(report, source, explain=want_doc)
        if not args.json:
            blocks.append(render_check(report, source, verbose=args.verbose))
        if pattern is not None:
            pattern.check_against(prog)
            for m in (m for m in models if m in report.results):
                said = explain_outcome(prog, pattern, m, args.max_states)
                ex = said.witness
                if args.json:
                    doc.setdefault("explain", {})[m] = (
                        {"outcome": ex.outcome.to_json(), "steps": list(ex.steps)} if ex else None)
                elif ex is None and report.results[m].undefined:
                    blocks.append(f"  {m}: no execution of {prog.name} built ends in {pattern}, "
                                  f"yet {m} allows it: the program has a data race (above), so "
                                  f"{m} allows every outcome")
                elif ex is None:
                    blocks.append(f"  {m}: no execution of {prog.name} ends in {pattern}: "
                                  f"{m} forbids it" + "".join(f"\n      {line}" for line in said.why.splitlines()))
                else:
                    blocks.append(f"  {m}: an execution ending in {ex.outcome}:\n"
                                  + "\n".join(f"      {line}" for line in str(ex).splitlines()))
        docs.append(doc)
    unknown = len(loaded.warnings) if args.strict else 0
    results = document("check", docs, failed_expectations=failures,
                       unknown_models=list(loaded.warnings), errors=list(loaded.errors))
    if args.json:
        print(json.dumps(results, indent=2))
    elif progs:
        print("\n\n".join(blocks))
        total = sum(len(p.expects) for _, p in progs)
        print(f"\n{len(progs)} tests, {total - unchecked} expectations checked, {failures} failed"
              + (f", {unchecked} not checked" if unchecked else "")
              + (f", {unknown} name an unknown model (--strict)" if unknown else "")
              + (f"; {len(loaded.errors)} error(s) above" if loaded.errors else ""))
    if loaded.errors:
        return finish(args, results, 2)
    return finish(args, results, 1 if failures or unknown else 0)


PROBE_RUNS = 64
"""Runs of each program made first, alone: when every one of them times out (an await or a wait
that never completes), `run` stops there instead of spending the spin budget on every run."""


def run_model(text: Optional[str], default: str = "tso") -> Optional[str]:
    """The one model `run` judges by: `default` when none is named, None for `--model none`
    (no model)."""
    if text is not None and text.strip() == "none":
        return None
    checked = model_names(text, [default])
    if len(checked) != 1:
        raise UsageError("--model: `run` checks against one model, e.g. --model tso "
                         "(or --model none to run without a model)")
    return checked[0]


def probed_run(backend, prog, args, schedule):
    """Run `prog` on `backend` (None: the native runtime) as `args` ask, the first PROBE_RUNS
    runs alone; returns (histogram, stuck): stuck when every probe run timed out (then the
    rest is not run)."""
    from .outcome import Outcome
    from .runtime import attach_histogram, partial_histogram, run_backend

    def run(iterations=None, seconds=None):
        return run_backend(backend, prog, iterations=iterations, seconds=seconds,
                           schedule=schedule, mutant=args.mutant,
                           oversubscribe=args.oversubscribe)

    probe_n = PROBE_RUNS if args.iterations is None else min(PROBE_RUNS, args.iterations)
    probe = run(iterations=probe_n)
    timeouts = probe.counts.get(Outcome.flagged("timeout"), 0)
    if timeouts == probe.total:
        return probe, True
    if args.iterations is not None:
        rest = {"iterations": args.iterations - probe.total} if args.iterations > probe.total else None
        guess = probe.elapsed / max(probe.total, 1) * args.iterations
        if timeouts and guess > 60:
            print(f"stressmm: warning: {prog.name}: {timeouts} of the first {probe.total} runs "
                  f"timed out (each spends the spin budget); {args.iterations:,} runs may take "
                  f"about {guess / 60:.0f} min: bound the time with --seconds", file=sys.stderr)
    else:
        left = args.seconds - probe.elapsed
        rest = {"seconds": left} if left > 0 else None
    if rest is None:
        return probe, False
    try:
        return probe.merged(run(**rest)), False
    except KeyboardInterrupt as e:   # the probe's runs count too
        done = partial_histogram(e)
        attach_histogram(e, probe if done is None else probe.merged(done))
        raise


def default_run_iterations(backend, on_go: bool) -> int:
    """How many runs `run` makes of each test when neither --iterations nor --seconds is given:
    a million on the native runtime, fewer on the slower Go toolchains and user backends.

        >>> default_run_iterations(None, on_go=False), default_run_iterations(object(), True)
        (1000000, 100000)
    """
    return 1_000_000 if backend is None else 100_000 if on_go else 10_000


def run_schedule(args, prog):
    """The schedule `run` gives `prog`: every thread the same --delay, and --layout, --batch and
    --seed as given."""
    from .schedule import Schedule

    return Schedule(delays=tuple((0, args.delay) for _ in prog.threads),
                    layout=args.layout, batch=args.batch, seed=args.seed)


@dataclass(frozen=True)
class ProgramRun:
    """One test as `run` ran it: its judged histogram (None when Ctrl-C came before any run
    finished), a note shown under its table (why it stopped), whether every probe run timed
    out (`stuck`), and the Ctrl-C / SIGTERM that ended the command (`interrupt`)."""

    judged: object
    note: str = ""
    stuck: bool = False
    interrupt: Optional[BaseException] = None


def run_program(backend, prog, args, checked: Optional[str]) -> ProgramRun:
    """Run `prog` as `args` ask (`probed_run`) and judge it by `checked`. Ctrl-C or SIGTERM
    does not propagate: the runs already done are judged (by no model when the model was the
    one busy) and returned with the interrupt, so that they are shown before the command ends."""
    from .interrupt import signal_name
    from .judge import judge, models_to_compute, stuck_reason
    from .runtime import partial_histogram

    hist = None
    try:
        hist, stuck = probed_run(backend, prog, args, run_schedule(args, prog))
        judged = judge(hist, checked)
    except KeyboardInterrupt as e:
        done = partial_histogram(e) or hist
        if done is None:
            return ProgramRun(None, interrupt=e)
        return ProgramRun(judge(done, checked if hist is None else None),
                          f"interrupted by {signal_name(e)} after {done.total:,} runs",
                          interrupt=e)
    if not stuck:
        return ProgramRun(judged)
    why = stuck_reason(prog, models_to_compute(prog, checked))
    return ProgramRun(judged, f"STUCK: every one of the first {hist.total} runs timed out, so "
                              f"{prog.name} was not run further."
                              + "".join(f"\n    {line}" for line in why), stuck=True)


@dataclass(frozen=True)
class RunTally:
    """What `run` has seen so far: tests shown, runs ending in an outcome the judging model
    forbids, failed `expect` lines, stuck tests (a user primitive that never returned, or
    every probe run timed out) and tests the judging model gave up on."""

    shown: int = 0
    forbidden: int = 0
    failed: int = 0
    stuck: int = 0
    gave_up: int = 0

    def add(self, run: ProgramRun, checked: Optional[str]) -> "RunTally":
        judged = run.judged
        primitive_stuck = bool((judged.histogram.info or {}).get("stuck"))
        return RunTally(shown=self.shown + 1, forbidden=self.forbidden + judged.forbidden,
                        failed=self.failed + judged.failed,
                        stuck=self.stuck + (primitive_stuck or run.stuck),
                        gave_up=self.gave_up + (checked is not None and not judged.judged))

    def status(self, errors: Sequence) -> int:
        """1 when something forbidden, failed or stuck was seen; else 2 when a model gave up or
        a path could not be run; else 0."""
        if self.forbidden or self.failed or self.stuck:
            return 1
        return 2 if self.gave_up or errors else 0

    def summary(self, tests: int, checked: Optional[str], errors: Sequence,
                interrupted: Optional[str] = None) -> str:
        """The last line `run` prints."""
        judge_text = f"an outcome {checked} forbids" if checked else "(no model: --model none)"
        return (f"{self.shown} of {tests} tests run; "
                f"{self.forbidden:,} runs ended in {judge_text}"
                + (f"; {self.failed} expectation(s) failed" if self.failed else "")
                + (f"; {self.stuck} test(s) stuck" if self.stuck else "")
                + (f"; {self.gave_up} test(s) not judged ({checked} gave up)"
                   if self.gave_up else "")
                + (f"; {len(errors)} error(s) above, not run" if errors else "")
                + (f"; interrupted by {interrupted}" if interrupted else ""))


def run_document(docs: list, tally: RunTally, errors: Sequence,
                 interrupted: Optional[str] = None) -> dict:
    """The results document of `run` (docs/json.md): its tests and totals."""
    from .reports.results import document

    return document("run", docs, forbidden=tally.forbidden, failed_expectations=tally.failed,
                    stuck=tally.stuck, model_gave_up=tally.gave_up, interrupted=interrupted,
                    errors=list(errors))


def run_test_document(run: ProgramRun, checked: Optional[str], source: str) -> dict:
    """One test of the `run` document: every model's verdict beside each outcome (none with
    --model none), what judging adds, and why it stopped early."""
    from .report import judged_facts
    from .reports.results import run_test

    judged = run.judged
    doc = run_test(judged.histogram, {m: v for m, v in judged.verdicts.items() if v is not None},
                   checked, source, models=None if checked else (), explain=True)
    doc.update(judged_facts(judged))
    if run.note:
        doc["stopped"] = run.note
    return doc


def print_program_run(run: ProgramRun, source: str, go_checked: bool) -> None:
    """One test as a person reads it: its judged table, why it stopped, what the backend noted
    and, for a real Go toolchain judged by a model (`go_checked`), the go model's word on its
    outcomes."""
    from .go_judge import judge as judge_go
    from .models import StateLimitError, get_model
    from .report import render_judged

    hist = run.judged.histogram
    print(render_judged(run.judged, source) + (f"\n  {run.note}" if run.note else ""))
    print_notes(hist)
    if go_checked:
        try:
            for line in judge_go(hist, get_model("go").allowed(hist.program)):
                print(f"  {line}")
        except StateLimitError:
            pass    # the table already says the model gave up
    print()


def cmd_run(args) -> int:
    from .reports.progress import over
    from .runtime.go import BACKENDS as GO_BACKENDS

    spec, backend = load_backend(args.backend, args.impl)
    on_go = spec in GO_BACKENDS   # a real Go implementation: judged by the go model
    if args.iterations is None and args.seconds is None:
        args.iterations = default_run_iterations(backend, on_go)
    checked = run_model(args.model, "go" if args.impl or on_go else "tso")
    loaded = load_programs(args.paths)
    progs, too_big = too_many_threads(loaded.programs, args.oversubscribe)
    errors = list(loaded.errors + too_big)
    report_problems(replace(loaded, errors=errors))
    if callable(getattr(backend, "prepare", None)):
        backend.prepare([prog for _, prog in progs])    # e.g. one Go build for every test
    want_doc = args.json or args.report or args.junit
    tally, docs = RunTally(), []
    for source, prog in over(progs, "run", "tests"):
        run = run_program(backend, prog, args, checked)
        if run.judged is not None:
            tally = tally.add(run, checked)
            if want_doc:
                docs.append(run_test_document(run, checked, source))
            if not args.json:
                print_program_run(run, source, on_go and checked is not None)
        if run.interrupt is not None:
            return finish_run(args, docs, tally, len(progs), checked, errors, run.interrupt)
    return finish_run(args, docs, tally, len(progs), checked, errors)


def finish_run(args, docs: list, tally: RunTally, tests: int, checked: Optional[str],
               errors: Sequence, interrupt: Optional[BaseException] = None) -> int:
    """Print `run`'s summary (or its JSON document), write the --report / --junit files, and
    return the exit status: the interrupt's (130 / 143) when Ctrl-C or SIGTERM ended the
    command, else the tally's."""
    from .interrupt import exit_status, signal_name

    interrupted = signal_name(interrupt) if interrupt is not None else None
    status = exit_status(interrupt) if interrupt is not None else tally.status(errors)
    results = run_document(docs, tally, errors, interrupted)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(tally.summary(tests, checked, errors, interrupted))
    return finish(args, results, status)


def cmd_fuzz(args) -> int:
    from .campaign import CampaignConfig, new_seed, plan_workers, program_threads, run_campaign
    from .fuzz import DEFAULT_ITERATIONS
    from .reports.progress import CampaignProgress

    if args.minutes is None and args.examples is None:
        args.minutes = 1.0
    from .runtime import backend_name

    spec, backend = load_backend(args.backend, args.impl)   # a usage error before any worker
    if args.impl and not args.go:
        args.go = True   # a user primitive shows only in programs that use it
        print("--impl replaces a Go primitive: fuzzing with Go-style programs (--go)",
              file=sys.stderr)
    args.iterations = args.iterations or getattr(backend, "default_iterations", DEFAULT_ITERATIONS)
    if args.mutant is not None:
        from .runtime.compile import SYNC_MUTANTS, check_mutant

        check_mutant(args.mutant)   # RuntimeUsageError listing the known mutants
        if args.mutant in SYNC_MUTANTS and backend is not None:
            raise UsageError(f"--mutant {args.mutant} breaks a Go primitive of the native "
                             f"runtime; fuzz it without --backend/--impl")
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
                         model=model[0], seed=new_seed() if args.seed is None else args.seed,
                         threads=args.threads, ops=args.ops,
                         workers=args.workers, iterations=args.iterations,
                         corpus=args.corpus or None, go=args.go, backend=spec,
                         impl=tuple(args.impl))
    try:
        plan_workers(program_threads(cfg), args.workers)
    except ValueError as e:
        raise UsageError(str(e))
    if cfg.corpus:   # a corpus that cannot be written is a usage error before the campaign
        from .fuzz import check_corpus
        try:
            check_corpus(cfg.corpus)
        except OSError as e:
            raise UsageError(f"--corpus {e.strerror}")
    progress = CampaignProgress(args.minutes, args.examples)
    what = (f"mutant {args.mutant} of " if args.mutant else "") + (
        "the native runtime" if backend is None else backend_name(backend)) + (
        " with Go-style programs" if args.go else "")
    if not args.json:
        budget = f"{args.minutes:g} min" if args.minutes is not None else f"{args.examples:,} examples"
        print(f"fuzzing {what} for {budget}: programs of up to {args.threads} threads x "
              f"{args.ops} ops, {args.iterations:,} runs each, judged by {model[0]}, "
              f"seed {cfg.seed}", file=sys.stderr)
    try:
        res = run_campaign(cfg, progress)
    finally:
        progress.close()
    from .go_fuzz import provided_kinds
    return report_campaign(res, args, cfg, provided_kinds(backend))


def report_campaign(res, args, cfg, kinds: tuple = ()) -> int:
    """Print a campaign's result (text or JSON), counterexamples first; one that could not be
    saved is printed in full, as the .litmus file `replay` reads; write --report/--junit.
    `kinds`: the primitives the user's --impl provides, whose use is summed up.
    Exit status: 1 when something was found, 130 / 143 when interrupted, else 0."""
    from .interrupt import exit_status, signal_name
    from .reports.results import campaign, document

    model = cfg.model
    interrupted = signal_name(res.interrupted) if res.interrupted is not None else None
    status = 1 if res.found else (exit_status(res.interrupted) if interrupted else 0)
    results = document("fuzz", campaign=campaign(res, cfg), seed=res.seed,
                       coverage=res.coverage.to_json(), interrupted=interrupted,
                       save_errors=list(res.save_errors))
    if args.json:
        print(json.dumps(results, indent=2))
        return finish(args, results, status)
    saved = res.saved + [None] * (len(res.counterexamples) - len(res.saved))
    for cex, path in zip(res.counterexamples, saved):
        print(cex.report())
        if path:
            print(f"replay: {replay_command(path)}")
        elif args.corpus:
            print(f"\nNOT SAVED, so here it is in full (save it as a .litmus file and run "
                  f"`stressmm replay FILE`):\n{cex.as_litmus()}")
    for err in res.save_errors:
        print(f"stressmm: warning: a counterexample could not be saved: {err}", file=sys.stderr)
    for f in res.failures:
        print(f"WORKER FAILURE: worker {f.worker} {f.what} while running:\n{f.program_text}")
    if res.unstarted:
        from .fuzz import unstarted_note
        print(unstarted_note(res.unstarted))
    used = [p for p, n in res.coverage.per_primitive if n or args.go]
    print(res.coverage.render(primitives_shown=used))
    if kinds:
        from .go_fuzz import impl_usage
        print(impl_usage(res.coverage, kinds))
    print(f"{res.examples:,} programs, {res.runs:,} runs in {res.elapsed:.1f}s on {res.workers} "
          f"worker(s) (CPUs {res.cpus}): " + (
              f"{len(res.counterexamples)} counterexample(s), {len(res.failures)} worker failure(s)"
              if res.found else f"no outcome forbidden by {model} was seen")
          + (f"; interrupted by {interrupted}" if interrupted else ""))
    if res.first_detection_programs is not None:
        print(f"found after {res.first_detection_programs:,} programs, "
              f"{res.first_detection_runs:,} runs ({res.first_detection:.1f}s)")
    print(f"seed {res.seed} (rerun with --seed {res.seed} to draw the same programs)")
    return finish(args, results, status)


def replay_backend(label: str, meta: dict, backend: Optional[str], impl: Sequence[str]):
    """The backend that replays a counterexample: `--backend`/`--impl` when given, else the
    one its header records (an old header that names none: the native runtime). None stands
    for the native runtime; a backend that cannot be loaded here is a UsageError naming it."""
    from .runtime import RuntimeUsageError

    spec = backend or meta.get("backend") or "native"
    impl = impl or ([] if backend else meta.get("impl", []))
    try:
        return load_backend(spec, impl)[1]
    except RuntimeUsageError as e:
        how = "" if backend else (" (as its header records); pass --backend NAME to replay it "
                                  "on another backend")
        raise UsageError(f"{label}: cannot replay on backend {spec!r}{how}: {e}") from e


def replay_command(path) -> str:
    """The command that replays the counterexample at `path`, quoted for a POSIX shell.

        >>> replay_command("out dir/SB.litmus")
        "stressmm replay 'out dir/SB.litmus'"
    """
    return f"stressmm replay {shlex.quote(str(path))}"


def is_corpus(target: str) -> bool:
    """Whether `stressmm replay TARGET` replays a whole corpus (a directory or a .jsonl file)."""
    return not is_stdin(target) and (Path(target).is_dir() or target.endswith(".jsonl"))


def replay_entries(target: str) -> tuple:
    """(entries, errors) for `stressmm replay TARGET`: one counterexample file, or every
    counterexample of a corpus (a directory or a `.jsonl` file). Entries are (label, Program,
    metadata); errors are messages naming the file and line."""
    from .fuzz import load_corpus_entries, load_counterexample

    if is_corpus(target):
        entries, errors = load_corpus_entries(target)
        return entries, [e.excerpt() for e in errors]
    prog, meta = load_counterexample(target)
    return [("<stdin>" if is_stdin(target) else target, prog, meta)], []


def chance_of_missing(count: int, total: int, runs: int) -> Optional[float]:
    """k such that a bug seen `count` times in `total` runs is missed in `runs` runs with
    probability about e^-k (Poisson: the expected number of sightings), or None without a
    recorded rate.

        >>> round(chance_of_missing(5, 1000, 20000), 6)
        100.0
    """
    if not total or not count:
        return None
    return count / total * runs


def not_reproduced(meta: dict, runs: int) -> str:
    """What a replay that saw nothing forbidden means, with numbers.

        >>> not_reproduced({"count": 12, "total": 100000}, 1000000)
        '0 forbidden in 1,000,000 runs; the recorded rate was 0.00012 (12 in 100,000 runs), so missing it by chance has probability about e^-120 (7.7e-53): the bug looks fixed here'
    """
    k = chance_of_missing(meta.get("count", 0), meta.get("total", 0), runs)
    if k is None:
        return (f"0 forbidden in {runs:,} runs; the header records no rate to compare with "
                f"(hardware outcomes are not deterministic: try more --iterations)")
    rate = meta["count"] / meta["total"]
    text = (f"0 forbidden in {runs:,} runs; the recorded rate was {rate:.2g} ({meta['count']:,} in "
            f"{meta['total']:,} runs), so missing it by chance has probability about e^-{k:.3g} "
            f"({math.exp(-k):.2g})")
    if k < 5:
        return text + f": that can happen; try --iterations {math.ceil(20 / rate):,}"
    return text + ": the bug looks fixed here"


def stuck_replay(hist, meta: dict) -> tuple:
    """(reproduced, line) for a replay of a crash or a hang (`meta["stuck"]` from its header):
    reproduced when the implementation crashed or hung again.

        >>> from stressmm.syntax import parse
        >>> from stressmm.outcome import Histogram, Outcome
        >>> [p] = parse("litmus L\\nmutex m\\nP0:\\n  m.Lock()\\nP1:\\n  m.Lock()\\n")
        >>> stuck_replay(Histogram(p, {Outcome(): 500}), {"stuck": "crashed (SIGSEGV)"})[1]
        'not reproduced: 500 runs ended without a crash or a hang (recorded: crashed (SIGSEGV))'
    """
    now = (hist.info or {}).get("stuck")
    if now:
        return True, f"REPRODUCED: STUCK: {now}"
    return False, (f"not reproduced: {hist.total:,} runs ended without a crash or a hang "
                   f"(recorded: {meta['stuck']})")


def cmd_replay(args) -> int:
    from .models import get_model
    from .outcome import Outcome
    from .report import render_run
    from .reports.results import document, replay_test
    from .fuzz import DEFAULT_MODEL
    from .runtime import RuntimeUsageError, run_backend
    from .schedule import Schedule

    override = model_names(args.model, []) if args.model is not None else []
    if len(override) > 1:
        raise UsageError("--model: a replay judges with one model, e.g. --model tso")
    entries, errors = replay_entries(args.file)
    for msg in errors:   # bad entries first, then the good ones replay
        print(f"stressmm: error: {msg}", file=sys.stderr)
    results, ran, reproduced = [], 0, 0
    for label, prog, meta in entries:
        model = override[0] if override else meta.get("model") or DEFAULT_MODEL
        mutant = (args.mutant or None) if args.mutant is not None else meta.get("mutant")
        schedule = Schedule.from_json(meta["schedule"]) if meta.get("schedule") else Schedule()
        try:
            backend = replay_backend(label, meta, args.backend, args.impl)
            iterations = args.iterations or max(
                100_000 if backend is None else getattr(backend, "default_iterations", 10_000),
                int(meta.get("total", 0)))
            hist = run_backend(backend, prog, iterations=iterations, schedule=schedule,
                               mutant=mutant)
        except (UsageError, RuntimeUsageError) as e:
            if not is_corpus(args.file):
                raise
            errors.append(f"{label}: {e}")   # one bad entry does not stop the corpus
            print(f"stressmm: error: {errors[-1]}", file=sys.stderr)
            continue
        ran += 1
        verdicts = {m: get_model(m).allowed(prog).outcomes for m in dict.fromkeys(["sc", "tso", model])}
        bad = sum(hist.outside(verdicts[model]).values())
        finding = None   # a race or stuck finding: (reproduced, line)
        if meta.get("race"):   # a race-detector finding: replayed by the detector's reports
            from .go_fuzz import race_replay
            finding = race_replay(hist, get_model("go").allowed(prog), meta)
        if meta.get("stuck"):   # a crash or a hang: replayed by crashing or hanging again
            finding = stuck_replay(hist, meta)
        found = bool(bad) or bool(finding and finding[0])
        reproduced += found
        target = Outcome.from_json(meta["outcome"]) if meta.get("outcome") else None
        k = chance_of_missing(meta.get("count", 0), meta.get("total", 0), hist.total)
        results.append(dict(replay_test(hist, verdicts, model, label, meta,
                                        explain=bool(args.json or args.report or args.junit)),
                            forbidden=bad, reproduced=found,
                            race=finding[1] if finding and meta.get("race") else None,
                            stuck=finding[1] if finding and meta.get("stuck") else None, mutant=mutant,
                            expected_forbidden=k,
                            chance_of_missing=None if bad or k is None else math.exp(-k)))
        if args.json:
            continue
        print(render_run(hist, verdicts, model, label))
        if not meta.get("stuck"):
            print_notes(hist)
        if target is not None:
            print(f"recorded outcome {target}: seen {hist.counts.get(target, 0):,} times in this replay"
                  f" (recorded: {meta.get('count', '?')} in {meta.get('total', '?')} runs)")
        if finding is not None:
            print(finding[1])
        print(f"REPRODUCED: {bad:,} of {hist.total:,} runs ended in an outcome {model} forbids"
              if bad else f"not reproduced: {not_reproduced(meta, hist.total)}"
              if finding is None else f"no outcome {model} forbids in {hist.total:,} runs")
        print()
    doc = document("replay", results, forbidden=sum(r["forbidden"] for r in results),
                   reproduced=reproduced, errors=errors)
    if args.json:
        print(json.dumps(doc, indent=2))
    elif is_corpus(args.file) or errors:
        print(f"{ran} counterexample(s) replayed: {reproduced} reproduced, {ran - reproduced} not"
              + (f"; {len(errors)} error(s) above" if errors else ""))
    if errors:
        return finish(args, doc, 2)
    return finish(args, doc, 1 if reproduced else 0)


def cmd_convert(args) -> int:
    """Each test in the other format: stressmm's litmus text (`--to litmus`) or herd7's C
    litmus (`--to herd-c`), on stdout or, with --output-dir, one NAME.litmus file per test.
    A test the target format cannot express is an error naming its op (exit 2); the others
    are still written."""
    from .herd_c import CFormatError, print_c
    from .syntax import print_program

    loaded = load_programs(args.paths)
    report_problems(loaded)
    write = print_c if args.to == "herd-c" else print_program
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None and not out_dir.is_dir():
        raise UsageError(f"--output-dir {out_dir}: no such directory; create it first")
    failed = bool(loaded.errors)
    texts, written = [], {}
    for source, prog in loaded.programs:
        try:
            text = write(prog)
        except CFormatError as e:
            print(f"stressmm: error: {source}: {e}", file=sys.stderr)
            failed = True
            continue
        if out_dir is None:
            texts.append(text)
            continue
        target = out_dir / f"{prog.name}.litmus"
        if "/" in prog.name or prog.name in (".", ".."):
            print(f"stressmm: error: {source}: the test name {prog.name!r} is not a file name",
                  file=sys.stderr)
            failed = True
            continue
        if target in written:
            print(f"stressmm: error: {source}: test {prog.name} would overwrite {target}, "
                  f"written for the test of the same name in {written[target]}; convert the "
                  f"two into different folders", file=sys.stderr)
            failed = True
            continue
        written[target] = source
        target.write_text(text)
        print(target)
    if texts:
        sys.stdout.write("\n".join(texts))
    return 2 if failed else 0


def cmd_mutants(args) -> int:
    from .runtime.native import MUTANTS
    from .report import table

    if args.json:
        print(json.dumps({"mutants": [{"name": n, "description": d} for n, d in MUTANTS.items()]},
                         indent=2))
    else:
        print(table([(name, desc) for name, desc in MUTANTS.items()]))
    return 0


def cmd_impl(args) -> int:
    """The C interface of user primitives: the header's text, or the folder that holds it."""
    from .runtime.cimpl import header_path, include_dir

    if args.include_dir:
        print(include_dir())
    else:
        sys.stdout.write(header_path().read_text())
    return 0


def cmd_bench(args) -> int:
    """The native runtime by default; --models and --mutants (either or both) instead. With
    --json the tables go to stderr and the figures, as JSON, to stdout."""
    from .bench_fuzz import print_bench as bench_mutants
    from .bench_models import print_bench as bench_models
    from .bench_native import print_bench as bench_native

    from .bench_go import print_bench as bench_go

    chosen = [name for name, on in (("models", args.models), ("mutants", args.mutants),
                                    ("go", args.backend == "go")) if on]
    runs = {"native": bench_native, "models": bench_models, "mutants": bench_mutants,
            "go": bench_go}
    text = sys.stderr if args.json else sys.stdout
    figures = {}
    if args.impl:   # the cost of the user path: built-in vs --impl, in the same run
        from .bench_impl import print_bench as bench_impl
        from .runtime.cimpl import is_c_impl

        python = [i for i in args.impl if not is_c_impl(i)]
        if python or chosen:
            raise UsageError("bench --impl takes C files or a .so (the native runtime's user "
                             "primitives), without --models, --mutants or --backend go")
        chosen, runs["impl"] = ["impl"], lambda quick, file: bench_impl(args.impl, quick, file)
    for name in chosen or ["native"]:
        rows = runs[name](quick=args.quick, file=text)
        figures[name] = [asdict(r) if is_dataclass(r) else r for r in rows]
        print(file=text)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


# ---------------------------------------------------------------- entry point


PATH_HELP = (".litmus files, directories (searched recursively), names of bundled scenarios "
             "(e.g. SB, MP+close) or - for standard input")
JSON_HELP = "print one JSON document on stdout instead of tables"


def parser() -> argparse.ArgumentParser:
    from . import __version__

    ap = argparse.ArgumentParser(prog="stressmm", description=(
        "Stress-test memory models: run litmus programs on real threads and check every "
        "outcome against reference models."))
    ap.add_argument("--version", action="version", version=f"stressmm {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", help="allowed outcomes per model; check the `expect` lines")
    c.add_argument("paths", nargs="*", metavar="PATH",
                   help=PATH_HELP + " (default: every bundled scenario)")
    c.add_argument("--model", help="comma-separated models (default: all)")
    c.add_argument("--explain", metavar="OUTCOME",
                   help='show an execution ending in OUTCOME, e.g. "P0:r0=0 P1:r1=0"')
    c.add_argument("--strict", action="store_true",
                   help="an `expect` line naming an unknown model fails the check (exit 1)")
    c.add_argument("--json", action="store_true", help=JSON_HELP)
    c.add_argument("-v", "--verbose", action="store_true", help="list every outcome")
    c.add_argument("--max-states", type=_positive_int, metavar="N",
                   help="work limit of each model (states or executions built); a program "
                        "past it is reported as too big, never a partial answer")
    add_output_options(c)
    c.set_defaults(func=cmd_check)

    r = sub.add_parser("run", help="run programs on a backend (default: the native runtime) and judge the outcomes",
                       description="Run litmus tests on a backend (default: the native runtime), "
                                   "e.g. `stressmm run SB` (a bundled scenario by name), "
                                   "`stressmm run scenarios/go/ --backend go`, `stressmm run my.litmus`.")
    r.add_argument("paths", nargs="+", metavar="PATH", help=PATH_HELP)
    g = r.add_mutually_exclusive_group()
    g.add_argument("--iterations", type=_positive_int,
                   help="runs per test (default 1,000,000 on native, 100,000 on the Go "
                        "toolchains, 10,000 on other backends; 1e6 and 1,000,000 are accepted)")
    g.add_argument("--seconds", type=_positive_seconds, help="run each test for this long")
    r.add_argument("--mutant", help="a deliberately broken runtime variant (see `stressmm mutants`)")
    r.add_argument("--model",
                   help="the model outcomes are checked against (default tso; go with --impl "
                        "or a Go toolchain; `none`: only the histogram, as litmus7)")
    r.add_argument("--layout", choices=("spread", "packed"), default="spread",
                   help="locations on separate cache lines (spread) or together (packed)")
    r.add_argument("--batch", type=_batch, default=1024,
                   help=f"test instances per round (1..{MAX_BATCH})")
    r.add_argument("--delay", type=_delay, default=1,
                   help="each thread pauses 0..DELAY steps before each iteration (default 1)")
    r.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the per-thread delays")
    r.add_argument("--oversubscribe", action="store_true",
                   help="allow more program threads than CPUs (unpinned; hides weak behaviour)")
    _backend_options(r)
    r.add_argument("--json", action="store_true", help=JSON_HELP)
    add_output_options(r)
    r.set_defaults(func=cmd_run)

    f = sub.add_parser("fuzz", help="random programs on a backend (default: native) until a forbidden outcome")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--minutes", type=_positive_minutes, help="time budget (default 1)")
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
    _backend_options(f)
    f.add_argument("--json", action="store_true", help=JSON_HELP)
    add_output_options(f, "the campaign")
    f.set_defaults(func=cmd_fuzz)

    rp = sub.add_parser("replay", help="rerun a saved counterexample, or every one of a corpus")
    rp.add_argument("file", metavar="FILE",
                    help="a counterexample .litmus file (- for standard input), a corpus "
                         "directory, or its counterexamples.jsonl")
    rp.add_argument("--iterations", type=_positive_int, help="runs (default: max(100,000, as recorded))")
    rp.add_argument("--mutant", help="override the recorded mutant ('' for the correct runtime)")
    rp.add_argument("--model", help="override the recorded model")
    _backend_options(rp, replay=True)
    rp.add_argument("--json", action="store_true", help=JSON_HELP)
    add_output_options(rp, "the replay")
    rp.set_defaults(func=cmd_replay)

    cv = sub.add_parser("convert", help="write tests in stressmm's litmus format or herd7's C "
                                         "litmus format (either is read)")
    cv.add_argument("paths", nargs="+", metavar="PATH", help=PATH_HELP)
    cv.add_argument("--to", choices=("litmus", "herd-c"), required=True,
                    help="the format to write: litmus (stressmm's) or herd-c (herd7's C litmus)")
    cv.add_argument("--output-dir", metavar="DIR",
                    help="write one NAME.litmus file per test in DIR instead of stdout")
    cv.set_defaults(func=cmd_convert)

    m = sub.add_parser("mutants", help="list the deliberately broken runtime variants")
    m.add_argument("--json", action="store_true", help=JSON_HELP)
    m.set_defaults(func=cmd_mutants)

    i = sub.add_parser("impl", help="the C header of user primitives (--impl mylock.c)")
    shown = i.add_mutually_exclusive_group()
    shown.add_argument("--header", action="store_true",
                       help="print stressmm_impl.h (the default)")
    shown.add_argument("--include-dir", action="store_true",
                       help="print the folder that holds it, for cc -I")
    i.set_defaults(func=cmd_impl)

    b = sub.add_parser("bench", help="benchmarks: native runtime (default) or the models")
    b.add_argument("--models", action="store_true", help="time the model explorer instead")
    b.add_argument("--mutants", action="store_true",
                   help="per mutant: fuzzing time to first detection and shrunk size "
                        "(with --models: both, one after the other)")
    b.add_argument("--quick", action="store_true", help="fewer repetitions, shorter campaigns")
    b.add_argument("--json", action="store_true",
                   help="the figures as JSON on stdout (the tables go to stderr)")
    b.add_argument("--backend", choices=("native", "go"), default="native",
                   help="go: gc and gccgo beside the native runtime, and Go fuzz programs/minute")
    b.add_argument("--impl", action="append", default=[], metavar="FILE",
                   help="your C primitives (.c/.cc/.so): Go programs on the built-in ones and "
                        "on yours, iterations/s and their ratio (e.g. "
                        "examples/impls/builtin_mutex.c: the cost of the indirection)")
    b.set_defaults(func=cmd_bench)
    return ap


def _backend_options(p, replay: bool = False) -> None:
    recorded = "; default: the one the file records" if replay else ""
    p.add_argument("--backend", metavar="SPEC",
                   help="the implementation under test: native, pythreads, go (gc), gccgo, "
                        "go-race (gc -race), or module:Class "
                        f"(default native, or pythreads with a Python --impl{recorded})")
    p.add_argument("--impl", action="append", default=[], metavar="FILE.c|FILE.so|[ROLE=]MODULE:CLASS",
                   help="your own primitives (mutex, rwmutex, channel, once, waitgroup) in place "
                        "of the built-in ones: C sources or a library (see `stressmm impl "
                        "--header`) on the native runtime, or a Python class on pythreads; "
                        "repeat for several files or roles")


def _number(parse, ok, what):
    """An argparse type: `parse` the text, and accept it when `ok(value)`. Digits may be
    grouped with `,` or `_` (1,000,000)."""
    def convert(text: str):
        try:
            value = parse(text.replace("_", "").replace(",", ""))
        except (ValueError, ArithmeticError):
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return convert


def _integer(text: str) -> Optional[int]:
    """An integer written plainly or in scientific notation: "1000", "1e6", "2.5e3".

        >>> _integer("1e6"), _integer("2.5e3"), _integer("1.5")
        (1000000, 2500, None)
    """
    from decimal import Decimal, InvalidOperation

    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value() or abs(value) > 10 ** 18:
        return None
    return int(value)


def _positive(unit: str):
    return _number(float, lambda v: 0 < v < float("inf"), f"a positive number of {unit}")


_positive_int = _number(_integer, lambda v: v >= 1, "a positive integer")
_nonneg_int = _number(_integer, lambda v: v >= 0, "a non-negative integer")
_positive_seconds = _positive("seconds")
_positive_minutes = _positive("minutes")
_batch = _number(_integer, lambda v: 1 <= v <= MAX_BATCH, f"an integer in 1..{MAX_BATCH}")
_delay = _number(_integer, lambda v: 0 <= v <= MAX_DELAY, f"an integer in 0..{MAX_DELAY}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    from .models import StateLimitError, UnknownModelError
    from .outcome import PatternError
    from .program import ProgramError
    from .runtime import RuntimeUsageError
    from .syntax import LitmusSyntaxError

    from .interrupt import exit_status, signal_name, sigterm_raises

    try:
        with sigterm_raises():
            status = args.func(args)
            sys.stdout.flush()   # a closed pipe shows here, not at exit
            return status
    except BrokenPipeError:  # `stressmm check | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except LitmusSyntaxError as e:
        return _die(e.excerpt())
    except (UsageError, ProgramError, PatternError, RuntimeUsageError, StateLimitError) as e:
        return _die(str(e))
    except UnknownModelError as e:
        return _die(e.args[0] if e.args else str(e))
    except (OSError, UnicodeDecodeError) as e:
        return _die(f"{getattr(e, 'filename', '') or ''}: {e}".lstrip(": "))
    except KeyboardInterrupt as e:
        print(f"stressmm: interrupted ({signal_name(e)})", file=sys.stderr)
        return exit_status(e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
