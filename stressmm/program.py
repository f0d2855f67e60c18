"""The program IR: immutable, hashable values for litmus programs, and their validation.

A program is a tuple of declarations (shared variables and Go-style primitives), a tuple of
threads (straight-line lists of ops), an optional final condition and expectations::

    >>> sb = Program(
    ...     name="SB",
    ...     decls=(Var("x"), Var("y")),
    ...     threads=(
    ...         Thread((Store("x", 1), Load("r0", "y"))),
    ...         Thread((Store("y", 1), Load("r1", "x"))),
    ...     ),
    ... )
    >>> sb.registers(0)
    ('r0',)

Every `Program` is validated when it is built: an invalid one raises `ProgramError`, whose
message names the thread, the op (and its source line when the program came from a file) and
what to do instead. Values of this module never change once built; use `dataclasses.replace`.

Semantics fixed here (the models and the runtimes follow them):

- Registers are thread-local and start at 0; locations start at their declared `init`.
- A `Load`, `Store` or `Await` with order None is a plain (non-atomic) access. A plain
  variable takes only plain accesses; an atomic variable takes atomic ones and also plain loads
  and stores (`Program.mixed`): a non-atomic access of an atomic location, as C11 allows and Go
  programs that use `sync/atomic` on some accesses of a variable do.
- `Rmw(ADD)` puts the *new* value in its register (Go's `atomic.Add`), `Rmw(FETCH_ADD)` the old
  value (C's `atomic_fetch_add`), `Rmw(SWAP)` the old value,
  `Rmw(CAS)` 1 on success and 0 on failure (Go's `atomic.CompareAndSwap`).
- `Await(loc, v, until_equal=True)` spins until the location holds `v`; with `until_equal=False`
  it spins while the location holds `v` (Go's `for atomic.Load(&ready) == 0 {}`).
- `Recv` on a closed, drained channel gives 0 and `ok` = 0; `Send` on a closed channel and
  `Close` of a closed channel panic; the whole run then ends with the `panic` outcome.
- `OnceDo(once, body)`: the first caller runs `body`; every call returns after the body ran.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional, Union

__all__ = [
    "Order", "RmwOp", "Value", "Sum", "value_in",
    "Var", "Mutex", "Chan", "Once", "WaitGroup", "Decl",
    "Load", "Store", "Rmw", "Fence", "Await",
    "Lock", "Unlock", "RLock", "RUnlock", "Send", "Recv", "Close", "OnceDo",
    "WgAdd", "WgDone", "WgWait", "Op", "MEMORY_OPS", "SYNC_OPS",
    "RegRef", "MemRef", "Cmp", "FlagIs", "And", "Or", "Not", "Expr", "Condition", "QUANTIFIERS",
    "Expect", "VERDICTS", "FLAGS", "Thread", "Program", "ProgramError",
    "walk_ops", "is_plain_access", "kind_name", "MAX_VALUE",
]

MAX_VALUE = 2**31 - 1
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ProgramError(ValueError):
    """An invalid program. `str(err)` says what is wrong, where, and what to do instead."""

    def __init__(self, message: str, *, thread: Optional[int] = None, index: Optional[int] = None,
                 line: Optional[int] = None, program: Optional[str] = None):
        where = []
        if program:
            where.append(f"program {program}")
        if thread is not None:
            where.append(f"P{thread}")
        if index is not None:
            where.append(f"op {index}")
        if line is not None:
            where.append(f"line {line}")
        self.message = message
        self.thread, self.index, self.line, self.program = thread, index, line, program
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class Order(str, enum.Enum):
    """C11 memory orders, weakest first."""

    RELAXED = "relaxed"
    ACQUIRE = "acquire"
    RELEASE = "release"
    ACQ_REL = "acq_rel"
    SEQ_CST = "seq_cst"

    def __str__(self) -> str:
        return self.value


LOAD_ORDERS = frozenset({Order.RELAXED, Order.ACQUIRE, Order.SEQ_CST})
STORE_ORDERS = frozenset({Order.RELAXED, Order.RELEASE, Order.SEQ_CST})
RMW_ORDERS = frozenset(Order)
FENCE_ORDERS = frozenset({Order.ACQUIRE, Order.RELEASE, Order.ACQ_REL, Order.SEQ_CST})


class RmwOp(str, enum.Enum):
    """Read-modify-write kinds: ADD returns the new value (Go's atomic.Add), FETCH_ADD the old
    one (C's atomic_fetch_add), SWAP the old, CAS 1/0 for success."""

    ADD = "add"
    FETCH_ADD = "fetch_add"
    SWAP = "swap"
    CAS = "cas"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Sum:
    """`reg + const`: a register of the thread plus a constant, as a stored or sent value
    (`x = r0 + 1`: a counter incremented under a lock). `const` may be negative (`r0 - 1`).

        >>> str(Sum("r0", 1)), str(Sum("r0", -2))
        ('r0 + 1', 'r0 - 2')
    """

    reg: str
    const: int

    def __str__(self) -> str:
        return f"{self.reg} + {self.const}" if self.const >= 0 else f"{self.reg} - {-self.const}"


Value = Union[int, str, Sum]
"""An op's operand: an int constant, the name of a register of the same thread, or (for stored
and sent values) a `Sum` of a register and a constant."""


def value_in(v: Value, read) -> int:
    """The number an operand stands for, `read(reg)` giving a register's value.

        >>> value_in(Sum("r0", 1), {"r0": 4}.get), value_in(3, None)
        (5, 3)
    """
    if isinstance(v, Sum):
        return read(v.reg) + v.const
    return read(v) if isinstance(v, str) else v


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Var:
    """A shared memory location: plain (non-atomic) unless `atomic`. Plain accesses only
    unless `atomic`; an atomic one takes `atomic.*` ops and plain loads and stores."""

    name: str
    atomic: bool = False
    init: int = 0


@dataclass(frozen=True)
class Mutex:
    """A `sync.Mutex`, or a `sync.RWMutex` when `rw`."""

    name: str
    rw: bool = False


@dataclass(frozen=True)
class Chan:
    """A channel of ints; capacity 0 is an unbuffered (rendezvous) channel."""

    name: str
    capacity: int = 0


@dataclass(frozen=True)
class Once:
    """A `sync.Once`."""

    name: str


@dataclass(frozen=True)
class WaitGroup:
    """A `sync.WaitGroup`."""

    name: str


Decl = Union[Var, Mutex, Chan, Once, WaitGroup]

# ---------------------------------------------------------------- ops
# Every op has a keyword-only `line`: the source line it was parsed from, for messages. It is
# left out of equality and hashing so that printing then parsing gives an equal program.

_LINE = dict(default=None, compare=False, hash=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Load:
    """`reg = loc` (plain, order None) or `reg = atomic.Load(&loc, order)`."""

    reg: str
    loc: str
    order: Optional[Order] = None
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Store:
    """`loc = value` (plain, order None) or `atomic.Store(&loc, value, order)`."""

    loc: str
    value: Value
    order: Optional[Order] = None
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Rmw:
    """An atomic read-modify-write. `operand` is the addend (ADD), the new value (SWAP, CAS);
    `expected` is CAS's comparand. `reg` (optional) receives the result, see the module doc."""

    reg: Optional[str]
    loc: str
    op: RmwOp
    operand: Value
    expected: Optional[int] = None
    order: Order = Order.SEQ_CST
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Fence:
    """`fence(order)`: a C11 thread fence."""

    order: Order = Order.SEQ_CST
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Await:
    """Spin on `loc` until it holds `value` (or, with `until_equal=False`, until it does not).
    Plain when `order` is None. Bounded at run time; a model sees it as blocking."""

    loc: str
    value: int
    order: Optional[Order] = None
    until_equal: bool = True
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Lock:
    mutex: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Unlock:
    mutex: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class RLock:
    mutex: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class RUnlock:
    mutex: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Send:
    """`chan <- value`."""

    chan: str
    value: Value
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Recv:
    """`reg = <-chan`, `reg, ok = <-chan` or `<-chan`."""

    chan: str
    reg: Optional[str] = None
    ok: Optional[str] = None
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class Close:
    chan: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class OnceDo:
    """`once.Do { body }`: body runs in the first caller only."""

    once: str
    body: tuple
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class WgAdd:
    wg: str
    delta: int = 1
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class WgDone:
    wg: str
    line: Optional[int] = field(**_LINE)


@dataclass(frozen=True)
class WgWait:
    wg: str
    line: Optional[int] = field(**_LINE)


MEMORY_OPS = (Load, Store, Rmw, Fence, Await)
SYNC_OPS = (Lock, Unlock, RLock, RUnlock, Send, Recv, Close, OnceDo, WgAdd, WgDone, WgWait)
Op = Union[Load, Store, Rmw, Fence, Await, Lock, Unlock, RLock, RUnlock, Send, Recv, Close,
           OnceDo, WgAdd, WgDone, WgWait]


def walk_ops(ops: tuple) -> Iterator[Op]:
    """Every op of `ops` in program order, descending into `OnceDo` bodies after the OnceDo."""
    for op in ops:
        yield op
        if isinstance(op, OnceDo):
            yield from walk_ops(op.body)


def is_plain_access(op: Op) -> bool:
    """Whether `op` is a plain (non-atomic) load, store or spin loop.

        >>> is_plain_access(Load("r0", "x")), is_plain_access(Load("r0", "a", Order.RELAXED))
        (True, False)
    """
    return isinstance(op, (Load, Store, Await)) and op.order is None


def reads_of(op: Op) -> tuple:
    """Registers an op reads."""
    vals = ()
    if isinstance(op, (Store, Send)):
        vals = (op.value,)
    elif isinstance(op, Rmw):
        vals = (op.operand,)
    return tuple(v.reg if isinstance(v, Sum) else v for v in vals if isinstance(v, (str, Sum)))


def writes_of(op: Op) -> tuple:
    """Registers an op writes."""
    if isinstance(op, Load):
        return (op.reg,)
    if isinstance(op, Rmw):
        return (op.reg,) if op.reg else ()
    if isinstance(op, Recv):
        return tuple(r for r in (op.reg, op.ok) if r)
    return ()


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class RegRef:
    """`P<thread>:<reg>` in a condition."""

    thread: int
    reg: str

    def __str__(self) -> str:
        return f"P{self.thread}:{self.reg}"


@dataclass(frozen=True)
class MemRef:
    """The final value of a location in a condition."""

    loc: str

    def __str__(self) -> str:
        return self.loc


@dataclass(frozen=True)
class Cmp:
    """`lhs == value` or `lhs != value`: `value` is an int, or another register or location
    (`P0:r0 == P1:r0`)."""

    lhs: Union[RegRef, MemRef]
    value: Union[int, RegRef, MemRef]
    equal: bool = True


FLAGS = ("deadlock", "panic", "timeout")


@dataclass(frozen=True)
class FlagIs:
    """The outcome carries a flag: `deadlock`, `panic` or `timeout`."""

    flag: str


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: "Expr"


Expr = Union[Cmp, FlagIs, And, Or, Not]


QUANTIFIERS = ("exists", "~exists", "forall")
"""How a condition quantifies over the outcomes, as in herd7: `exists p` holds when some outcome
satisfies p, `~exists p` when none does, `forall p` when every outcome does."""


@dataclass(frozen=True)
class Condition:
    """A final-state condition, `exists (expr)` by default, or `~exists (expr)`, `forall (expr)`
    (see `QUANTIFIERS`)."""

    expr: Expr
    quantifier: str = "exists"


VERDICTS = ("allowed", "forbidden", "race", "norace", "deadlock")
"""What an `expect` line can claim of a model:
allowed/forbidden: whether the model allows a witness of the condition: an outcome satisfying the
expression of `exists` / `~exists`, or one violating the expression of `forall` (so `exists`
holds when it is allowed, `~exists` and `forall` when it is forbidden);
race/norace: whether the model reports a data race; deadlock: whether the model allows a deadlock."""


@dataclass(frozen=True)
class Expect:
    """`expect MODEL: VERDICT`, with the source of the verdict kept as a comment elsewhere.
    `line`: where the model name was written, for messages (not part of equality)."""

    model: str
    verdict: str
    line: Optional[int] = field(**_LINE)


# ---------------------------------------------------------------- threads and programs


@dataclass(frozen=True)
class Thread:
    ops: tuple


@dataclass(frozen=True)
class Program:
    name: str
    decls: tuple
    threads: tuple
    condition: Optional[Condition] = None
    expects: tuple = ()
    description: str = ""

    def __post_init__(self) -> None:
        # Accept lists for convenience; store tuples so values stay immutable and hashable.
        for attr in ("decls", "threads", "expects"):
            value = getattr(self, attr)
            if isinstance(value, list):
                object.__setattr__(self, attr, tuple(value))
        object.__setattr__(self, "threads", tuple(
            Thread(tuple(t)) if isinstance(t, (list, tuple)) else t for t in self.threads))
        _validate(self)

    # -- queries -------------------------------------------------------------
    def decl(self, name: str) -> Optional[Decl]:
        for d in self.decls:
            if d.name == name:
                return d
        return None

    @property
    def vars(self) -> tuple:
        """The memory locations (plain and atomic), in declaration order."""
        return tuple(d for d in self.decls if isinstance(d, Var))

    def registers(self, thread: int) -> tuple:
        """The registers thread `thread` writes, in order of first write."""
        seen: dict = {}
        for op in walk_ops(self.threads[thread].ops):
            for r in writes_of(op):
                seen.setdefault(r, None)
        return tuple(seen)

    def ops(self) -> Iterator[tuple]:
        """(thread index, op) for every op, in program order per thread."""
        for i, t in enumerate(self.threads):
            for op in walk_ops(t.ops):
                yield i, op

    @property
    def mixed(self) -> frozenset:
        """The atomic variables that also have plain (non-atomic) accesses.

            >>> Program("M", (Var("a", atomic=True),), (Thread((Store("a", 1),)),
            ...     Thread((Load("r0", "a", Order.SEQ_CST),)))).mixed
            frozenset({'a'})
        """
        atomic = {v.name for v in self.vars if v.atomic}
        return frozenset(op.loc for _, op in self.ops()
                         if is_plain_access(op) and op.loc in atomic)

    @property
    def uses_sync(self) -> bool:
        """Whether the program uses any Go-style primitive."""
        return any(isinstance(op, SYNC_OPS) for _, op in self.ops())

    @property
    def size(self) -> int:
        """Number of ops, counting once bodies."""
        return sum(1 for _ in self.ops())


# ---------------------------------------------------------------- validation


def _validate(p: Program) -> None:
    def fail(msg, thread=None, index=None, op=None):
        raise ProgramError(msg, thread=thread, index=index,
                           line=getattr(op, "line", None), program=p.name or None)

    if not isinstance(p.name, str):
        fail("the program name must be a string")
    names: dict = {}
    for d in p.decls:
        if not isinstance(d, (Var, Mutex, Chan, Once, WaitGroup)):
            fail(f"{d!r} is not a declaration (Var, Mutex, Chan, Once or WaitGroup)")
        if not isinstance(d.name, str) or not _IDENT.match(d.name):
            fail(f"declared name {d.name!r} is not an identifier")
        if d.name in names:
            fail(f"{d.name!r} is declared twice")
        if d.name in ("atomic", "fence", "close", "exists", "expect", "var", "chan", "for"):
            fail(f"{d.name!r} is a keyword of the litmus format; pick another name")
        if isinstance(d, Var) and not _small(d.init):
            fail(f"initial value of {d.name} must be an int in [-{MAX_VALUE}, {MAX_VALUE}]")
        if isinstance(d, Chan) and (not isinstance(d.capacity, int) or not 0 <= d.capacity <= 64):
            fail(f"channel {d.name} capacity must be an int in [0, 64], got {d.capacity!r}")
        names[d.name] = d
    if not p.threads:
        fail("a program needs at least one thread")
    lock_ops = _lock_ops(p)
    for ti, t in enumerate(p.threads):
        if not isinstance(t, Thread):
            fail(f"thread {ti} is not a Thread", thread=ti)
        _validate_ops(p, names, ti, t.ops, written=set(), held={}, in_once=False, fail=fail,
                      lock_ops=lock_ops)
    if p.condition is not None:
        if not isinstance(p.condition, Condition):
            fail("the condition must be a Condition")
        if p.condition.quantifier not in QUANTIFIERS:
            fail(f"condition quantifier {p.condition.quantifier!r} is not one of "
                 f"{', '.join(QUANTIFIERS)}")
        _validate_expr(p, names, p.condition.expr, fail)
    for e in p.expects:
        if not isinstance(e, Expect):
            fail(f"{e!r} is not an Expect")
        if not _IDENT.match(e.model):
            fail(f"expect: model name {e.model!r} is not an identifier")
        if e.verdict not in VERDICTS:
            fail(f"expect {e.model}: verdict {e.verdict!r} is not one of {', '.join(VERDICTS)}")
        if e.verdict in ("allowed", "forbidden") and p.condition is None:
            fail(f"expect {e.model}: {e.verdict} needs an `exists (...)` condition to refer to")


def _small(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -MAX_VALUE <= v <= MAX_VALUE


def _lock_ops(p: Program) -> frozenset:
    """(thread index, op type, mutex) of every lock op of `p`, once bodies included.

    >>> p = Program("T", (Mutex("m"),), (Thread((Lock("m"),)), Thread((Unlock("m"),))))
    >>> sorted((t, k.__name__) for t, k, m in _lock_ops(p))
    [(0, 'Lock'), (1, 'Unlock')]
    """
    def ops_of(ops):
        for op in ops if isinstance(ops, tuple) else ():
            yield op
            if isinstance(op, OnceDo):
                yield from ops_of(op.body)
    return frozenset((ti, type(op), op.mutex) for ti, t in enumerate(p.threads)
                     if isinstance(t, Thread) for op in ops_of(t.ops)
                     if isinstance(op, (Lock, Unlock, RLock, RUnlock)))


def _validate_ops(p, names, ti, ops, written, held, in_once, fail, lock_ops):
    if not isinstance(ops, tuple):
        fail("ops must be a tuple", thread=ti)
    for oi, op in enumerate(ops):
        def bad(msg):
            fail(msg, thread=ti, index=oi, op=op)

        def need(name, kinds, what):
            d = names.get(name)
            if d is None:
                bad(f"unknown {what} {name!r}: declare it first")
            if not isinstance(d, kinds):
                bad(f"{name!r} is a {kind_name(d)}, not a {what}")
            return d

        def check_reg(r, role="register"):
            if not isinstance(r, str) or not _IDENT.match(r):
                bad(f"{role} name {r!r} is not an identifier")
            if r in names:
                bad(f"register {r!r} has the name of a declared {kind_name(names[r])}; rename it")

        def check_value(v, sums=False):
            if isinstance(v, Sum):
                if not sums:
                    bad(f"{v} is a register plus a constant: only stores and sends take one")
                if not _small(v.const):
                    bad(f"the constant of {v} must be an int in [-{MAX_VALUE}, {MAX_VALUE}]")
                v = v.reg
            if isinstance(v, str):
                check_reg(v)
                if v not in written:
                    bad(f"register {v} is read before it is written in P{ti}")
            elif not _small(v):
                bad(f"value {v!r} must be an int in [-{MAX_VALUE}, {MAX_VALUE}] or a register")

        if isinstance(op, (Load, Store, Await)):
            var = need(op.loc, Var, "variable")
            kind = {Load: "load", Store: "store", Await: "await"}[type(op)]
            allowed = STORE_ORDERS if isinstance(op, Store) else LOAD_ORDERS
            if isinstance(op, Await) and var.atomic and op.order is None:
                bad(f"{op.loc} is atomic: a spin loop on it needs a memory order "
                    f"(one of {_names(allowed)}); a plain spin loop on an atomic variable "
                    f"is not supported: read it plainly into a register (`r0 = {op.loc}`)")
            if not var.atomic and op.order is not None:
                bad(f"{op.loc} is a plain variable: a {kind} of it takes no memory order; "
                    f"declare it `atomic` to use {op.order}")
            if op.order is not None and op.order not in allowed:
                bad(f"{op.order} is not a valid order for a {kind} (use one of {_names(allowed)})")
            if isinstance(op, Load):
                check_reg(op.reg)
            elif isinstance(op, Store):
                check_value(op.value, sums=True)
            else:
                if not _small(op.value):
                    bad(f"await value {op.value!r} must be an int")
        elif isinstance(op, Rmw):
            var = need(op.loc, Var, "variable")
            if not var.atomic:
                bad(f"{op.loc} is a plain variable: read-modify-writes need an `atomic` variable")
            if not isinstance(op.op, RmwOp):
                bad(f"rmw kind {op.op!r} is not an RmwOp")
            if op.order not in RMW_ORDERS:
                bad(f"rmw order {op.order!r} is not a memory order")
            check_value(op.operand)
            if op.op is RmwOp.CAS:
                if not _small(op.expected):
                    bad("compare-and-swap needs an int `expected` value")
            elif op.expected is not None:
                bad(f"only compare-and-swap takes an expected value, not {op.op}")
            if op.reg is not None:
                check_reg(op.reg)
        elif isinstance(op, Fence):
            if op.order not in FENCE_ORDERS:
                bad(f"{op.order} is not a valid fence order (use one of {_names(FENCE_ORDERS)})")
        elif isinstance(op, (Lock, Unlock, RLock, RUnlock)):
            m = need(op.mutex, Mutex, "mutex")
            if isinstance(op, (RLock, RUnlock)) and not m.rw:
                bad(f"{op.mutex} is a Mutex: RLock/RUnlock need `rwmutex {op.mutex}`")
            # A mutex belongs to no goroutine (pkg.go.dev/sync#Mutex.Unlock): a thread may
            # unlock what another locked, and may lock again what another unlocks. `held` is
            # what this thread holds in program order ("w", or its number of read locks);
            # only a certain self-deadlock or a certain panic is refused.
            state = held.get(op.mutex)

            def elsewhere(kind):
                return any(k is kind and name == op.mutex and t != ti for t, k, name in lock_ops)
            if isinstance(op, Lock):
                if state == "w" and not elsewhere(Unlock):
                    bad(f"P{ti} locks {op.mutex} while it already holds it: a certain self-deadlock")
                if state not in (None, "w") and not elsewhere(RUnlock):
                    bad(f"P{ti} locks {op.mutex} while it holds a read lock of it: "
                        "a certain self-deadlock")
                held[op.mutex] = "w"
            elif isinstance(op, RLock):
                if state == "w" and not elsewhere(Unlock):
                    bad(f"P{ti} read-locks {op.mutex} while it holds its write lock: "
                        "a certain self-deadlock")
                held[op.mutex] = state + 1 if isinstance(state, int) else 1
            elif isinstance(op, Unlock):
                if state == "w":
                    del held[op.mutex]
                elif not elsewhere(Lock):
                    hint = "it holds a read lock: use RUnlock" if state else "Lock it first"
                    bad(f"unlock of {op.mutex}, which P{ti} does not hold and no other thread locks: "
                        f"a certain panic ({hint})")
            elif isinstance(state, int):
                held[op.mutex] = state - 1
                if state == 1:
                    del held[op.mutex]
            elif not elsewhere(RLock):
                bad(f"RUnlock of {op.mutex}, which P{ti} has not read-locked and no other "
                    "thread read-locks: a certain panic")
        elif isinstance(op, (Send, Recv, Close)):
            need(op.chan, Chan, "channel")
            if isinstance(op, Send):
                check_value(op.value, sums=True)
            elif isinstance(op, Recv):
                for r, role in ((op.reg, "register"), (op.ok, "ok register")):
                    if r is not None:
                        check_reg(r, role)
                if op.reg is not None and op.reg == op.ok:
                    bad("a receive cannot put its value and its ok flag in the same register")
        elif isinstance(op, OnceDo):
            need(op.once, Once, "once")
            if in_once:
                bad("once.Do inside a once.Do body is not supported")
            _validate_ops(p, names, ti, op.body, written, held, True, fail, lock_ops)
        elif isinstance(op, (WgAdd, WgDone, WgWait)):
            need(op.wg, WaitGroup, "waitgroup")
            if isinstance(op, WgAdd) and (not _small(op.delta) or op.delta == 0):
                bad("wg.Add needs a non-zero int delta")
        else:
            bad(f"{op!r} is not an op")
        written.update(writes_of(op))
    return written


def _validate_ref(p, names, ref, fail):
    if isinstance(ref, RegRef):
        if not 0 <= ref.thread < len(p.threads):
            fail(f"condition names P{ref.thread}, but the program has "
                 f"{len(p.threads)} thread(s)")
        if ref.reg not in p.registers(ref.thread):
            fail(f"condition names {ref}, a register P{ref.thread} never writes")
    elif isinstance(ref, MemRef):
        if not isinstance(names.get(ref.loc), Var):
            fail(f"condition names {ref.loc!r}, which is not a declared variable")
    else:
        fail(f"{ref!r} is not a register or location reference")


def _validate_expr(p, names, e, fail):
    if isinstance(e, Cmp):
        if isinstance(e.value, (RegRef, MemRef)):
            _validate_ref(p, names, e.value, fail)
        elif not _small(e.value):
            fail(f"condition value {e.value!r} must be an int, a register or a variable")
        _validate_ref(p, names, e.lhs, fail)
    elif isinstance(e, FlagIs):
        if e.flag not in FLAGS:
            fail(f"unknown outcome flag {e.flag!r} (one of {', '.join(FLAGS)})")
    elif isinstance(e, (And, Or)):
        for item in e.items:
            _validate_expr(p, names, item, fail)
    elif isinstance(e, Not):
        _validate_expr(p, names, e.item, fail)
    else:
        fail(f"{e!r} is not a condition expression")


def kind_name(d: Decl) -> str:
    """What a declaration is, in words: "variable", "atomic variable", "mutex", "channel"..."""
    if isinstance(d, Var):
        return "atomic variable" if d.atomic else "variable"
    if isinstance(d, Mutex):
        return "rwmutex" if d.rw else "mutex"
    return {Chan: "channel", Once: "once", WaitGroup: "waitgroup"}[type(d)]


def _names(orders) -> str:
    return ", ".join(o.value for o in Order if o in orders)
