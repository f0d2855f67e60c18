"""Stored and sent values computed from a register: `x = r0 + 1`, the counter under a lock
(the most common lock test), in the text, every model and every runtime."""
import shutil

import pytest

from stressmm.check import check
from stressmm.herd_c import parse as parse_c, print_c
from stressmm.outcome import evaluate
from stressmm.program import Program, ProgramError, Rmw, RmwOp, Store, Sum, Thread, Var
from stressmm.runtime import native, pythreads
from stressmm.syntax import LitmusSyntaxError, parse, print_program

COUNTER = parse("""litmus Counter+lock "two increments of a counter under a mutex"
var n int
mutex mu
P0:
  mu.Lock(); r0 = n; n = r0 + 1; mu.Unlock()
P1:
  mu.Lock(); r0 = n; n = r0 + 1; mu.Unlock()
forall (n == 2)
expect sc: forbidden; tso: forbidden; go: forbidden; go: norace
""")[0]

RACY = parse("""litmus Counter+racy "two unlocked increments of an atomic counter"
var n atomic int
P0:
  r0 = atomic.Load(&n)
  atomic.Store(&n, r0 + 1)
P1:
  r0 = atomic.Load(&n)
  atomic.Store(&n, r0 - -1)
exists (n == 1)
expect sc: allowed; tso: allowed; go: allowed; c11: allowed
""")[0]

SEND = parse("""litmus Send+sum
var x int
chan c 1
P0:
  r0 = x
  c <- r0 - 3
P1:
  r1 = <-c
forall (P1:r1 == -3)
""")[0]


def test_text_round_trip():
    for p in (COUNTER, RACY, SEND):
        assert parse(print_program(p)) == [p]
    assert COUNTER.threads[0].ops[2] == Store("n", Sum("r0", 1))
    assert "c <- r0 - 3" in print_program(SEND)


def test_a_sum_reads_a_register_written_before():
    with pytest.raises(LitmusSyntaxError, match="r9 is read before it is written"):
        parse("litmus T\nvar x int\nP0:\n  x = r9 + 1\n")
    with pytest.raises(ProgramError, match="only stores and sends"):
        Program("T", (Var("a", atomic=True),), (Thread((
            Rmw("r0", "a", RmwOp.ADD, 1), Rmw(None, "a", RmwOp.ADD, Sum("r0", 1)))),))


@pytest.mark.parametrize("program, models", [
    (COUNTER, ["sc", "tso", "go"]), (RACY, ["sc", "tso", "go", "c11"]), (SEND, ["sc", "tso", "go"]),
], ids=lambda v: getattr(v, "name", ""))
def test_every_model_computes_the_value(program, models):
    report = check(program, models)
    assert all(e.holds for e in report.expectations), report.expectations
    if program.condition.quantifier == "forall":
        assert all(report.condition_holds(m) for m in models)


def test_c11_computes_the_stored_value_from_earlier_reads():
    """Both reads of RACY may see 0 (the lost update) or one may see the other's 1."""
    report = check(RACY, ["c11"])
    finals = {o.memory("n") for o in report.results["c11"].outcomes}
    assert finals == {1, 2}


def test_herd_c_round_trip():
    text = print_c(RACY)
    assert "atomic_store_explicit(n, r0 + 1, memory_order_seq_cst);" in text
    assert parse_c(text) == [RACY]


@pytest.mark.parametrize("run", [native.run, pythreads.run], ids=["native", "pythreads"])
def test_runtimes_compute_the_value(run):
    for program in (COUNTER, SEND):
        hist = run(program, iterations=300)
        assert hist.total == 300
        assert all(evaluate(program.condition.expr, o) for o in hist.counts
                   if "timeout" not in o.flags), hist.counts


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain (gc)")
def test_go_backend_computes_the_value():
    from stressmm.runtime.go import make_backend

    hist = make_backend("go").run(COUNTER, iterations=100)
    assert hist.total == 100
    assert all(evaluate(COUNTER.condition.expr, o) for o in hist.counts), hist.counts
