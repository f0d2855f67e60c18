"""C's fetch-add (the old value) beside Go's atomic.Add (the new value): one value rule in each
model, the same answer from every runtime."""
import shutil

import pytest

from stressmm.check import check
from stressmm.herd_c import parse as parse_c, print_c
from stressmm.outcome import evaluate
from stressmm.program import RmwOp
from stressmm.runtime import native, pythreads
from stressmm.syntax import parse, print_program

ONE = parse("""litmus FetchAdd
var n atomic int = 5
P0:
  r0 = atomic.FetchAdd(&n, 2, relaxed)
  r1 = atomic.Add(&n, 3)
  atomic.FetchAdd(&n, r0)
forall (P0:r0 == 5 && P0:r1 == 10 && n == 15)
expect sc: forbidden; tso: forbidden; go: forbidden; c11: forbidden
""")[0]

TWO = parse("""litmus FetchAdd2
var n atomic int
P0:
  r0 = atomic.FetchAdd(&n, 1)
P1:
  r0 = atomic.FetchAdd(&n, 1, acq_rel)
forall (n == 2 && P0:r0 != P1:r0 && (P0:r0 == 0 || P1:r0 == 0))
expect sc: forbidden; tso: forbidden; go: forbidden; c11: forbidden
""")[0]


def test_text_round_trip_and_ir():
    assert ONE.threads[0].ops[0].op is RmwOp.FETCH_ADD
    assert parse(print_program(ONE)) == [ONE]
    assert "atomic.FetchAdd(&n, 2, relaxed)" in print_program(ONE)


@pytest.mark.parametrize("program", [ONE, TWO], ids=lambda p: p.name)
def test_every_model_gives_the_old_value(program):
    report = check(program, ["sc", "tso", "go", "c11"])
    assert all(e.holds for e in report.expectations), report.expectations
    assert all(report.condition_holds(m) for m in ("sc", "tso", "go", "c11"))


def test_herd_c_reads_fetch_add_as_the_old_value():
    text = print_c(ONE)
    assert "int r0 = atomic_fetch_add_explicit(n, 2, memory_order_relaxed);" in text
    assert "int r1 = atomic_fetch_add_explicit(n, 3, memory_order_seq_cst) + 3;" in text
    assert parse_c(text) == [ONE]


@pytest.mark.parametrize("run", [native.run, pythreads.run], ids=["native", "pythreads"])
def test_runtimes_give_the_old_value(run):
    hist = run(ONE, iterations=200)
    assert hist.total == 200
    assert all(evaluate(ONE.condition.expr, o) for o in hist.counts), hist.counts


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain (gc)")
def test_go_backend_gives_the_old_value():
    from stressmm.runtime.go import make_backend

    hist = make_backend("go").run(ONE, iterations=100)
    assert hist.total == 100
    assert all(evaluate(ONE.condition.expr, o) for o in hist.counts), hist.counts
