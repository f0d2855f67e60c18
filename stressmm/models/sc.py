"""Sequential consistency: every run is an interleaving of whole ops on one shared memory.

Lamport, "How to Make a Multiprocessor Computer That Correctly Executes Multiprocess Programs",
IEEE Trans. Computers, 1979: "the result of any execution is the same as if the operations of
all the processors were executed in some sequential order, and the operations of each
individual processor appear in this sequence in the order specified by its program."

    >>> from stressmm.program import Program, Thread, Var, Store, Load
    >>> sb = Program("SB", (Var("x"), Var("y")), (
    ...     Thread((Store("x", 1), Load("r0", "y"))),
    ...     Thread((Store("y", 1), Load("r1", "x")))))
    >>> sorted(str(o) for o in SC.allowed(sb).outcomes)
    ['P0:r0=0 P1:r1=1 x=1 y=1', 'P0:r0=1 P1:r1=0 x=1 y=1', 'P0:r0=1 P1:r1=1 x=1 y=1']

The threads, registers and Go primitives are the shared machine's (`machine.py`); this module
holds only the memory rules, one method each.
"""
from __future__ import annotations

from typing import Optional

from ..program import Order
from .base import OperationalModel

__all__ = ["ScMemory", "SC"]


class ScMemory:
    """One memory, no buffers: the memory system's own state is None."""

    def initial_buffers(self, threads: int) -> None:
        return None

    # Rule: a load reads the current memory value.
    def load(self, mem: tuple, bufs, t: int, loc: int) -> int:
        return mem[loc]

    # Rule: a store (of any order) writes memory at once.
    def store(self, mem: tuple, bufs, t: int, loc: int, value: int,
              order: Optional[Order]) -> tuple:
        return mem[:loc] + (value,) + mem[loc + 1:], bufs

    # Rule: every op is atomic, so locked ops and fences never wait.
    def barrier_ready(self, bufs, t: int) -> bool:
        return True

    def fence_ready(self, bufs, t: int, order: Order) -> bool:
        return True

    # Reduction facts (not rules, see Machine): a store writes shared memory, which other
    # threads read, so it is not always local; nothing is ever pending.
    def local_store(self, order: Optional[Order]) -> bool:
        return False

    def pending_masks(self, bufs) -> None:
        return None

    def private_silent_step(self, mem: tuple, bufs, shared: int) -> None:
        return None

    # Rule: memory has no steps of its own.
    def silent_steps(self, mem: tuple, bufs) -> list:
        return []

    def is_empty(self, bufs) -> bool:
        return True

    def describe_load(self, bufs, t: int, loc: int) -> str:
        return ""

    def describe_store(self, before, after, t: int) -> str:
        return ""

    def describe_silent(self, label, loc_names: tuple) -> str:  # pragma: no cover - no silent steps
        raise AssertionError(f"sc memory has no silent steps, got {label!r}")


SC = OperationalModel(
    "sc", "sequential consistency: interleavings of whole ops, Go primitives blocking",
    ScMemory())
