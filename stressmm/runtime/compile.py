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
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Optional

from ..outcome import Outcome
from ..program import (Await, Fence, Load, Order, Program, Rmw, RmwOp, Store, SYNC_OPS,
                       walk_ops)
from . import RuntimeUsageError

__all__ = ["MUTANTS", "CompiledThread", "Compiled", "compile_program", "opcode_name",
           "check_mutant"]

MUTANTS = {
    "sc-store-no-fence": "seq_cst stores are plain movs (no xchg): store->load reordering",
    "sc-fence-noop": "fence(seq_cst) does nothing (no mfence)",
    "add-not-atomic": "fetch_add is a separate load and store, with a window between them",
    "cas-ignores-failure": "compare_exchange stores even when the comparison fails, "
                           "and reports success",
    "swap-not-atomic": "exchange is a separate load and store, with a window between them",
}

_ORDERS = {None: "PLAIN", Order.RELAXED: "RELAXED", Order.ACQUIRE: "ACQUIRE",
           Order.RELEASE: "RELEASE", Order.ACQ_REL: "ACQ_REL", Order.SEQ_CST: "SEQ_CST"}
_RMW = {RmwOp.ADD: "ADD", RmwOp.SWAP: "SWAP", RmwOp.CAS: "CAS"}

# mutant -> {opcode name -> replacement opcode name}
_REWRITES = {
    "sc-store-no-fence": {"STORE_SEQ_CST": "STORE_RELAXED"},
    "sc-fence-noop": {"FENCE_SEQ_CST": "FENCE_ACQ_REL"},   # a compiler barrier only
    "add-not-atomic": {f"ADD_{o}": "MUT_ADD_SPLIT" for o in list(_ORDERS.values())[1:]},
    "cas-ignores-failure": {f"CAS_{o}": "MUT_CAS_ALWAYS" for o in list(_ORDERS.values())[1:]},
    "swap-not-atomic": {f"SWAP_{o}": "MUT_SWAP_SPLIT" for o in list(_ORDERS.values())[1:]},
}

MAX_THREADS = 64
MAX_VARS = 256
MAX_KEY = 1024


def _native():
    try:
        from .. import _native
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeUsageError(
            "the C extension stressmm._native is not built: run `pip install -e .` "
            f"in the stressmm checkout ({exc})") from exc
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
    init: tuple
    mutant: Optional[str] = None

    def decode(self, key: tuple) -> Outcome:
        """The Outcome of an executor key (registers of every thread, variables, timeout)."""
        if key[-1]:
            return Outcome.flagged("timeout")
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


def compile_program(program: Program, mutant: Optional[str] = None) -> Compiled:
    """Compile `program` for the native executor, applying `mutant` (a MUTANTS name) if given.
    Raises RuntimeUsageError for ops the native runtime does not run and for oversized programs."""
    check_mutant(mutant)
    codes = _native().OPCODES
    rewrite = _REWRITES.get(mutant, {})
    var_index = {v.name: i for i, v in enumerate(program.vars)}
    if len(program.threads) > MAX_THREADS or len(var_index) > MAX_VARS:
        raise RuntimeUsageError(f"{program.name}: the native runtime runs at most {MAX_THREADS} "
                                f"threads and {MAX_VARS} variables")
    threads = []
    for t, thread in enumerate(program.threads):
        regs = program.registers(t)
        slots = {r: i for i, r in enumerate(regs)}
        scratch = len(regs)
        consts: dict = {}

        def value(v):
            if isinstance(v, str):
                return slots[v]
            return consts.setdefault(v, scratch + 1 + len(consts))

        words = array("i")
        for i, op in enumerate(walk_ops(thread.ops)):
            if isinstance(op, SYNC_OPS):
                raise RuntimeUsageError(
                    f"{_where(program, t, i, op)}: the native runtime does not run "
                    f"{type(op).__name__} yet (Go primitives come with the Go-model issue)")
            name, loc, dst, a, b = _encode(op, slots, scratch, value, var_index)
            name = rewrite.get(name, name)
            words.extend((codes[name], loc, dst, a, b))
        if len(words) // 5 > _native().MAX_OPS:
            raise RuntimeUsageError(f"{program.name}: P{t} has {len(words) // 5} ops; the native "
                                    f"runtime runs at most {_native().MAX_OPS} per thread")
        file = (0,) * (scratch + 1) + tuple(consts)
        if len(file) > _native().MAX_FILE:
            raise RuntimeUsageError(f"{program.name}: P{t} needs {len(file)} register and "
                                    f"constant slots; at most {_native().MAX_FILE} are supported")
        threads.append(CompiledThread(words.tobytes(), file, regs))
    width = sum(len(th.regs) for th in threads) + len(var_index) + 1
    if width > MAX_KEY:
        raise RuntimeUsageError(f"{program.name}: an outcome of {width} values is too large "
                                f"(at most {MAX_KEY} registers and variables)")
    return Compiled(program, tuple(threads), tuple(var_index),
                    tuple(v.init for v in program.vars), mutant)


def _encode(op, slots, scratch, value, var_index) -> tuple:
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
