"""What the axiomatic models' explainers share (`go_explain.py` for go, `build.py` for c11):
why an outcome is forbidden, told as the rule each candidate execution giving it breaks with a
witness cycle, and the sequentially consistent witness of programs of seq_cst atomics.

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

__all__ = ["WHY_BUDGET", "SC_RULE", "forbidden_text", "sc_witness", "all_seq_cst"]

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
