"""Plain and atomic accesses of one variable: every model and every runtime.

A plain load or store of a variable declared `atomic` is a non-atomic access of that location
(docs/format.md, "Plain and atomic accesses of one variable")."""
import pytest

from stressmm.models import get_model
from stressmm.outcome import Pattern
from stressmm.runtime import available_cpus, pythreads
from stressmm.runtime.compile import compile_program, opcode_name
from stressmm.runtime.go.codegen import generate
from stressmm.syntax import parse

from hardware import until

TWO_CPUS = pytest.mark.skipif(len(available_cpus()) < 2,
                              reason="needs 2 CPUs to run two pinned program threads")


def one(text):
    [p] = parse(text)
    return p


# Store buffering on atomic variables whose stores are plain: ordinary movs under tso, so the
# store buffer lets both loads read 0; with seq_cst atomic stores (xchg) it cannot.
SB_PLAIN_STORES = one("""litmus SB+na-stores
var x, y atomic int
P0:
  x = 1
  r0 = atomic.Load(&y)
P1:
  y = 1
  r1 = atomic.Load(&x)
exists (P0:r0 == 0 && P1:r1 == 0)
""")

SB_ATOMIC_STORES = one("""litmus SB+sc-stores
var x, y atomic int
P0:
  atomic.Store(&x, 1)
  r0 = y
P1:
  atomic.Store(&y, 1)
  r1 = x
exists (P0:r0 == 0 && P1:r1 == 0)
""")

# Plain initialisation, publication through an atomic flag, then atomic and plain accesses.
PUBLISH = one("""litmus Publish
var a, ready atomic int
P0:
  a = 5
  atomic.Store(&ready, 1)
P1:
  for atomic.Load(&ready) == 0 {}
  r0 = atomic.Load(&a)
  r1 = a
  a = r1 + 1
exists (P1:r0 != 5 || P1:r1 != 5 || a != 6)
""")

# An atomic store and a plain load of one location, unordered.
RACY = one("""litmus Racy
var a atomic int
P0:
  atomic.Store(&a, 1)
P1:
  r0 = a
""")

WEAK = Pattern.parse("P0:r0=0 P1:r1=0")


# ------------------------------------------------------------------------ models

def test_sc_and_tso_run_a_plain_access_of_an_atomic_location_as_an_ordinary_one():
    sc, tso = get_model("sc"), get_model("tso")
    assert not sc.allowed(SB_PLAIN_STORES).allows(WEAK)
    assert tso.allowed(SB_PLAIN_STORES).allows(WEAK)      # a plain store waits in the buffer
    assert not tso.allowed(SB_ATOMIC_STORES).allows(WEAK)  # a seq_cst store is locked
    for model in (sc, tso):
        assert {str(o) for o in model.allowed(PUBLISH).outcomes} == {"P1:r0=5 P1:r1=5 a=6 ready=1"}


def test_c11_plain_access_of_an_atomic_location_races_with_unordered_atomic_accesses():
    c11 = get_model("c11")
    racy = c11.allowed(RACY)
    assert racy.undefined and len(racy.races) == 1
    assert "P0 `atomic.Store(&a, 1)`" in str(racy.races[0]) and "P1 `r0 = a`" in str(racy.races[0])
    published = c11.allowed(PUBLISH)
    assert published.races == () and not published.undefined
    assert {str(o) for o in published.outcomes} == {"P1:r0=5 P1:r1=5 a=6 ready=1"}
    assert len(c11.allowed(SB_ATOMIC_STORES).races) == 2      # each plain load, each store
    # two atomic accesses never race, whatever their orders
    assert c11.allowed(one(
        "litmus A\nvar a atomic int\nP0:\n  atomic.Store(&a, 1, relaxed)\n"
        "P1:\n  r0 = atomic.Load(&a, relaxed)\n")).races == ()


# A flag set by a plain store of an atomic variable, awaited atomically: the atomic load that
# reads the plain write does not synchronize with it, so the data accesses race too.
FLAG_PLAIN_STORE = one("""litmus Flag+na-store
var d int
var f atomic int
P0:
  d = 1
  f = 1
P1:
  for atomic.Load(&f) == 0 {}
  r0 = d
""")


def race_texts(result) -> list:
    return sorted(str(r) for r in result.races)


def test_go_plain_access_of_an_atomic_location_races_with_unordered_atomic_accesses():
    go = get_model("go")
    racy = go.allowed(RACY)
    assert race_texts(racy) == ["P0 `atomic.Store(&a, 1)` (line 4) and P1 `r0 = a` (line 6) "
                                "are not ordered by happens-before"]
    assert racy.undefined                      # what racy accesses of a mixed location see
    assert racy.allows("P1:r0=7") and go.explain(RACY, "P1:r0=7") is None   # no execution
    assert go.explain(RACY, "P1:r0=1") is not None
    published = go.allowed(PUBLISH)
    assert published.races == () and not published.undefined
    assert {str(o) for o in published.outcomes} == {"P1:r0=5 P1:r1=5 a=6 ready=1"}
    assert go.explain(PUBLISH, "P1:r1=5").steps[4] == "P1: r1 = a  reads 5 from P0 `a = 5` (line 4)"


@pytest.mark.parametrize("model", ["go", "c11"])
def test_an_atomic_load_that_reads_a_plain_store_does_not_synchronize(model):
    races = race_texts(get_model(model).allowed(FLAG_PLAIN_STORE))
    assert any("`d = 1`" in r and "`r0 = d`" in r for r in races), races
    assert any("`f = 1`" in r and "atomic.Load(&f)" in r for r in races), races


def test_go_races_only_on_plain_locations_keep_their_precise_outcomes():
    program = one("litmus P\nvar x int\nvar a atomic int\nP0:\n  a = 1\n  x = 1\n"
                  "  atomic.Store(&a, 2)\nP1:\n  r0 = x\n")
    result = get_model("go").allowed(program)
    assert race_texts(result) == ["P0 `x = 1` (line 6) and P1 `r0 = x` (line 9) are not "
                                  "ordered by happens-before"]
    assert not result.undefined
    assert sorted(str(o) for o in result.outcomes) == ["P1:r0=0 a=2 x=1", "P1:r0=1 a=2 x=1"]


# ------------------------------------------------------------------------ runtimes

def opcodes(program, thread=0):
    return [opcode_name(i[0]) for i in compile_program(program).threads[thread].instructions()]


def test_native_compiles_a_plain_access_of_an_atomic_location_to_a_plain_instruction():
    assert opcodes(SB_PLAIN_STORES)[:2] == ["STORE_PLAIN", "LOAD_SEQ_CST"]
    assert opcodes(SB_ATOMIC_STORES)[:2] == ["STORE_SEQ_CST", "LOAD_PLAIN"]


@TWO_CPUS
def test_native_plain_stores_of_atomic_locations_show_the_store_buffer():
    h = until(SB_PLAIN_STORES, lambda h: h.count(WEAK) > 0, seconds=30)
    assert h.count(WEAK) > 0, f"no weak outcome in {h.total} runs"
    assert h.outside(get_model("tso").allowed(SB_PLAIN_STORES).outcomes) == {}


@TWO_CPUS
def test_native_published_location_is_read_plainly_and_atomically_as_tso_says():
    h = until(PUBLISH, lambda h: h.total >= 20_000, seconds=30)
    assert h.total > 0
    assert h.outside(get_model("tso").allowed(PUBLISH).outcomes) == {}


def test_pythreads_runs_plain_and_atomic_accesses_of_one_location_as_sc_allows():
    for program in (PUBLISH, SB_PLAIN_STORES, RACY):
        h = pythreads.run(program, iterations=200)
        assert h.total == 200
        assert h.outside(get_model("sc").allowed(program).outcomes) == {}, program.name


def test_go_code_reads_and_writes_the_int64_field_of_an_atomic_variable_plainly():
    source = generate([PUBLISH]).source
    assert "s.a = 5" in source or "s.a = int64(5)" in source
    assert "= int(s.a)" in source                         # a plain load: int64 -> int
    assert "s.a = int64(" in source                       # a plain store of a register
    assert "atomic.LoadInt64(&s.a)" in source


def test_a_race_report_without_the_atomic_frame_names_the_one_atomic_op_it_can_be():
    """gc's detector reports a sync/atomic access without its caller's frame: the race of a
    plain op with the only conflicting atomic op of its variable is still mapped to both."""
    from stressmm.runtime.go.races import op_pair
    test = generate([RACY]).tests[0]
    line = {(t, i): ln for ln, t, i in test.lines}
    harness = max(ln for ln, _, _ in test.lines) + 50      # a line of no thread method
    assert op_pair(test, ((line[(1, 0)], harness), (harness,))) == ((0, 0), (1, 0))
    two = generate([one("litmus Two\nvar a atomic int\nP0:\n  atomic.Store(&a, 1)\n"
                        "  atomic.Store(&a, 2)\nP1:\n  r0 = a\n")]).tests[0]
    line = {(t, i): ln for ln, t, i in two.lines}
    assert op_pair(two, ((line[(1, 0)],), (harness,))) is None           # which one: unknown


@pytest.mark.parametrize("model", ["go", "c11"])
def test_check_explain_says_a_racy_program_allows_an_outcome_no_execution_ends_in(model, capsys):
    from stressmm.cli import main
    from stressmm.syntax import find_scenario
    status = main(["check", str(find_scenario("MP+rlx+na")), "--model", model,
                   "--explain", "P1:r1=7"])
    out = capsys.readouterr().out
    assert status == 0
    assert (f"{model}: no execution of MP+rlx+na built ends in P1:r1=7, yet {model} allows it: "
            f"the program has a data race") in out
    assert "forbids it" not in out
