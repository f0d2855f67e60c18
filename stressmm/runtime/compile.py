"""Compile a Program into the flat instruction arrays the native executor reads.

Each thread becomes an `array('i')` of instructions of 5 ints (code, loc, dst, a, b; see
stressmm/_native/stressmm.h) and a register file: its registers (in `program.registers(t)`
order, all 0 at the start of every iteration), one scratch slot for results nobody keeps, then
its constants. Every operand is a register-file slot, so the hot loop never asks whether a
value is a constant or a register. An opcode fuses the operation and its memory order::

    >>> from stressmm.program import Program, Var, Thread, Store, Load, Order
    >>> p = Program("MP", (Var("x", atomic=True),), (
    ...     Thread((Store("x", 1, Order.RELEASE),)), Thread((Load("r0", "x", Order.ACQUIRE),))))
    >>> c = compile_program(p)
    >>> [opcode_name(i[0]) for i in c.threads[0].instructions()]
    ['STORE_RELEASE']
    >>> c.threads[0].file      # no registers, the scratch slot, the constant 1
    (0, 1)

A mutant is applied here, by rewriting opcodes, so the correct path pays nothing for it.

Go primitives. Each test instance's memory holds, in words: the program's variables (the
outcome's memory), a control block (an abort flag, a change epoch, one state word per thread:
see stressmm/_native/sync.c), then one object per declared primitive: a mutex or rwmutex is
one word, a once one word, a waitgroup two words, a channel of capacity C is 5 + max(C, 1)
words. A `once.Do { body }` compiles to ONCE_BEGIN, the body's ops, ONCE_END; ONCE_BEGIN
jumps past ONCE_END when the body already ran (or waits while another thread runs it)::

    >>> from stressmm.program import Once, OnceDo
    >>> p = Program("once", (Var("x"), Once("o")), (Thread((OnceDo("o", (Store("x", 1),)),)),))
    >>> [(opcode_name(i[0]), i[4]) for i in compile_program(p).threads[0].instructions()]
    [('ONCE_BEGIN', 3), ('STORE_PLAIN', 0), ('ONCE_END', 0)]
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ..outcome import Outcome
from ..program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Order,
                       Program, RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Unlock, Var,
                       Sum, WaitGroup, WgAdd, WgDone, WgWait)
from . import RuntimeUsageError
from .native_sources import stale_build

__all__ = ["MUTANTS", "SYNC_MUTANTS", "ATOMIC_MUTANTS", "CompiledThread", "Compiled", "compile_program", "opcode_name",
           "check_mutant"]

MUTANTS = {
    "sc-store-no-fence": "seq_cst stores are plain movs (no xchg): store->load reordering",
    "sc-fence-noop": "fence(seq_cst) does nothing (no mfence)",
    "add-not-atomic": "fetch_add is a separate load and store, with a window between them",
    "cas-ignores-failure": "compare_exchange stores even when the comparison fails, "
                           "and reports success",
    "swap-not-atomic": "exchange is a separate load and store, with a window between them",
    "mutex-nonatomic-tas": "Mutex.Lock waits until free, then stores 'locked' (a load and a "
                           "store, not a test-and-set): two threads can both get in",
    "chan-unbuffered-as-buffered": "an unbuffered channel behaves as capacity 1: a send "
                                   "completes without waiting for its receiver",
    "chan-slot-nonatomic": "a buffered channel's head and tail indices are read, then written "
                           "back: two senders can claim one slot, two receivers take one value",
    "once-twice": "Once checks 'not done yet', then marks itself running: two callers can "
                  "both run the body",
    "wg-early": "WaitGroup.Wait returns while one Done is still missing",
    "rwmutex-writer-beside-reader": "RWMutex.Lock only waits for other writers: a writer gets "
                                    "in while a reader holds the lock",
    # One per clause of docs/contracts.md (the clause in brackets).
    "add-returns-old": "atomic.Add returns the old value instead of the new one "
                       "[atomic.add-returns-new]",
    "add-drops-sign": "atomic.Add adds the absolute value of its delta [atomic.add-delta]",
    "swap-returns-new": "atomic.Swap returns the value it stored instead of the old one "
                        "[atomic.swap-returns-old]",
    "cas-compares-new": "atomic.CompareAndSwap compares with the new value instead of the "
                        "expected one [atomic.cas]",
    "cas-not-atomic": "atomic.CompareAndSwap compares, then stores after a window: two "
                      "CAS can both succeed [atomic.rmw-atomic]",
    "chan-unbuffered-recv-no-wait": "a receive on an unbuffered channel with no sender "
                                    "ready returns the zero value at once "
                                    "[chan.unbuffered-rendezvous]",
    "mutex-relock-not-atomic": "once a Mutex has been unlocked, Lock takes it with a load and "
                               "a store: two threads re-locking it can both get in "
                               "[mutex.exclusion]",
    "mutex-unlock-no-wake": "Mutex.Unlock frees the lock without waking its waiters (a lost "
                            "wake-up) [mutex.unlock-releases]",
    "rwmutex-rlock-check-then-add": "RWMutex.RLock checks for a writer, then registers "
                                    "itself: a writer can get in between "
                                    "[rwmutex.writer-excludes]",
    "rwmutex-readers-exclusive": "RWMutex.RLock waits for other readers too: readers never "
                                 "share the lock [rwmutex.readers-share]",
    "rwmutex-runlock-drops-all": "RWMutex.RUnlock clears the reader count: a writer gets in "
                                 "while another reader still holds the lock "
                                 "[rwmutex.writer-waits-for-readers]",
    "chan-unbuffered-dup-recv": "an unbuffered channel's value stays on offer until its "
                                "sender completes: two receives can take it "
                                "[chan.each-value-once]",
    "chan-lifo": "a buffered channel delivers its newest value first [chan.fifo]",
    "chan-full-send-drops": "a send on a full buffered channel completes at once and its "
                            "value is lost [chan.buffered-capacity]",
    "chan-empty-recv-zero": "a receive on an empty, open buffered channel returns the zero "
                            "value at once, as if the channel were closed "
                            "[chan.recv-blocks-until-value]",
    "chan-closed-recv-ok": "a receive from a closed, drained channel reports ok = true "
                           "[close.recv-zero-not-ok]",
    "chan-close-drops-buffer": "close throws away the values still buffered "
                               "[close.buffered-values-delivered]",
    "chan-close-twice-ok": "closing a closed channel does not panic [close.close-closed-panics]",
    "chan-send-closed-ok": "a send on a closed channel is dropped instead of panicking "
                           "[close.send-on-closed-panics]",
    "chan-close-no-wake": "close does not wake the receivers blocked on the channel (a lost "
                          "wake-up) [close.wakes-receivers]",
    "once-end-resets": "the end of a Once body marks the Once new again: a later call runs "
                       "the body again [once.exactly-once]",
    "once-done-early": "Once marks itself done before running the body: a concurrent call "
                       "returns before the body ran [once.returns-after-body]",
    "wg-add-unit": "WaitGroup.Add(n) adds 1 (or -1) whatever n [waitgroup.add-delta]",
    "wg-negative-no-panic": "a WaitGroup counter that goes negative does not panic "
                            "[waitgroup.negative-panics]",
    "wg-wake-one": "when the WaitGroup counter reaches zero only one Wait returns "
                   "[waitgroup.releases-all-waiters]",
    "wg-wait-no-recheck": "WaitGroup.Wait returns at the first change of the counter, "
                          "without checking it reached zero [waitgroup.wait-until-zero]",
}

ATOMIC_MUTANTS = frozenset({"sc-store-no-fence", "sc-fence-noop", "add-not-atomic",
                            "cas-ignores-failure", "swap-not-atomic", "add-returns-old",
                            "add-drops-sign", "swap-returns-new", "cas-compares-new",
                            "cas-not-atomic"})
SYNC_MUTANTS = frozenset(MUTANTS) - ATOMIC_MUTANTS
"""The mutants that break a Go primitive (the others break the atomics)."""

_ORDERS = {None: "PLAIN", Order.RELAXED: "RELAXED", Order.ACQUIRE: "ACQUIRE",
           Order.RELEASE: "RELEASE", Order.ACQ_REL: "ACQ_REL", Order.SEQ_CST: "SEQ_CST"}
_RMW = {RmwOp.ADD: "ADD", RmwOp.FETCH_ADD: "FADD", RmwOp.SWAP: "SWAP", RmwOp.CAS: "CAS"}

# mutant -> {opcode name -> replacement opcode name}
_REWRITES = {
    "sc-store-no-fence": {"STORE_SEQ_CST": "STORE_RELAXED"},
    "sc-fence-noop": {"FENCE_SEQ_CST": "FENCE_ACQ_REL"},   # a compiler barrier only
    "add-not-atomic": {f"ADD_{o}": "MUT_ADD_SPLIT" for o in list(_ORDERS.values())[1:]},
    "cas-ignores-failure": {f"CAS_{o}": "MUT_CAS_ALWAYS" for o in list(_ORDERS.values())[1:]},
    "swap-not-atomic": {f"SWAP_{o}": "MUT_SWAP_SPLIT" for o in list(_ORDERS.values())[1:]},
    "add-returns-old": {f"ADD_{o}": "MUT_ADD_OLD" for o in list(_ORDERS.values())[1:]},
    "add-drops-sign": {f"ADD_{o}": "MUT_ADD_ABS" for o in list(_ORDERS.values())[1:]},
    "swap-returns-new": {f"SWAP_{o}": "MUT_SWAP_NEW" for o in list(_ORDERS.values())[1:]},
    "cas-compares-new": {f"CAS_{o}": "MUT_CAS_SWAPPED" for o in list(_ORDERS.values())[1:]},
    "cas-not-atomic": {f"CAS_{o}": "MUT_CAS_SPLIT" for o in list(_ORDERS.values())[1:]},
}

MAX_THREADS = 64
MAX_VARS = 256
MAX_KEY = 1024

# Opcodes of the Go primitives that mutants rewrite, by the kind of object they act on.
_SYNC_REWRITES = {
    "mutex-nonatomic-tas": {("mutex", "LOCK"): "MUT_LOCK_TAS",
                            ("mutex", "UNLOCK"): "MUT_UNLOCK_STORE"},
    "rwmutex-writer-beside-reader": {("rwmutex", "LOCK"): "MUT_LOCK_BESIDE_READER"},
    "chan-slot-nonatomic": {("buffered", "SEND"): "MUT_SEND_NONATOMIC",
                            ("buffered", "RECV"): "MUT_RECV_NONATOMIC"},
    "once-twice": {("once", "ONCE_BEGIN"): "MUT_ONCE_TWICE"},
    "wg-early": {("waitgroup", "WG_WAIT"): "MUT_WG_WAIT_EARLY"},
    "mutex-relock-not-atomic": {("mutex", "LOCK"): "MUT_LOCK_RELOCK",
                                ("mutex", "UNLOCK"): "MUT_UNLOCK_USED"},
    "mutex-unlock-no-wake": {("mutex", "UNLOCK"): "MUT_UNLOCK_NO_WAKE"},
    "rwmutex-rlock-check-then-add": {("rwmutex", "RLOCK"): "MUT_RLOCK_CHECK_ADD"},
    "rwmutex-readers-exclusive": {("rwmutex", "RLOCK"): "MUT_RLOCK_EXCLUSIVE"},
    "rwmutex-runlock-drops-all": {("rwmutex", "RUNLOCK"): "MUT_RUNLOCK_ALL"},
    "chan-unbuffered-dup-recv": {("unbuffered", "RECV"): "MUT_RECV_DUP"},
    "chan-lifo": {("buffered", "RECV"): "MUT_RECV_LIFO"},
    "chan-full-send-drops": {("buffered", "SEND"): "MUT_SEND_FULL_DROPS"},
    "chan-empty-recv-zero": {("buffered", "RECV"): "MUT_RECV_EMPTY_ZERO"},
    "chan-unbuffered-recv-no-wait": {("unbuffered", "RECV"): "MUT_RECV_EMPTY_ZERO"},
    "chan-closed-recv-ok": {(k, "RECV"): "MUT_RECV_CLOSED_OK" for k in ("buffered", "unbuffered")},
    "chan-close-drops-buffer": {("buffered", "CLOSE"): "MUT_CLOSE_DROPS"},
    "chan-close-twice-ok": {(k, "CLOSE"): "MUT_CLOSE_TWICE_OK" for k in ("buffered", "unbuffered")},
    "chan-send-closed-ok": {(k, "SEND"): "MUT_SEND_CLOSED_OK" for k in ("buffered", "unbuffered")},
    "chan-close-no-wake": {(k, "CLOSE"): "MUT_CLOSE_NO_WAKE" for k in ("buffered", "unbuffered")},
    "once-end-resets": {("once", "ONCE_END"): "MUT_ONCE_END_RESET"},
    "once-done-early": {("once", "ONCE_BEGIN"): "MUT_ONCE_DONE_EARLY"},
    "wg-add-unit": {("waitgroup", "WG_ADD"): "MUT_WG_ADD_UNIT"},
    "wg-negative-no-panic": {("waitgroup", "WG_ADD"): "MUT_WG_ADD_NO_PANIC"},
    "wg-wake-one": {("waitgroup", "WG_WAIT"): "MUT_WG_WAIT_ONE"},
    "wg-wait-no-recheck": {("waitgroup", "WG_WAIT"): "MUT_WG_WAIT_NO_RECHECK"},
}
CHAN_HEADER = 5     # channel words before its buffer (see stressmm/_native/sync.c)
WAITGROUP_WORDS = 2  # the counter, and a word the wg-wake-one mutant uses
STATUS_FLAGS = {1: "timeout", 2: "timeout", 3: "deadlock", 4: "panic"}


@lru_cache(maxsize=None)
def _stale(built: Optional[str]) -> Optional[str]:
    """Why the extension built from sources with digest `built` must not run (read once)."""
    return stale_build(built, Path(__file__).resolve().parents[2])


def _native():
    try:
        from .. import _native
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeUsageError(
            "the C extension stressmm._native is not built: run `pip install -e .` "
            f"in the stressmm checkout ({exc})") from exc
    stale = _stale(getattr(_native, "SOURCE_DIGEST", None))
    if stale:
        raise RuntimeUsageError(stale)
    return _native


def opcode_name(code: int) -> str:
    """The name of an opcode number, e.g. 'LOAD_ACQUIRE'."""
    for name, value in _native().OPCODES.items():
        if value == code:
            return name
    raise KeyError(code)


def check_mutant(mutant: Optional[str]) -> None:
    """Raise RuntimeUsageError unless `mutant` is None or a known mutant name."""
    if mutant is not None and mutant not in MUTANTS:
        known = "\n".join(f"  {name}: {desc}" for name, desc in MUTANTS.items())
        raise RuntimeUsageError(f"unknown mutant {mutant!r}; known mutants:\n{known}")


@dataclass(frozen=True)
class CompiledThread:
    code: bytes       # the instructions, as the bytes of an array('i')
    file: tuple       # initial register file: registers (0), scratch (0), constants
    regs: tuple       # register names, in slot order

    def instructions(self) -> list:
        """The instructions as (code, loc, dst, a, b) tuples."""
        ints = array("i")
        ints.frombytes(self.code)
        return [tuple(ints[i:i + 5]) for i in range(0, len(ints), 5)]

    def code_array(self) -> array:
        ints = array("i")
        ints.frombytes(self.code)
        return ints


@dataclass(frozen=True)
class Compiled:
    program: Program
    threads: tuple    # CompiledThread per program thread
    var_names: tuple
    init: tuple       # initial value of every word of an instance (variables first)
    mutant: Optional[str] = None
    ctl: int = 0      # word index of the control block (just after the variables)

    def decode(self, key: tuple) -> Outcome:
        """The Outcome of an executor key (registers of every thread, variables, status)."""
        if key[-1]:
            return Outcome.flagged(STATUS_FLAGS.get(key[-1], "timeout"))
        regs, w = {}, 0
        for t, th in enumerate(self.threads):
            for name in th.regs:
                regs[(t, name)] = key[w]
                w += 1
        mem = {name: key[w + i] for i, name in enumerate(self.var_names)}
        return Outcome.make(regs, mem)


def _where(program: Program, t: int, i: int, op) -> str:
    line = f", line {op.line}" if getattr(op, "line", None) is not None else ""
    name = f"{program.name}: " if program.name else ""
    return f"{name}P{t} op {i}{line}"


def layout(program: Program) -> tuple:
    """(word index of every variable and primitive by name, control block index, total words).

    >>> from stressmm.program import Chan, Thread
    >>> p = Program("l", (Var("x"), Chan("c", 2)), (Thread(()),))
    >>> layout(p)
    ({'x': 0, 'c': 4}, 1, 11)
    """
    index = {v.name: i for i, v in enumerate(program.vars)}
    ctl = len(index)
    words = ctl + 2 + len(program.threads)
    for d in program.decls:
        if isinstance(d, Var):
            continue
        index[d.name] = words
        words += (CHAN_HEADER + max(d.capacity, 1) if isinstance(d, Chan)
                  else WAITGROUP_WORDS if isinstance(d, WaitGroup) else 1)
    return index, ctl, words


def compile_program(program: Program, mutant: Optional[str] = None) -> Compiled:
    """Compile `program` for the native executor, applying `mutant` (a MUTANTS name) if given.
    Raises RuntimeUsageError for ops the native runtime does not run and for oversized programs."""
    check_mutant(mutant)
    codes = _native().OPCODES
    rewrite = _REWRITES.get(mutant, {})
    sync_rewrite = _SYNC_REWRITES.get(mutant, {})
    nvars = len(program.vars)
    if len(program.threads) > MAX_THREADS or nvars > MAX_VARS:
        raise RuntimeUsageError(f"{program.name}: the native runtime runs at most {MAX_THREADS} "
                                f"threads and {MAX_VARS} variables")
    index, ctl, nwords = layout(program)
    if nwords > _native().MAX_WORDS:
        raise RuntimeUsageError(f"{program.name}: its variables and primitives need {nwords} "
                                f"words per test instance; at most {_native().MAX_WORDS} are "
                                f"supported (use fewer or smaller channels)")
    threads = []
    for t, thread in enumerate(program.threads):
        regs = program.registers(t)
        slots = {r: i for i, r in enumerate(regs)}
        scratch = len(regs)
        consts: dict = {}
        insns: list = []

        def value(v):
            # reg + const: an ADDI into the scratch slot just before the op that reads it (a
            # store or a send, which write no register)
            if isinstance(v, Sum):
                insns.append(("ADDI", 0, scratch, slots[v.reg], value(v.const), ""))
                return scratch
            if isinstance(v, str):
                return slots[v]
            return consts.setdefault(v, scratch + 1 + len(consts))

        _emit(program, thread.ops, insns, slots, scratch, value, index, mutant)
        words = array("i")
        for name, loc, dst, a, b, kind in insns:
            name = sync_rewrite.get((kind, name), rewrite.get(name, name))
            words.extend((codes[name], loc, dst, a, b))
        if len(words) // 5 > _native().MAX_OPS:
            raise RuntimeUsageError(f"{program.name}: P{t} has {len(words) // 5} ops; the native "
                                    f"runtime runs at most {_native().MAX_OPS} per thread")
        file = (0,) * (scratch + 1) + tuple(consts)
        if len(file) > _native().MAX_FILE:
            raise RuntimeUsageError(f"{program.name}: P{t} needs {len(file)} register and "
                                    f"constant slots; at most {_native().MAX_FILE} are supported")
        threads.append(CompiledThread(words.tobytes(), file, regs))
    width = sum(len(th.regs) for th in threads) + nvars + 1
    if width > MAX_KEY:
        raise RuntimeUsageError(f"{program.name}: an outcome of {width} values is too large "
                                f"(at most {MAX_KEY} registers and variables)")
    init = tuple(v.init for v in program.vars) + (0,) * (nwords - nvars)
    return Compiled(program, tuple(threads), tuple(v.name for v in program.vars), init, mutant,
                    ctl)


def _kind(program: Program, name: str, mutant: Optional[str]) -> tuple:
    """(kind used to pick mutant rewrites, capacity the runtime gives it) of a primitive."""
    d = program.decl(name)
    if isinstance(d, Mutex):
        return ("rwmutex" if d.rw else "mutex"), 0
    if isinstance(d, Chan):
        capacity = d.capacity
        if capacity == 0 and mutant == "chan-unbuffered-as-buffered":
            capacity = 1
        return ("buffered" if capacity else "unbuffered"), capacity
    return ("once" if isinstance(d, Once) else "waitgroup"), 0


def _emit(program, ops, out, slots, scratch, value, index, mutant) -> None:
    """Append the instructions of `ops` to `out` as (opcode name, loc, dst, a, b, kind)."""
    for op in ops:
        if isinstance(op, OnceDo):
            begin = len(out)
            out.append(["ONCE_BEGIN", index[op.once], scratch, 0, 0, "once"])
            _emit(program, op.body, out, slots, scratch, value, index, mutant)
            out.append(("ONCE_END", index[op.once], scratch, 0, 0, "once"))
            out[begin][4] = len(out)
            out[begin] = tuple(out[begin])
            continue
        out.append(_encode(program, op, slots, scratch, value, index, mutant))


def _encode(program, op, slots, scratch, value, var_index, mutant) -> tuple:
    """(opcode name, loc, dst, a, b, kind) of one op (kind: what a sync op acts on, else "")."""
    if _is_sync(op):
        return _encode_sync(program, op, slots, scratch, value, var_index, mutant)
    return _encode_memory(op, slots, scratch, value, var_index) + ("",)


def _is_sync(op) -> bool:
    return isinstance(op, (Lock, Unlock, RLock, RUnlock, Send, Recv, Close, WgAdd, WgDone, WgWait))


def _encode_sync(program, op, slots, scratch, value, index, mutant) -> tuple:
    if isinstance(op, (Lock, Unlock, RLock, RUnlock)):
        kind, _ = _kind(program, op.mutex, mutant)
        name = {Lock: "LOCK", Unlock: "UNLOCK", RLock: "RLOCK", RUnlock: "RUNLOCK"}[type(op)]
        return name, index[op.mutex], scratch, 0, 0, kind
    if isinstance(op, (Send, Recv, Close)):
        kind, capacity = _kind(program, op.chan, mutant)
        loc = index[op.chan]
        if isinstance(op, Send):
            return "SEND", loc, scratch, value(op.value), capacity, kind
        if isinstance(op, Recv):
            dst = slots[op.reg] if op.reg is not None else scratch
            ok = slots[op.ok] if op.ok is not None else scratch
            return "RECV", loc, dst, ok, capacity, kind
        return "CLOSE", loc, scratch, 0, capacity, kind
    if isinstance(op, (WgAdd, WgDone)):
        delta = op.delta if isinstance(op, WgAdd) else -1
        return "WG_ADD", index[op.wg], scratch, value(delta), 0, "waitgroup"
    return "WG_WAIT", index[op.wg], scratch, 0, 0, "waitgroup"


def _encode_memory(op, slots, scratch, value, var_index) -> tuple:
    """(opcode name, loc, dst, a, b) of one memory op."""
    if isinstance(op, Load):
        return f"LOAD_{_ORDERS[op.order]}", var_index[op.loc], slots[op.reg], 0, 0
    if isinstance(op, Store):
        return f"STORE_{_ORDERS[op.order]}", var_index[op.loc], scratch, value(op.value), 0
    if isinstance(op, Rmw):
        dst = slots[op.reg] if op.reg is not None else scratch
        b = value(op.expected) if op.op is RmwOp.CAS else 0
        return f"{_RMW[op.op]}_{_ORDERS[op.order]}", var_index[op.loc], dst, value(op.operand), b
    if isinstance(op, Fence):
        return f"FENCE_{_ORDERS[op.order]}", 0, scratch, 0, 0
    if isinstance(op, Await):
        return (f"AWAIT_{_ORDERS[op.order]}", var_index[op.loc], scratch, value(op.value),
                int(op.until_equal))
    raise RuntimeUsageError(f"the native runtime cannot run {op!r}")
