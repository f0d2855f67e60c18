"""The results of a command as one JSON-ready document (see docs/json.md): what `--json`
prints, and what the HTML report and the JUnit file are rendered from, so all three tell the
same facts.

    >>> from stressmm.syntax import find_scenario, parse_file
    >>> from stressmm.check import check
    >>> [sb] = parse_file(find_scenario("SB"))
    >>> test = check_test(check(sb, ["sc", "tso"]), "SB.litmus")
    >>> [(o["shown"], o["verdicts"]) for o in test["outcomes"] if o["exists"]]
    [('P0:r0=0 P1:r1=0', {'sc': 'forbidden', 'tso': 'allowed'})]
    >>> document("check", [test])["version"]
    1
"""
from __future__ import annotations

from typing import Iterable, Optional

from ..models.base import listed
from ..check import condition_holds_under
from ..outcome import Outcome, evaluate

__all__ = ["VERSION", "ALLOWED", "FORBIDDEN", "NOT_JUDGED", "document", "check_test",
           "run_test", "replay_test", "campaign", "model_results", "explanations"]

VERSION = 1
"""The version of the document's layout: raised whenever a field changes meaning or goes away
(new fields may appear within a version)."""

ALLOWED, FORBIDDEN, NOT_JUDGED = "allowed", "forbidden", "not judged"


def document(command: str, tests: Iterable[dict] = (), campaign: Optional[dict] = None,
             **summary) -> dict:
    """The whole document of one command: version, command, tool versions, machine facts, the
    tests (`check_test`, `run_test`, `replay_test`), the campaign (fuzz) and the figures in
    `summary` (e.g. failed_expectations=0)."""
    from ..fuzz import versions
    from ..runtime import machine_facts

    doc = {"version": VERSION, "command": command, "versions": versions(),
           "machine": machine_facts(), "tests": list(tests)}
    if campaign is not None:
        doc["campaign"] = campaign
    doc.update(summary)
    return doc


# ---------------------------------------------------------------- pieces


def _program_text(program) -> str:
    from ..syntax import print_program

    return print_program(program)


def _races(races) -> list:
    """Races as dicts: the text, and both ops (thread, op index, source line, op text) when the
    model says them."""
    out = []
    for race in races:
        ops = []
        for access in (getattr(race, "first", None), getattr(race, "second", None)):
            if access is not None and hasattr(access, "thread"):
                ops.append({"thread": access.thread, "index": getattr(access, "index", None),
                            "line": getattr(access, "line", None),
                            "op": getattr(access, "text", str(access))})
        out.append({"text": str(race), "ops": ops})
    return out


def model_results(program, names: Iterable[str]) -> dict:
    """model name -> (ModelResult or None, error text): each model's verdict on `program`.
    A model that cannot judge the program (too many states, constructs it does not cover) gives
    None and says why; the others still judge."""
    from ..models import get_model

    out = {}
    for name in names:
        try:
            out[name] = (get_model(name).allowed(program), "")
        except Exception as e:  # one model's limit must not hide the other verdicts
            out[name] = (None, f"{type(e).__name__}: {e}")
    return out


def _verdict(outcome: Outcome, result) -> str:
    if result is None or "timeout" in outcome.flags:
        return NOT_JUDGED  # a stuck run says nothing about the program's memory
    return ALLOWED if outcome in result.outcomes else FORBIDDEN


def _outcome_row(outcome: Outcome, program, results: dict, shown) -> dict:
    from ..report import _outcome_cell

    return {"outcome": outcome.to_json(), "text": str(outcome),
            "shown": _outcome_cell(outcome, shown),
            "exists": evaluate(program.condition, outcome) if program.condition else None,
            "verdicts": {m: _verdict(outcome, r) for m, (r, _) in results.items()}}


def explanations(outcome: Outcome, program, results: dict, checked: Optional[str] = None,
                 observed: bool = False) -> list:
    """What a reader of an outcome's row needs explained (`explain_outcome`, the explainer of
    `stressmm check --explain`): for an observed outcome the judging model `checked` forbids,
    why it forbids it; for a weak outcome (one sc forbids and a model allows), an execution of
    that model ending in it (`checked`'s when it allows it, else the first model's that can
    show one). `results` maps each model to (ModelResult or None, error).

        >>> from stressmm.syntax import find_scenario, parse_file
        >>> [sb] = parse_file(find_scenario("SB"))
        >>> weak = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})
        >>> [(e["model"], e["allowed"]) for e in explanations(
        ...     weak, sb, model_results(sb, ["sc", "tso"]), "sc", observed=True)]
        [('sc', False), ('tso', True)]
    """
    from ..check import explain_outcome
    from ..models import StateLimitError

    verdicts = {m: _verdict(outcome, r) for m, (r, _) in results.items()}
    asked = []
    if observed and checked is not None and verdicts.get(checked) == FORBIDDEN:
        asked.append([checked])
    if verdicts.get("sc") == FORBIDDEN:
        allowing = [m for m, v in verdicts.items() if v == ALLOWED]
        asked.append(sorted(allowing, key=lambda m: m != checked))
    out = []
    for models in asked:
        for m in models:
            try:
                said = explain_outcome(program, outcome, m)
            except StateLimitError as e:
                out.append({"model": m, "allowed": None, "text": f"{m} gave up explaining: {e}"})
                break
            # A model that allows the outcome without an execution ending in it (a C11 data
            # race: undefined behaviour) has no witness to show: the next model may.
            if said.allowed or verdicts[m] == FORBIDDEN:
                out.append({"model": m, "allowed": said.allowed, "text": said.text})
                break
    return out


def _models_summary(program, results: dict) -> dict:
    out = {}
    for m, (r, error) in results.items():
        if r is None:
            out[m] = {"error": error, "outcomes": [], "unlisted": "", "races": [], "race_ops": [],
                      "exists": None, "condition_holds": None}
            continue
        every, unlisted = listed(r.outcomes)
        out[m] = {"outcomes": [o.to_json() for o in every], "unlisted": unlisted,
                  "states": r.states,
                  "elapsed": r.elapsed, "races": [str(x) for x in r.races],
                  "race_ops": _races(r.races),
                  "exists": r.allows(program.condition) if program.condition else None,
                  "condition_holds": (condition_holds_under(program, r)
                                      if program.condition else None),
                  "error": ""}
    return out


def _head(program, source: str) -> dict:
    return {"name": program.name, "file": source, "description": program.description or "",
            "program": _program_text(program), "threads": len(program.threads),
            "ops": program.size,
            "quantifier": program.condition.quantifier if program.condition else None}


# ---------------------------------------------------------------- tests


def check_test(report, source: str = "", explain: bool = False) -> dict:
    """One test of `stressmm check`: the program, every model's verdict on every outcome some
    model allows, the races and the expectations; with `explain`, each weak outcome's witness
    execution (`explanations`)."""
    from ..report import shown_locations

    p = report.program
    results = {m: (r, "") for m, r in report.results.items()}
    every = sorted(set().union(*(listed(r.outcomes)[0] for r in report.results.values())))
    shown = shown_locations(p)
    rows = [_outcome_row(o, p, results, shown) for o in every]
    if explain:
        for o, row in zip(every, rows):
            row["explanations"] = explanations(o, p, results)
    return dict(_head(p, source), models=_models_summary(p, results),
                outcomes=rows,
                expectations=[{"model": e.expect.model, "verdict": e.expect.verdict,
                               "holds": e.holds, "why": e.why} for e in report.expectations])


def run_test(hist, verdicts: dict, checked: str, source: str = "",
             models: Optional[Iterable[str]] = None, explain: bool = False) -> dict:
    """One test of `stressmm run` (or a replay): the histogram of observed outcomes with each
    model's verdict beside each, and the outcomes some model allows that were never observed
    here. `verdicts` (model -> allowed outcomes) are the ones the command judged with; the
    other models of `models` (default: all) are asked too. With `explain`, each row says why
    `checked` forbids an observed outcome, and shows a witness of a weak one (`explanations`)."""
    from ..models import MODELS
    from ..report import shown_locations

    p = hist.program
    names = list(dict.fromkeys(list(verdicts) + list(models if models is not None else MODELS)))
    results = model_results(p, names)
    shown = shown_locations(p)
    total = hist.total
    rows = []
    for o, n in sorted(hist.counts.items(), key=lambda kv: (-kv[1], kv[0])):
        row = _outcome_row(o, p, results, shown)
        row.update(count=n, percent=100.0 * n / total if total else 0.0,
                   allowed={m: None if "timeout" in o.flags else o in verdicts[m]
                            for m in verdicts})
        if explain:
            row["explanations"] = explanations(o, p, results, checked, observed=True)
        rows.append(row)
    never = []
    allowed_somewhere = set().union(*(listed(r.outcomes)[0] for r, _ in results.values()
                                      if r is not None))
    for o in sorted(allowed_somewhere - set(hist.counts)):
        row = _outcome_row(o, p, results, shown)
        row["allowed_by"] = [m for m, v in row["verdicts"].items() if v == ALLOWED]
        if explain:
            row["explanations"] = explanations(o, p, results, checked)
        never.append(row)
    forbidden = sum(hist.outside(verdicts[checked]).values()) if checked in verdicts else 0
    info = {k: (list(v) if isinstance(v, tuple) else v) for k, v in (hist.info or {}).items()}
    return dict(_head(p, source), backend=hist.backend, total=total, elapsed=hist.elapsed,
                rate=hist.rate, info=info, checked_model=checked, outcomes=rows,
                never_seen=never, forbidden=forbidden, models=_models_summary(p, results),
                exists_seen=(hist.count(p.condition) if p.condition else None))


def replay_test(hist, verdicts: dict, checked: str, source: str, meta: dict,
                explain: bool = False) -> dict:
    """A replayed counterexample: `run_test` and what was recorded when it was found."""
    test = run_test(hist, verdicts, checked, source, explain=explain)
    target = Outcome.from_json(meta["outcome"]) if meta.get("outcome") else None
    test["recorded"] = {
        "outcome": target.to_json() if target else None, "text": str(target) if target else None,
        "count": meta.get("count"), "total": meta.get("total"), "mutant": meta.get("mutant"),
        "seen_now": hist.counts.get(target, 0) if target else None}
    return test


# ---------------------------------------------------------------- campaigns


def campaign(res, cfg) -> dict:
    """A fuzzing campaign: its configuration, its figures (programs, runs, runs/s, time) and
    its counterexamples, each with the replay command when it was saved."""
    from ..models import MODELS

    saved = list(res.saved) + [None] * (len(res.counterexamples) - len(res.saved))
    cexs = []
    for cex, path in zip(res.counterexamples, saved):
        judged = model_results(cex.program, list(dict.fromkeys(list(cex.verdicts) + list(MODELS))))
        cexs.append(dict(cex.to_json(), report=cex.report(), saved=path,
                         model_verdicts={m: _verdict(cex.outcome, r) for m, (r, _) in judged.items()},
                         percent=100.0 * cex.count / cex.total if cex.total else 0.0,
                         others_seen=[{"text": str(o), "count": n} for o, n in cex.others],
                         replay=f"stressmm replay {path}" if path else None))
    return {"examples": res.examples, "runs": res.runs, "unstarted": res.unstarted,
            "elapsed": res.elapsed,
            "runs_per_second": res.runs / res.elapsed if res.elapsed > 0 else 0.0,
            "workers": res.workers, "cpus": list(res.cpus),
            "first_detection": res.first_detection,
            "first_detection_programs": res.first_detection_programs,
            "first_detection_runs": res.first_detection_runs,
            "config": {"minutes": cfg.minutes, "examples": cfg.examples, "mutant": cfg.mutant,
                       "model": cfg.model, "seed": cfg.seed, "threads": cfg.threads,
                       "ops": cfg.ops, "iterations": cfg.iterations, "go": cfg.go,
                       "corpus": cfg.corpus},
            "counterexamples": cexs,
            "worker_failures": [dict(f.__dict__) for f in res.failures]}
