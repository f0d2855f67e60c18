"""Properties of the sc and tso models on random programs.

- sc ⊆ tso: every sequentially consistent execution is an x86-TSO one (each store flushed at once).
- tso == sc when every access is seq_cst: xchg stores never leave anything in a buffer.
- the partial-order reduction of the machine changes no outcome (reduced == full search).
- on memory-only programs both models agree with small, independent, naive interpreters
  written below from the rules alone (no reduction, no shared code with the models).
- every allowed outcome has a witness, and the witness ends in that outcome.
"""
from hypothesis import HealthCheck, given, settings

from stressmm.models import get_model
from stressmm.outcome import Outcome
from stressmm.program import Await, Fence, Load, Order, Program, Rmw, RmwOp, Store
from stressmm.strategies import programs

SC, TSO = get_model("sc"), get_model("tso")
MEMORY_KINDS = ("load", "store", "rmw", "fence", "await")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


MEMORY = dict(threads=(2, 3), ops=(1, 3), kinds=MEMORY_KINDS, atomic="mixed")
WITH_SYNC = dict(threads=(2, 3), ops=(1, 3), kinds=MEMORY_KINDS, atomic="mixed", sync=True)


# ---------------------------------------------------------------- model properties


@FAST
@given(programs(**MEMORY))
def test_sc_is_included_in_tso(program):
    assert SC.allowed(program).outcomes <= TSO.allowed(program).outcomes


@FAST
@given(programs(**WITH_SYNC))
def test_sc_is_included_in_tso_with_primitives(program):
    assert SC.allowed(program).outcomes <= TSO.allowed(program).outcomes


@FAST
@given(programs(**dict(MEMORY, atomic=True, orders=["seq_cst"])))
def test_tso_equals_sc_when_every_access_is_seq_cst(program):
    assert TSO.allowed(program).outcomes == SC.allowed(program).outcomes


@FAST
@given(programs(**dict(WITH_SYNC, atomic=True, orders=["seq_cst"])))
def test_tso_equals_sc_when_every_access_is_seq_cst_with_primitives(program):
    assert TSO.allowed(program).outcomes == SC.allowed(program).outcomes


@FAST
@given(programs(**WITH_SYNC))
def test_reduction_is_exact(program):
    for model in (SC, TSO):
        reduced = model.allowed(program)
        full = model.unreduced().allowed(program)
        assert reduced.outcomes == full.outcomes
        assert reduced.states <= full.states


@FAST
@given(programs(**MEMORY))
def test_models_agree_with_naive_interpreters(program):
    assert SC.allowed(program).outcomes == naive_outcomes(program, buffered=False)
    assert TSO.allowed(program).outcomes == naive_outcomes(program, buffered=True)


@settings(max_examples=25, deadline=None)
@given(programs(**WITH_SYNC))
def test_every_allowed_outcome_has_a_witness_ending_in_it(program):
    for model in (SC, TSO):
        for outcome in model.allowed(program).outcomes:
            explanation = model.explain(program, outcome)
            assert explanation is not None and explanation.outcome == outcome
            assert all(isinstance(s, str) and s for s in explanation.steps)
            # no step at all only when every thread is blocked from the start
            assert explanation.steps or outcome == Outcome.flagged("deadlock")


@FAST
@given(programs(**WITH_SYNC))
def test_outcomes_name_every_register_and_variable(program):
    regs = {(t, r) for t in range(len(program.threads)) for r in program.registers(t)}
    names = {v.name for v in program.vars}
    for o in TSO.allowed(program).outcomes:
        if o.flags:
            assert o.regs == () and o.mem == () and len(o.flags) == 1
        else:
            assert {(t, r) for t, r, _ in o.regs} == regs
            assert {loc for loc, _ in o.mem} == names


# ---------------------------------------------------------------- naive reference interpreters


def naive_outcomes(program: Program, buffered: bool) -> frozenset:
    """Outcomes of a memory-op program by plain search over all interleavings (with tso store
    buffers when `buffered`), straight from the rules: no reduction, no compiled code."""
    threads = [t.ops for t in program.threads]
    init_mem = tuple(sorted((v.name, v.init) for v in program.vars))
    start = (tuple(0 for _ in threads), tuple(() for _ in threads), init_mem,
             tuple(() for _ in threads))
    seen, stack, found = {start}, [start], set()
    while stack:
        pcs, regs, mem, bufs = stack.pop()
        memory = dict(mem)
        nexts = []

        def visible(t, loc):
            for l, v in reversed(bufs[t]):
                if l == loc:
                    return v
            return memory[loc]

        def state(t, new_regs=None, new_mem=None, new_buf=None, advance=True):
            p = list(pcs)
            if advance:
                p[t] += 1
            r = list(regs)
            if new_regs is not None:
                r[t] = tuple(sorted({**dict(regs[t]), **new_regs}.items()))
            b = list(bufs)
            if new_buf is not None:
                b[t] = new_buf
            m = tuple(sorted({**memory, **(new_mem or {})}.items()))
            return (tuple(p), tuple(r), m, tuple(b))

        for t, ops in enumerate(threads):
            if pcs[t] == len(ops):
                continue
            op = ops[pcs[t]]
            drained = not bufs[t]
            if isinstance(op, Load):
                nexts.append(state(t, {op.reg: visible(t, op.loc)}))
            elif isinstance(op, Store):
                value = op.value if isinstance(op.value, int) else dict(regs[t])[op.value]
                if buffered and op.order is not Order.SEQ_CST:
                    nexts.append(state(t, new_buf=bufs[t] + ((op.loc, value),)))
                elif drained or not buffered:
                    nexts.append(state(t, new_mem={op.loc: value}))
            elif isinstance(op, Rmw):
                if drained:
                    old = memory[op.loc]
                    arg = op.operand if isinstance(op.operand, int) else dict(regs[t])[op.operand]
                    if op.op is RmwOp.ADD:
                        new, res = old + arg, old + arg
                    elif op.op is RmwOp.SWAP:
                        new, res = arg, old
                    else:
                        new, res = (arg, 1) if old == op.expected else (old, 0)
                    nexts.append(state(t, {op.reg: res} if op.reg else {}, {op.loc: new}))
            elif isinstance(op, Fence):
                if drained or op.order is not Order.SEQ_CST:
                    nexts.append(state(t))
            elif isinstance(op, Await):
                if (visible(t, op.loc) == op.value) == op.until_equal:
                    nexts.append(state(t))
            else:
                raise AssertionError(f"not a memory op: {op!r}")
        for t, buf in enumerate(bufs):
            if buf:
                loc, value = buf[0]
                nexts.append(state(t, new_mem={loc: value}, new_buf=buf[1:], advance=False))
        if not nexts:
            if all(pc == len(ops) for pc, ops in zip(pcs, threads)):
                values = {}
                for t in range(len(threads)):
                    for r in program.registers(t):
                        values[(t, r)] = dict(regs[t]).get(r, 0)
                found.add(Outcome.make(values, dict(mem)))
            else:
                found.add(Outcome.flagged("deadlock"))
        for n in nexts:
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return frozenset(found)
