"""What the axiomatic models' explainers share (`go_explain.py` for go; c11's explainer is here):
why an outcome is forbidden, told as the rule each candidate execution giving it breaks with a
witness cycle, and the sequentially consistent witness of programs of seq_cst atomics; an
execution graph of `build.py` told step by step (`graph_steps`) and the cycle that shows one of
its model's axioms broken (`graph_witness`), the model's rules coming from the model object.

    >>> from stressmm.program import Program, Thread, Var
    >>> p = Program("SB", (Var("x"),), (Thread(()),))
    >>> print(forbidden_text(p, "P0:r0=2", "go", {"no-future-read: a read may not observe a "
    ...       "write it happens before": "W x=1 -po-> R x=1 -rf-> W x=1"}, "never"))
    SB: P0:r0=2 is forbidden by go; every candidate execution giving those values breaks a rule:
      W x=1 -po-> R x=1 -rf-> W x=1 breaks "no-future-read: a read may not observe a write it happens before"
    >>> print(forbidden_text(p, "P0:r0=2", "go", {}, "no choice of writes gives those values"))
    SB: P0:r0=2 is forbidden by go: no choice of writes gives those values
"""
from __future__ import annotations

from typing import Optional

from ..program import Order, Program
from .base import order_cycle
from .graph import show_cycle
from .machine import op_text

__all__ = ["WHY_BUDGET", "SC_RULE", "forbidden_text", "sc_witness", "all_seq_cst",
           "graph_steps", "graph_witness"]

WHY_BUDGET = 20_000
"""Candidate executions a `why_forbidden` examines at most; past it, it explains in general
terms (it runs on every counterexample a campaign reports, so it must stay cheap)."""

SC_RULE = ("atomics-sc: all the atomic operations executed in a program behave as though "
           "executed in some sequentially consistent order")
"""The rule an `sc_witness` shows broken (go.dev/ref/mem, "Atomic Values"; for C11, the
seq_cst operations' total order, RC11 §3 SC)."""


def forbidden_text(program: Program, pattern, model: str, broken: dict, otherwise: str) -> str:
    """Why `pattern` is forbidden by `model`: `broken` maps each rule ("name: the rule in
    words") to a witness cycle of a candidate execution giving those values that breaks it
    (every such candidate breaks one of them); with none, `otherwise` says why."""
    name = program.name or "the program"
    if not broken:
        return f"{name}: {pattern} is forbidden by {model}: {otherwise}"
    lines = [f"{name}: {pattern} is forbidden by {model}; every candidate execution giving those "
             f"values breaks a rule:"]
    lines.extend(f"  {witness} breaks \"{rule}\"" for rule, witness in broken.items())
    return "\n".join(lines)


def sc_witness(program: Program, match, limit: int = WHY_BUDGET) -> Optional[str]:
    """For a program of atomic loads and stores of constants only, every atomic counted as
    seq_cst (as go does; for C11, see `all_seq_cst`): the shortest cycle of po | rf | co | fr found among
    the candidate executions (any rf, any co) giving a matching outcome, each of which has
    such a cycle. None when the program has other ops, the candidates are too many, or some
    candidate is acyclic (then nothing is claimed).

        >>> from stressmm.program import Program, Thread, Var, Store, Load, Order
        >>> from stressmm.models.base import matcher
        >>> sb = Program("SB", (Var("x", True), Var("y", True)), (
        ...     Thread((Store("x", 1, Order.RELAXED), Load("r0", "y", Order.RELAXED))),
        ...     Thread((Store("y", 1, Order.RELAXED), Load("r1", "x", Order.RELAXED)))))
        >>> sc_witness(sb, matcher("P0:r0=0 P1:r1=0"))
        'W x=1 -po-> R y=0 -fr-> W y=1 -po-> R x=0 -fr-> W x=1'
    """
    if any(not v.atomic for v in program.vars):
        return None
    found = order_cycle(program, match, lambda order: False, limit)   # every atomic is seq_cst
    return None if found is None else found[1]


def all_seq_cst(program: Program) -> bool:
    """Whether every variable is atomic and every op seq_cst, so that `sc_witness` applies to
    C11 too (its seq_cst operations are sequentially consistent, RC11 §3 SC).

        >>> from stressmm.program import Program, Thread, Var, Store
        >>> store = Store("x", 1, Order.SEQ_CST)
        >>> all_seq_cst(Program("p", (Var("x", True),), (Thread((store,)),)))
        True
    """
    return (all(v.atomic for v in program.vars)
            and all(getattr(op, "order", None) is Order.SEQ_CST for _, op in program.ops()))


def graph_steps(rules, g, r: dict, locs, races, flag: str) -> list:
    """The steps of an explanation of execution graph `g` (a `build.Graph`; `r` its relations
    from `rules.relations`): each thread's events with what its reads read and their modes,
    the modification order of each location of `locs` written more than once, the edges of
    the model's synchronization relations (`rules.sync_relations`: (name, words) pairs), each
    of `races`, and the flag the run ends with.

        >>> from stressmm.program import Program, Thread, Var, Store, Load, Order
        >>> from stressmm.models.rc11 import RC11
        >>> mp = Program("MP", (Var("x"), Var("y", True)), (
        ...     Thread((Store("x", 1), Store("y", 1, Order.RELEASE))),
        ...     Thread((Load("r0", "y", Order.ACQUIRE), Load("r1", "x")))))
        >>> print("\\n".join(RC11.explain(mp, "P1:r0=1 P1:r1=1").steps))
        P0: x = 1  writes 1  [na]
        P0: atomic.Store(&y, 1, release)  writes 1  [rel]
        P1: r0 = atomic.Load(&y, acquire)  reads 1 from P0 `atomic.Store(&y, 1, release)`  [acq]
        P1: r1 = x  reads 1 from P0 `x = 1`  [na]
        modification order of x: the initial value x = 0, P0 `x = 1`
        modification order of y: the initial value y = 0, P0 `atomic.Store(&y, 1, release)`
        synchronizes with: P0 `atomic.Store(&y, 1, release)` -> P1 `r0 = atomic.Load(&y, acquire)`
    """
    src = {b: a for a, b in g.rf.pairs()}
    steps = []
    for e in g.events:
        if e.thread < 0:
            continue
        line = f"P{e.thread}: {op_text(e.op)}"
        if e.kind == "R":
            line += f"  reads {e.value} from {g.events[src[e.index]]}  [{e.mode}]"
        elif e.kind == "W":
            line += f"  writes {e.value}  [{e.mode}]"
        else:
            line += f"  [{e.mode}]"
        steps.append(line)
    for loc in locs:
        writes = [e for e in g.events if e.kind == "W" and e.loc == loc]
        if len(writes) > 1:            # in mo: by how many writes come before each
            order = sorted(writes, key=lambda e: sum(g.mo.rows[w.index] >> e.index & 1
                                                     for w in writes))
            steps.append(f"modification order of {loc}: " + ", ".join(map(str, order)))
    for name, words in rules.sync_relations:
        for a, b in r[name].pairs():
            steps.append(f"{words}: {g.events[a]} -> {g.events[b]}")
    steps.extend(f"data race: {race}" for race in races)
    if flag:
        steps.append(f"the run ends: {flag} (a spin loop never sees a value that ends it)")
    return steps


def graph_witness(rules, rule: str, g, r: dict) -> str:
    """A cycle showing why axiom `rule` of `rules.axioms` fails on execution graph `g` (`r`
    its relations), as text: the axiom's witness function gives the cycle (event numbers),
    and each edge is named by the first of `rules.edge_names` that holds it.

        >>> from stressmm.syntax import parse
        >>> from stressmm.models.rc11 import RC11
        >>> [corr] = parse('''
        ... litmus CoRR
        ... var x atomic int
        ... P0:
        ...   atomic.Store(&x, 1, relaxed)
        ... P1:
        ...   r0 = atomic.Load(&x, relaxed)
        ...   r1 = atomic.Load(&x, relaxed)
        ... ''')
        >>> print(RC11.why_forbidden(corr, "P1:r0=1 P1:r1=0"))  # doctest: +NORMALIZE_WHITESPACE
        CoRR: P1:r0=1 P1:r1=0 is forbidden by c11; every candidate execution giving those values breaks a rule:
          Rrlx x=1 -sb-> Rrlx x=0 -rb-> Wrlx x=1 -rf-> Rrlx x=1 breaks "coherence: hb ; eco? is irreflexive (§3, Coherence)"
    """
    witness = next(w for name, _, _, w in rules.axioms if name == rule)
    cycle = witness(g, r)
    return show_cycle([g.events[i] for i in cycle], lambda a, b: next(
        (name for name in rules.edge_names if name in r and r[name].rows[a.index] >> b.index & 1),
        "?"))
