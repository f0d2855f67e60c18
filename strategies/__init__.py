"""Hypothesis strategies for stressmm: random litmus programs and run schedules.

Installed as `stressmm.strategies`::

    from stressmm import strategies as mst

    @given(mst.programs(threads=2, ops=(1, 3), orders=["seq_cst"]), mst.schedules(threads=2))
    def test_something(program, schedule):
        ...

- `programs`: random straight-line programs of loads, stores, rmws, fences (and, with `sync`,
  Go primitives), shrinking to few threads, few ops, seq_cst, value 1.
- `cycles`: programs built from critical cycles (SB, MP, LB, 2+2W, S, R and longer ones, with
  fences and memory orders), each with the `exists` condition that closes its cycle: the shapes
  that expose ordering and fence bugs, reached far more often than by uniform draws.
- `go_programs`: Go-style programs of handoffs through channels, mutexes, once, waitgroups and
  seq_cst atomics, race-free or (sometimes) racy, for checking against the `go` model.
- `go_op_programs`: Go-style programs drawn op by op over a few shared objects (several
  values on one channel, many sections on one lock, Add/Done/Wait and Once.Do from every
  thread, closes racing with receives), for the clauses of docs/contracts.md.
- `schedules`: start delays, layout, batch and seed of a run, shrinking to no delays.
"""
from .cycles import cycles
from .go import GO_ACCESSES, GO_CONTENTIONS, GO_MECHANISMS, go_programs
from .go_ops import GO_ITEMS, go_op_programs
from .programs import (
    LOCATION_NAMES, MEMORY_KINDS, ORDERS_STRONGEST_FIRST, SYNC_PRIMITIVES, programs,
    small_programs,
)
from .schedules import schedules

__all__ = ["programs", "small_programs", "cycles", "go_programs", "schedules", "MEMORY_KINDS",
           "SYNC_PRIMITIVES", "ORDERS_STRONGEST_FIRST", "LOCATION_NAMES", "GO_MECHANISMS",
           "GO_ACCESSES", "GO_CONTENTIONS", "go_op_programs", "GO_ITEMS"]
