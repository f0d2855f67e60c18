"""The operational machine shared by the sc and tso models: threads, registers, Go primitives.

A `Machine` is one program compiled for one *memory system* (the part that differs between
models: how a store reaches memory and what a load sees). It offers the transition system the
explorer searches: `initial`, `successors(state)`, and for terminal states `outcome(state)`::

    >>> from stressmm.program import Program, Thread, Var, Store, Load
    >>> from stressmm.models.sc import ScMemory
    >>> from stressmm.models.explorer import explore
    >>> p = Program("one", (Var("x"),), (Thread((Store("x", 1), Load("r0", "x"))),))
    >>> m = Machine(p, ScMemory())
    >>> [str(m.outcome(s)) for s in explore(m.initial, m.successors).terminals]
    ['P0:r0=1 x=1']

A state is a tuple `(pcs, regs, mem, sync, buffers)`: program counters, per-thread register
values (in the order `program.registers(t)` lists them), memory values (in declaration order),
the state of every primitive, and the memory system's own part (None for sc, store buffers for
tso). A run that panics moves to the single state `PANIC`.

Rules for the Go primitives (one place each, below in `Machine.successors`), after the Go
specification (go.dev/ref/spec: "Send statements", "Receive operator", "Close") and the `sync`
package documentation (pkg.go.dev/sync):

- Mutex: Lock blocks while the mutex is held, by any thread (a mutex has no owner: any thread
  may unlock it); Unlock of an unlocked mutex is a fatal error in Go, reported here as `panic`.
- RWMutex: any number of readers or one writer, and writer preference: "If any goroutine
  calls Lock while the lock is already held by one or more readers, concurrent calls to RLock
  will block until the writer has acquired (and released) the lock" (pkg.go.dev/sync#RWMutex).
  A Lock that finds readers may *announce* itself (a step that moves no pc): from then on new
  RLocks and other Locks block until it has acquired and released the lock. It may also wait
  without announcing, as a runtime without writer preference does (the native runtime), so
  the models allow the outcomes of both (`mutex_steps`). The state counts read locks, not
  readers: a thread that read-locks twice holds two, and its second RLock blocks behind an
  announced writer like any other (the deadlock of recursive read locking).
- Channel of capacity 0: a send and a receive happen together, as one joint step of the two
  threads. Capacity C > 0: a FIFO of at most C values; send blocks while full, receive while
  empty. Receive on a closed, drained channel gives 0 with ok = 0 (ok = 1 otherwise). Send on a
  closed channel and close of a closed channel panic.
- Once: the first caller runs the body; other callers block until the body finished, then skip.
- WaitGroup: Add(d) and Done (Add(-1)) adjust a counter; a negative counter panics; Wait
  blocks until the counter is 0. (Go's "Add concurrent with Wait" misuse check is not modelled.)
- Await(loc, v, until_equal) can step only when the value the thread sees satisfies it: a spin
  loop that has not exited yet changes nothing, so it is modelled as blocking.
- Panic ends the whole run (`Outcome.flagged("panic")`). No step possible while some thread
  is not done is a deadlock (`Outcome.flagged("deadlock")`).

Under tso every primitive op is a full barrier (the memory system's `barrier_ready`), as the
native runtime implements them with locked instructions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Optional, Protocol

from ..outcome import Outcome
from ..syntax import print_op
from ..program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Order,
                       Program, RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Sum, Unlock,
                       WaitGroup, WgAdd, WgDone, WgWait)

__all__ = ["Machine", "MemorySystem", "PANIC", "WriterWaiting", "mutex_steps", "op_text"]

# Instruction codes. Each thread's ops are compiled to a flat tuple of instruction tuples; a
# once.Do becomes ONCE_ENTER (with the pc after its body) + body + ONCE_EXIT.
(LOAD, STORE, RMW, FENCE, AWAIT, LOCK, UNLOCK, RLOCK, RUNLOCK, SEND, RECV, CLOSE,
 ONCE_ENTER, ONCE_EXIT, WG_ADD, WG_WAIT) = range(16)

# Locked ops: they act atomically on memory, so under tso they wait for an empty store buffer.
# Memory accesses and fences: the ops that touch no primitive, see Machine (reduction).
_ACCESS_OPS = frozenset({LOAD, STORE, RMW, FENCE, AWAIT})

_LOCKED_OPS = frozenset({RMW, LOCK, UNLOCK, RLOCK, RUNLOCK, SEND, RECV, CLOSE, ONCE_ENTER,
                          ONCE_EXIT, WG_ADD, WG_WAIT})

PANIC = ("panic",)
"""The state of a run that panicked: terminal, with outcome `panic`."""

# Once states.
_ONCE_NEW, _ONCE_RUNNING, _ONCE_DONE = 0, 1, 2

_MUTEX_KIND = {LOCK: "lock", UNLOCK: "unlock", RLOCK: "rlock", RUNLOCK: "runlock"}

_PANIC_REASON = {
    SEND: "send on closed channel",
    CLOSE: "close of closed channel",
    UNLOCK: "unlock of unlocked mutex",
    RUNLOCK: "RUnlock of a RWMutex that is not read-locked",
    WG_ADD: "negative WaitGroup counter",
}


@dataclass(frozen=True)
class WriterWaiting:
    """The state of an RWMutex held by `readers` readers while thread `writer` waits in Lock
    and has announced itself: new RLocks and Locks block until the writer has acquired and
    released the lock (Go's writer preference, see `mutex_steps`)."""

    readers: int
    writer: int


def mutex_steps(kind: str, state, t: int) -> Optional[tuple]:
    """Go's rules for sync.Mutex and sync.RWMutex: the moves of a mutex in `state` when
    thread `t` runs `kind` ("lock", "unlock", "rlock", "runlock"), as `(new_state, returns)`
    pairs (`returns`: the op completes and the thread moves on), `()` when the op blocks, or
    None when it panics. A state is 0 (free), -1 (write-locked), n > 0 (read-locked by n
    readers) or a `WriterWaiting`.

    A Lock that finds readers may either just wait (a runtime without writer preference) or
    announce itself (Go's writer preference), so both runtimes' outcomes are allowed:

    >>> mutex_steps("lock", 2, 1)
    ((WriterWaiting(readers=2, writer=1), False),)
    >>> mutex_steps("rlock", WriterWaiting(2, 1), 0), mutex_steps("runlock", WriterWaiting(1, 1), 0)
    ((), ((WriterWaiting(readers=0, writer=1), True),))
    >>> mutex_steps("lock", WriterWaiting(0, 1), 1), mutex_steps("unlock", 0, 1)
    (((-1, True),), None)
    """
    waiting = isinstance(state, WriterWaiting)
    if kind == "lock":
        if state == 0 or (waiting and state.writer == t and state.readers == 0):
            return ((-1, True),)
        if not waiting and state > 0:
            return ((WriterWaiting(state, t), False),)
        return ()
    if kind == "unlock":
        return ((0, True),) if state == -1 else None
    if kind == "rlock":
        return ((state + 1, True),) if not waiting and state >= 0 else ()
    if kind == "runlock":
        if waiting:
            return ((WriterWaiting(state.readers - 1, state.writer), True),) \
                if state.readers > 0 else None
        return ((state - 1, True),) if state > 0 else None
    raise ValueError(f"mutex_steps: unknown op kind {kind!r}")


class MemorySystem(Protocol):
    """What a model says about memory; `sc.ScMemory` and `tso.TsoMemory` implement it.

    `mem` is the tuple of memory values, `bufs` the memory system's own state (from
    `initial_buffers`), `t` a thread index, `loc` a location index."""

    def initial_buffers(self, threads: int) -> Hashable: ...

    def load(self, mem: tuple, bufs, t: int, loc: int) -> int:
        """The value a load (or await) of `loc` by thread `t` reads."""

    def store(self, mem: tuple, bufs, t: int, loc: int, value: int,
              order: Optional[Order]) -> Optional[tuple]:
        """`(mem, bufs)` after thread `t` stores, or None if the store cannot happen now."""

    def barrier_ready(self, bufs, t: int) -> bool:
        """Whether thread `t` may run a locked op now (an RMW or a Go primitive): these act
        atomically on memory."""

    def fence_ready(self, bufs, t: int, order: Order) -> bool:
        """Whether thread `t` may pass a fence of `order` now."""

    def silent_steps(self, mem: tuple, bufs) -> list:
        """Steps of the memory system itself, as `(label, mem, bufs)`."""

    def local_store(self, order: Optional[Order]) -> bool:
        """Whether a store of `order` is always a local step: always enabled, and commuting
        with every step of other threads and of the memory system (see `Machine`)."""

    def pending_masks(self, bufs) -> Optional[tuple]:
        """Per thread, the bit mask of the locations it has stores pending to (not yet in
        memory); None when nothing is ever pending."""

    def private_silent_step(self, mem: tuple, bufs, shared: int) -> Optional[tuple]:
        """A silent step that is local, as `(label, mem, bufs)`, or None. `shared` is the mask
        of locations that two or more threads may still touch (code or pending stores)."""

    def is_empty(self, bufs) -> bool:
        """Whether nothing is pending (a run ends only then)."""

    def describe_load(self, bufs, t: int, loc: int) -> str:
        """Where a load of `loc` by `t` reads from, for explanations ("" when obvious)."""

    def describe_store(self, before, after, t: int) -> str:
        """How a store by `t` went, from the memory system's part before and after."""

    def describe_silent(self, label, loc_names: tuple) -> str:
        """A readable line for a silent step."""


def _put(tup: tuple, i: int, value) -> tuple:
    return tup[:i] + (value,) + tup[i + 1:]


class Machine:
    """`program` compiled for `memory`; see the module docstring. Immutable once built.

    With `reduce` (the default), a state where some step is *local* gets that one step as its
    only successor. A step is local when it stays enabled until taken and commutes with every
    step that can happen before it: then every run to a terminal state either takes it or
    panics (and PANIC keeps nothing else), so moving it first changes no final outcome,
    deadlock or panic (a persistent set of one step, in the sense of Godefroid, "Partial-Order
    Methods for the Verification of Concurrent Systems", LNCS 1032, 1996; the state graph has
    no cycles, so no cycle proviso is needed). Local steps:

    - an enabled memory access (or fence) of a thread to a location that no other thread's
      remaining code touches and no other thread has a store pending to ("private");
    - a store the memory system calls always local (a tso store into the buffer);
    - a silent step the memory system calls local (a tso flush to a private location).

    The tests check that the reduced and the full search give the same outcomes.
    """

    def __init__(self, program: Program, memory: MemorySystem, *, reduce: bool = True):
        self.program = program
        self.memory = memory
        self.reduce = reduce
        self.var_names = tuple(v.name for v in program.vars)
        self.reg_names = tuple(program.registers(t) for t in range(len(program.threads)))
        prims = [d for d in program.decls if isinstance(d, (Mutex, Chan, Once, WaitGroup))]
        self.prim_names = tuple(d.name for d in prims)
        loc_index = {name: i for i, name in enumerate(self.var_names)}
        prim_index = {d.name: i for i, d in enumerate(prims)}
        code, texts = [], []
        for t, thread in enumerate(program.threads):
            regs = {r: i for i, r in enumerate(self.reg_names[t])}
            ins, txt = [], []
            _compile(thread.ops, ins, txt, regs, loc_index, prim_index, program)
            code.append(tuple(ins))
            texts.append(tuple(txt))
        self.code = tuple(code)
        self.texts = tuple(texts)
        self.ends = tuple(len(c) for c in self.code)
        # For the reduction: the location bit of each memory access (0 for a fence), whether
        # the instruction is local whenever its location is private, whether it is local
        # always, and the locations each thread's code touches from each pc on.
        self.loc_bit = tuple(tuple(_loc_bit(ins) for ins in c) for c in self.code)
        self.private_ok = tuple(tuple(ins[0] in _ACCESS_OPS for ins in c) for c in self.code)
        self.static_local = tuple(tuple(ins[0] == STORE and memory.local_store(ins[4])
                                        for ins in c) for c in self.code)
        self.touch = tuple(_suffix_masks(bits) for bits in self.loc_bit)
        sync = []
        for d in prims:
            if isinstance(d, Chan):
                sync.append((False, ()))        # (closed, buffered values oldest first)
            else:
                sync.append(0)                  # mutex holders / once state / wg counter
        self.initial = (
            tuple(0 for _ in program.threads),
            tuple(tuple(0 for _ in regs) for regs in self.reg_names),
            tuple(v.init for v in program.vars),
            tuple(sync),
            memory.initial_buffers(len(program.threads)),
        )

    # ------------------------------------------------------------------ transitions
    def successors(self, state) -> list:
        """Every step out of `state` (only one when a local step exists, see the class doc):
        `(label, next_state)` where the label is the thread index for a step of one thread,
        `("pair", sender, receiver)` for a rendezvous, or a label of the memory system's own
        (a tso buffer flush)."""
        if state is PANIC:
            return []
        pcs, regs, mem, sync, bufs = state
        memory, ends, steps_of = self.memory, self.ends, self._steps_of
        out = []
        if self.reduce:
            # `shared`: the locations that two or more threads may still touch (remaining code
            # or pending stores). A location outside it is private to whoever touches it.
            touch, static_local, private_ok, loc_bit = (self.touch, self.static_local,
                                                        self.private_ok, self.loc_bit)
            seen = shared = 0
            pending = memory.pending_masks(bufs)
            for u, pc in enumerate(pcs):
                m = touch[u][pc] if pending is None else touch[u][pc] | pending[u]
                shared |= seen & m
                seen |= m
            for t, pc in enumerate(pcs):
                if pc != ends[t] and (static_local[t][pc]
                                      or (private_ok[t][pc] and not shared & loc_bit[t][pc])):
                    steps_of(t, pc, pcs, regs, mem, sync, bufs, out)
                    if out:
                        return out          # a local step: the only successor needed
            step = memory.private_silent_step(mem, bufs, shared)
            if step is not None:
                label, nmem, nbufs = step
                return [(label, (pcs, regs, nmem, sync, nbufs))]
        for t, pc in enumerate(pcs):
            if pc != ends[t]:
                steps_of(t, pc, pcs, regs, mem, sync, bufs, out)
        for label, nmem, nbufs in memory.silent_steps(mem, bufs):
            out.append((label, (pcs, regs, nmem, sync, nbufs)))
        return out

    def _steps_of(self, t: int, pc: int, pcs: tuple, regs: tuple, mem: tuple, sync: tuple,
                  bufs, out: list) -> None:
        """Append the steps of thread `t`, at `pc` (not its end), to `out`."""
        memory = self.memory
        ins = self.code[t][pc]
        kind = ins[0]
        if kind in _LOCKED_OPS and not memory.barrier_ready(bufs, t):
            return
        npcs = pcs[:t] + (pc + 1,) + pcs[t + 1:]

        if kind == LOAD:
            _, reg, loc = ins
            value = memory.load(mem, bufs, t, loc)
            out.append((t, (npcs, _put(regs, t, _put(regs[t], reg, value)), mem, sync, bufs)))

        elif kind == STORE:
            _, loc, slot, const, order = ins
            value = (regs[t][slot] if slot >= 0 else 0) + const
            stored = memory.store(mem, bufs, t, loc, value, order)
            if stored is not None:
                out.append((t, (npcs, regs, stored[0], sync, stored[1])))

        elif kind == RMW:
            # A read-modify-write acts atomically on memory (the memory system decided
            # above, through barrier_ready, whether it may act now).
            _, reg, loc, op, slot, const, expected = ins
            arg = (regs[t][slot] if slot >= 0 else 0) + const
            old = mem[loc]
            if op is RmwOp.ADD:
                new, result = old + arg, old + arg      # Go atomic.Add returns the new value
            elif op is RmwOp.FETCH_ADD:
                new, result = old + arg, old            # C atomic_fetch_add returns the old one
            elif op is RmwOp.SWAP:
                new, result = arg, old                  # Swap returns the old value
            else:
                new, result = (arg, 1) if old == expected else (old, 0)   # CAS: 1 on success
            nregs = regs if reg < 0 else _put(regs, t, _put(regs[t], reg, result))
            out.append((t, (npcs, nregs, _put(mem, loc, new), sync, bufs)))

        elif kind == FENCE:
            if memory.fence_ready(bufs, t, ins[1]):
                out.append((t, (npcs, regs, mem, sync, bufs)))

        elif kind == AWAIT:
            _, loc, value, until_equal = ins
            if (memory.load(mem, bufs, t, loc) == value) == until_equal:
                out.append((t, (npcs, regs, mem, sync, bufs)))

        elif kind in _MUTEX_KIND:
            m = ins[1]
            moves = mutex_steps(_MUTEX_KIND[kind], sync[m], t)
            if moves is None:
                out.append((t, PANIC))
            for new, returns in moves or ():
                out.append((t, (npcs if returns else pcs, regs, mem, _put(sync, m, new), bufs)))

        elif kind == SEND:
            _, c, slot, const, capacity = ins
            closed, items = sync[c]
            value = (regs[t][slot] if slot >= 0 else 0) + const
            if closed:
                out.append((t, PANIC))                   # send on a closed channel panics
            elif capacity > 0:
                if len(items) < capacity:                # a buffered send waits for room
                    out.append((t, (npcs, regs, mem, _put(sync, c, (False, items + (value,))),
                                    bufs)))
            else:
                # Unbuffered: the send and a receive on the same channel are one joint step.
                code, ends = self.code, self.ends
                for u, upc in enumerate(pcs):
                    if u == t or upc == ends[u]:
                        continue
                    other = code[u][upc]
                    if (other[0] == RECV and other[1] == c
                            and memory.barrier_ready(bufs, u)):
                        out.append((("pair", t, u),
                                    (_put(npcs, u, upc + 1),
                                     _put(regs, u, _received(regs[u], other, value, 1)),
                                     mem, sync, bufs)))

        elif kind == RECV:
            _, c, reg, ok, capacity = ins
            closed, items = sync[c]
            if items:                                    # oldest buffered value, ok = 1
                out.append((t, (npcs, _put(regs, t, _received(regs[t], ins, items[0], 1)),
                                mem, _put(sync, c, (closed, items[1:])), bufs)))
            elif closed:                                 # closed and drained: 0, ok = 0
                out.append((t, (npcs, _put(regs, t, _received(regs[t], ins, 0, 0)),
                                mem, sync, bufs)))
            # otherwise blocked (an unbuffered receive steps jointly with a sender)

        elif kind == CLOSE:
            c = ins[1]
            closed, items = sync[c]
            if closed:
                out.append((t, PANIC))                   # close of a closed channel panics
            else:
                out.append((t, (npcs, regs, mem, _put(sync, c, (True, items)), bufs)))

        elif kind == ONCE_ENTER:
            _, o, skip = ins
            if sync[o] == _ONCE_NEW:                     # first caller runs the body
                out.append((t, (npcs, regs, mem, _put(sync, o, _ONCE_RUNNING), bufs)))
            elif sync[o] == _ONCE_DONE:                  # body ran: skip it
                out.append((t, (_put(pcs, t, skip), regs, mem, sync, bufs)))
            # running in another thread: wait until its body finished

        elif kind == ONCE_EXIT:
            o = ins[1]
            out.append((t, (npcs, regs, mem, _put(sync, o, _ONCE_DONE), bufs)))

        elif kind == WG_ADD:
            _, w, delta = ins
            count = sync[w] + delta
            if count < 0:
                out.append((t, PANIC))                   # negative counter panics
            else:
                out.append((t, (npcs, regs, mem, _put(sync, w, count), bufs)))

        elif kind == WG_WAIT:
            if sync[ins[1]] == 0:                        # Wait blocks until the counter is 0
                out.append((t, (npcs, regs, mem, sync, bufs)))

        else:  # pragma: no cover - _compile emits only the kinds above
            raise AssertionError(f"unknown instruction {ins!r}")


    # ------------------------------------------------------------------ results
    def is_done(self, state) -> bool:
        """Whether every thread ran to its end (and nothing is pending in memory)."""
        return (state is not PANIC and state[0] == self.ends
                and self.memory.is_empty(state[4]))

    def outcome(self, state) -> Outcome:
        """The outcome of a terminal state: panic, deadlock, or every register and variable."""
        if state is PANIC:
            return Outcome.flagged("panic")
        if not self.is_done(state):
            return Outcome.flagged("deadlock")
        pcs, regs, mem, _sync, _bufs = state
        return Outcome.make(
            {(t, r): regs[t][i] for t, names in enumerate(self.reg_names)
             for i, r in enumerate(names)},
            dict(zip(self.var_names, mem)))

    def describe(self, label, before, after) -> str:
        """A readable line for one step of a witness path."""
        memory = self.memory
        if isinstance(label, tuple) and label[0] == "pair":
            _, s, r = label
            rtext = self.texts[r][before[0][r]]
            value = _first_written(self, r, before, after)
            return (f"P{s}: {self.texts[s][before[0][s]]}  meets  P{r}: {rtext}  "
                    f"(rendezvous: P{r} receives {value})")
        if not isinstance(label, int):
            return memory.describe_silent(label, self.var_names)
        t = label
        pc = before[0][t]
        ins = self.code[t][pc]
        text = f"P{t}: {self.texts[t][pc]}"
        kind = ins[0]
        if after is PANIC:
            return f"{text}  panics: {_PANIC_REASON[kind]}"
        pcs, regs, mem, sync, bufs = before
        if kind == LOAD:
            where = memory.describe_load(bufs, t, ins[2])
            return f"{text}  reads {after[1][t][ins[1]]}{where}"
        if kind == STORE:
            return f"{text}{memory.describe_store(bufs, after[4], t)}"
        if kind == RMW:
            loc = ins[2]
            reads = mem[loc]
            return f"{text}  reads {reads}, {self.var_names[loc]} = {after[2][loc]}"
        if kind == AWAIT:
            loc = ins[1]
            seen = memory.load(mem, bufs, t, loc)
            where = memory.describe_load(bufs, t, loc)
            return f"{text}  sees {self.var_names[loc]} = {seen}{where}"
        if kind == RECV:
            _, c, reg, ok, _cap = ins
            got = _first_written(self, t, before, after)
            if after[3][c] == sync[c] and sync[c][0]:
                return f"{text}  gets 0, ok=0 (channel closed and empty)"
            return f"{text}  receives {got}"
        if kind == LOCK and after[0][t] == pc:
            return (f"{text}  waits for the readers; new RLocks now block "
                    f"(writer preference)")
        if kind == ONCE_ENTER:
            if after[0][t] == pc + 1:
                return f"{text}  (first call: runs the body)"
            return f"{text}  (body already ran: skipped)"
        if kind == WG_ADD:
            return f"{text}  (counter {sync[ins[1]]} -> {after[3][ins[1]]})"
        return text


def _loc_bit(ins: tuple) -> int:
    kind = ins[0]
    if kind in (LOAD, STORE):
        return 1 << ins[2 if kind == LOAD else 1]
    if kind == RMW:
        return 1 << ins[2]
    if kind == AWAIT:
        return 1 << ins[1]
    return 0


def _suffix_masks(bits: tuple) -> tuple:
    """masks[pc] = OR of bits[pc:]; masks[len(bits)] = 0."""
    masks = [0] * (len(bits) + 1)
    for pc in range(len(bits) - 1, -1, -1):
        masks[pc] = masks[pc + 1] | bits[pc]
    return tuple(masks)


def _received(thread_regs: tuple, ins: tuple, value: int, ok: int) -> tuple:
    _, _c, reg, ok_reg, _cap = ins
    if reg >= 0:
        thread_regs = _put(thread_regs, reg, value)
    if ok_reg >= 0:
        thread_regs = _put(thread_regs, ok_reg, ok)
    return thread_regs


def _first_written(machine: Machine, t: int, before, after) -> str:
    """The received value, from the receiving thread's registers before and after."""
    ins = machine.code[t][before[0][t]]
    reg = ins[2]
    if reg < 0:
        return "a value (discarded)"
    return str(after[1][t][reg])


# ---------------------------------------------------------------------- compilation


def _compile(ops, code, texts, regs, loc_index, prim_index, program) -> None:
    def operand(v):
        """(register slot or -1, constant): the value is the register (if any) plus it."""
        if isinstance(v, Sum):
            return regs[v.reg], v.const
        return (regs[v], 0) if isinstance(v, str) else (-1, v)

    for op in ops:
        texts.append(op_text(op))
        if isinstance(op, Load):
            code.append((LOAD, regs[op.reg], loc_index[op.loc]))
        elif isinstance(op, Store):
            code.append((STORE, loc_index[op.loc], *operand(op.value), op.order))
        elif isinstance(op, Rmw):
            reg = regs[op.reg] if op.reg is not None else -1
            code.append((RMW, reg, loc_index[op.loc], op.op, *operand(op.operand), op.expected))
        elif isinstance(op, Fence):
            code.append((FENCE, op.order))
        elif isinstance(op, Await):
            code.append((AWAIT, loc_index[op.loc], op.value, op.until_equal))
        elif isinstance(op, Lock):
            code.append((LOCK, prim_index[op.mutex]))
        elif isinstance(op, Unlock):
            code.append((UNLOCK, prim_index[op.mutex]))
        elif isinstance(op, RLock):
            code.append((RLOCK, prim_index[op.mutex]))
        elif isinstance(op, RUnlock):
            code.append((RUNLOCK, prim_index[op.mutex]))
        elif isinstance(op, Send):
            cap = program.decl(op.chan).capacity
            code.append((SEND, prim_index[op.chan], *operand(op.value), cap))
        elif isinstance(op, Recv):
            cap = program.decl(op.chan).capacity
            code.append((RECV, prim_index[op.chan],
                         regs[op.reg] if op.reg is not None else -1,
                         regs[op.ok] if op.ok is not None else -1, cap))
        elif isinstance(op, Close):
            code.append((CLOSE, prim_index[op.chan]))
        elif isinstance(op, OnceDo):
            at = len(code)
            code.append(None)                       # patched below, once the body's end is known
            _compile(op.body, code, texts, regs, loc_index, prim_index, program)
            code.append((ONCE_EXIT, prim_index[op.once]))
            texts.append(f"}}  // end of {op.once}.Do body")
            code[at] = (ONCE_ENTER, prim_index[op.once], len(code))
        elif isinstance(op, WgAdd):
            code.append((WG_ADD, prim_index[op.wg], op.delta))
        elif isinstance(op, WgDone):
            code.append((WG_ADD, prim_index[op.wg], -1))
        elif isinstance(op, WgWait):
            code.append((WG_WAIT, prim_index[op.wg]))
        else:  # pragma: no cover - Program validation admits only the ops above
            raise TypeError(f"the models do not know the op {op!r}")


def op_text(op) -> str:
    """One op in the litmus text style, on one line, for explanations (a once.Do shows only
    its head: the body's ops are steps of their own).

    >>> op_text(Store("x", 1)), op_text(Rmw("r0", "a", RmwOp.ADD, 1, order=Order.RELAXED))
    ('x = 1', 'r0 = atomic.Add(&a, 1, relaxed)')
    """
    if isinstance(op, OnceDo):
        return f"{op.once}.Do {{"
    return print_op(op)
