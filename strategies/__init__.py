"""Hypothesis strategies for stressmm: random litmus programs and run schedules.

Installed as `stressmm.strategies`::

    from stressmm import strategies as mst

    @given(mst.programs(threads=2, ops=(1, 3), orders=["seq_cst"]), mst.schedules(threads=2))
    def test_something(program, schedule):
        ...

Both shrink towards the most damning small example: few threads, few ops, seq_cst, value 1,
no schedule delays (see `programs` and `schedules`).
"""
from .programs import (
    LOCATION_NAMES, MEMORY_KINDS, ORDERS_STRONGEST_FIRST, SYNC_PRIMITIVES, programs,
    small_programs,
)
from .schedules import schedules

__all__ = ["programs", "small_programs", "schedules", "MEMORY_KINDS", "SYNC_PRIMITIVES",
           "ORDERS_STRONGEST_FIRST", "LOCATION_NAMES"]
from .cycles import cycles

__all__ += ["cycles"]
from .go import GO_ACCESSES, GO_MECHANISMS, go_programs

__all__ += ["go_programs", "GO_MECHANISMS", "GO_ACCESSES"]
