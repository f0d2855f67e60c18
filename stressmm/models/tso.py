"""x86-TSO: per-thread FIFO store buffers in front of one shared memory.

The abstract machine of Sewell, Sarkar, Owens, Zappa Nardelli and Myreen, "x86-TSO: A Rigorous
and Usable Programmer's Model for x86 Multiprocessors", CACM 53(7), 2010 (its x86-TSO abstract
machine: store buffers, a global lock for locked instructions), applied to the code the native
runtime runs on x86:

- relaxed / acquire / release / plain loads and stores are plain `mov`s;
- a seq_cst store is an `xchg`, a locked instruction;
- every read-modify-write is `lock`-prefixed;
- `fence(seq_cst)` is `mfence`; weaker fences emit no instruction;
- every Go primitive op (lock, unlock, channel ops, once, waitgroup) is a full barrier and
  atomic (its implementation uses locked instructions).

    >>> from stressmm.program import Program, Thread, Var, Store, Load
    >>> from stressmm.outcome import Pattern
    >>> sb = Program("SB", (Var("x"), Var("y")), (
    ...     Thread((Store("x", 1), Load("r0", "y"))),
    ...     Thread((Store("y", 1), Load("r1", "x")))))
    >>> TSO.allowed(sb).allows(Pattern.parse("P0:r0=0 P1:r1=0"))
    True

A run ends only when every thread is done and every buffer is empty. The threads, registers
and Go primitives are the shared machine's (`machine.py`).
"""
from __future__ import annotations

from typing import Optional

from ..program import Order
from .base import OperationalModel

__all__ = ["TsoMemory", "TSO"]


class TsoMemory:
    """Per-thread FIFO store buffers; see the module docstring for the rules and their source.

    The memory system's state is `(buffers, masks)`: `buffers[t]` is thread t's buffer, a
    tuple of (location, value) pairs oldest first, and `masks[t]` the bit mask of the
    locations in it (so "is the buffer empty" and "what is pending" are one lookup).
    """

    def initial_buffers(self, threads: int) -> tuple:
        return ((),) * threads, (0,) * threads

    # Rule (read): a thread reads the newest store to the location in its own buffer if there
    # is one ("read-own-write-early"), else memory.
    def load(self, mem: tuple, bufs: tuple, t: int, loc: int) -> int:
        if bufs[1][t] >> loc & 1:
            for l, v in reversed(bufs[0][t]):
                if l == loc:
                    return v
        return mem[loc]

    # Rule (write): a plain store (a mov) goes into the thread's own buffer, at any time.
    # A seq_cst store is an xchg: a locked instruction, so it waits for an empty buffer and
    # writes memory directly.
    def store(self, mem: tuple, bufs: tuple, t: int, loc: int, value: int,
              order: Optional[Order]) -> Optional[tuple]:
        buffers, masks = bufs
        if order is Order.SEQ_CST:
            if masks[t]:
                return None
            return mem[:loc] + (value,) + mem[loc + 1:], bufs
        return mem, (buffers[:t] + (buffers[t] + ((loc, value),),) + buffers[t + 1:],
                     masks[:t] + (masks[t] | 1 << loc,) + masks[t + 1:])

    # Rule (locked instruction): an RMW or a Go primitive op runs only with an empty buffer
    # and acts on memory atomically.
    def barrier_ready(self, bufs: tuple, t: int) -> bool:
        return not bufs[1][t]

    # Rule (mfence): fence(seq_cst) passes only with an empty buffer; other fences are no-ops.
    def fence_ready(self, bufs: tuple, t: int, order: Order) -> bool:
        return order is not Order.SEQ_CST or not bufs[1][t]

    # Rule (flush): at any time, the oldest store of any buffer may be written to memory.
    def silent_steps(self, mem: tuple, bufs: tuple) -> list:
        buffers, masks = bufs
        out = []
        for t, mask in enumerate(masks):
            if mask:
                out.append(_flush(mem, buffers, masks, t))
        return out

    def is_empty(self, bufs: tuple) -> bool:
        return not any(bufs[1])

    # Reduction facts (not rules, see Machine): a buffered store touches only its own thread's
    # buffer, where appending commutes with flushing the oldest entry, so it is always local.
    # A flush to a location no other thread may still touch or has pending is local: the
    # flushing thread itself sees the same value before and after it.
    def local_store(self, order: Optional[Order]) -> bool:
        return order is not Order.SEQ_CST

    def pending_masks(self, bufs: tuple) -> tuple:
        return bufs[1]

    def private_silent_step(self, mem: tuple, bufs: tuple, shared: int) -> Optional[tuple]:
        buffers, masks = bufs
        for t, buf in enumerate(buffers):
            if buf and not shared >> buf[0][0] & 1:
                return _flush(mem, buffers, masks, t)
        return None

    def describe_load(self, bufs: tuple, t: int, loc: int) -> str:
        if bufs[1][t] >> loc & 1:
            return f" from P{t}'s own store buffer"
        return " from memory"

    def describe_store(self, before: tuple, after: tuple, t: int) -> str:
        if len(after[0][t]) > len(before[0][t]):
            return f"  (into P{t}'s store buffer)"
        return "  (xchg: straight to memory)"

    def describe_silent(self, label, loc_names: tuple) -> str:
        _, t, loc, value = label
        return f"P{t} flushes {loc_names[loc]}={value} to memory"


def _flush(mem: tuple, buffers: tuple, masks: tuple, t: int) -> tuple:
    """Thread t's oldest buffered store written to memory: `(label, mem, bufs)`."""
    buf = buffers[t]
    loc, value = buf[0]
    rest = buf[1:]
    mask = 0
    for l, _ in rest:
        mask |= 1 << l
    return (("flush", t, loc, value), mem[:loc] + (value,) + mem[loc + 1:],
            (buffers[:t] + (rest,) + buffers[t + 1:], masks[:t] + (mask,) + masks[t + 1:]))


TSO = OperationalModel(
    "tso",
    "x86-TSO: FIFO store buffers per thread; mfence, xchg, locked RMWs and Go primitives drain",
    TsoMemory())
