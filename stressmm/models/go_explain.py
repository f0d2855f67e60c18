"""The explainer of the `go` model: an allowed outcome's execution step by step (`describe`),
and why an outcome is forbidden (`why_forbidden`): the rule of `go.py` each candidate execution
giving it breaks, with a witness cycle.

The rules come from the model object (`go.GoModel`): `relations`, `axioms`, `sw_rules`,
`rule_text`, `edge_label`, `final_value`, `with_reads_from` and `races_of`.
"""
from __future__ import annotations

import itertools

from ..outcome import Outcome
from ..program import Program
from .base import matcher
from .explain import SC_RULE, WHY_BUDGET, forbidden_text, sc_witness
from .explorer import Budget
from .go_build import Execution, GoEvent, Race, holds, outcomes_of, resolve
from .graph import Relation, shortest_path, show_cycle

__all__ = ["describe", "why_forbidden"]


def _broken_rules(x: Execution, rules, match, budget: Budget) -> list:
    """For candidate executions of `x` that give a matching outcome when the plain reads may
    read any write of their location: the first axiom each breaks and its witness. Each
    candidate spends one unit of `budget` (shared by the caller); none is left: stop."""
    r0 = rules.relations(x)
    hb = r0["hb"]
    reads = x.plain_reads()
    found = []
    for combo in itertools.product(*[x.writes(rd.loc) for rd in reads]):
        if budget.left <= 0:
            break
        budget.spend()
        choice = dict(zip(reads, combo))
        y = x.with_rf(choice)
        value_of = resolve(y, choice)
        if value_of is None or not holds(value_of, x.state.cons):   # gives no outcome
            continue
        # Outcomes of this candidate when the final value may be any write's.
        finals = [o for o in _all_finals(y, value_of) if match(o)]
        if not finals:
            continue
        rel = rules.with_reads_from(r0, y)
        for name, check, _ in rules.axioms:
            cycle = check(y, rel)
            if cycle is not None:
                found.append(_witness(rules, rel, value_of, name, cycle))
                break
        else:
            allowed_here = set(outcomes_of(y, value_of, hb))
            for o in finals:
                if o not in allowed_here:
                    name, text = rules.final_value
                    found.append((f"{name}: {text}", _final_witness(y, value_of, hb, o)))
                    break
    return found


def _all_finals(x: Execution, value_of) -> list:
    if x.flag is not None:
        return [Outcome.flagged(x.flag)]
    everything = Relation()
    return outcomes_of(x, value_of, everything)


def _final_witness(x, value_of, hb, o) -> str:
    """A write giving a final value of `o` and a write of its location it happens before:
    `W x=1 -hb-> W x=2, and x ends 1`."""
    for loc in x.compiled.plains:
        want = o.memory(loc)
        for w in x.writes(loc):
            if value_of(w.expr) != want:
                continue
            for w2 in x.writes(loc):
                if w2 != w and (w, w2) in hb:
                    a, b = _valued(w, value_of), _valued(w2, value_of)
                    return f"{a.short()} -hb-> {b.short()}, and {loc} ends {want}"
    return "a final value is that of a write another write of its location happens after"


def _valued(e: GoEvent, value_of) -> GoEvent:
    if e.expr is None:
        return e
    return GoEvent(e.id, e.kind, e.loc, e.expr, e.extra, e.deps, e.op, e.op_index, e.is_await,
               value_of(e.expr) if value_of is not None else None)


def _edge_label(rules, rel: dict, a, b) -> str:
    for name in ("rf", "data", "ctrl") + rules.sw_rules + ("po",):
        if (a, b) in rel[name]:
            return rules.edge_label[name]
    if (a, b) in rel["hb"]:
        return "hb"
    return "fr"


def _expand_hb(rel: dict, cycle: list) -> list:
    """Replace each hb edge of `cycle` by a shortest path of po and sw edges."""
    base = rel["po"] | rel["sw"]
    out = [cycle[0]]
    for a, b in zip(cycle, cycle[1:]):
        if (a, b) in rel["hb"] and (a, b) not in base:
            path = shortest_path(base.successors(), a, b)
            out.extend(path[1:] if path else [b])
        else:
            out.append(b)
    return out


def _witness(rules, rel, value_of, rule, cycle) -> tuple:
    text = dict((n, t) for n, _, t in rules.axioms)[rule]
    cycle = _expand_hb(rel, cycle)
    shown = [_valued(e, value_of) for e in cycle]
    by_id = {e.id: e for e in cycle}
    body = show_cycle(shown, lambda a, b: _edge_label(rules, rel, by_id[a.id], by_id[b.id]))
    return (f"{rule}: {text}", body)


def describe(x: Execution, rules, value_of) -> list:
    """The steps of an explanation: each goroutine's events with what its reads observed,
    then the synchronized-before edges and the races of the execution."""
    rel = rules.relations(x)
    rf_of = {r: w for w, r in x.rf}
    steps = []
    for e in x.events:
        if e.is_init:
            continue
        line = f"P{e.thread}: {e.text}"
        v = _valued(e, value_of)
        if e.kind == "R":
            w = _valued(rf_of[e], value_of)
            spin = "  (spins forever)" if e.extra == "spin" else ""
            line += f"  reads {v.value} from {w}{spin}"
        elif e.kind in ("AR", "RMW", "MR"):
            src = x.ev(e.extra[0])
            seen = value_of(e.extra[1] if e.kind == "RMW" else e.expr)
            origin = (src if src is not None
                      else f"the initial value {e.loc} = {x.compiled.init[e.loc]}")
            line += f"  reads {seen} from {origin}"
        elif e.kind == "RECV":
            line += ("  gets 0, ok=0 (the channel is closed)" if e.extra[0] == "closed"
                     else f"  receives {v.value} from {x.ev(e.extra[1])}")
        elif e.kind == "ONCE":
            line += "  (first call: runs the body)" if e.extra == "run" else "  (returns: body ran)"
        elif e.kind in ("W", "AW", "MW", "SEND"):
            line += f"  writes {v.value}" if e.kind != "SEND" else f"  sends {v.value}"
        steps.append(line)
    for obj in x.compiled.objects:
        order = x.seq(obj)
        if len({e.thread for e in order}) > 1:       # a total order several goroutines share
            steps.append(f"order of {obj}: " + ", ".join(
                str(e) for e in order))
    for name in rules.sw_rules:
        for a, b in sorted(rel[name], key=lambda p: (p[0].id, p[1].id)):
            steps.append(f"synchronized before: {a} -> {b}  ({rules.rule_text[name]})")
    for a, b in rules.races_of(x, rel["hb"]):
        steps.append(f"data race: {Race(*sorted((a.access(), b.access())))}")
    if x.flag is not None:
        steps.append(f"the run ends: {x.flag}")
    return steps



def why_forbidden(rules, program: Program, pattern, execs: list) -> str:
    """Why no execution of `execs` (every candidate execution of `program`, from
    `go_build.executions`) ends in an outcome matching `pattern`, a forbidden one: the rule
    each candidate execution with those values breaks, with a witness cycle."""
    match = matcher(pattern, program)
    broken: dict = {}
    budget = Budget(WHY_BUDGET, f"why {pattern} is forbidden")
    for x in execs:
        for rule, witness in _broken_rules(x, rules, match, budget):
            broken.setdefault(rule, witness)
    if not broken:
        witness = sc_witness(program, match)
        if witness is not None:
            broken[SC_RULE] = witness
    return forbidden_text(program, pattern, "go", broken, (
        "no total order of the synchronizing operations (atomics are sequentially consistent; "
        "channel, mutex, once and waitgroup operations block as in Go) and no choice of writes "
        "for the plain reads gives those values"))
