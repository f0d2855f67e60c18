"""herd7's C litmus format: every scenario it can express goes there and back unchanged,
Go-only ops are refused by name, and malformed C tests get file:line:col errors."""
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.check import check
from stressmm.herd_c import CFormatError, is_herd_c, parse, parse_any, print_c
from stressmm.program import And, Cmp, Or, Order, RegRef, Rmw, RmwOp
from stressmm.syntax import LitmusSyntaxError, parse_file, scenario_paths

ROOT = Path(__file__).resolve().parent.parent
C_SCENARIOS = [p for p in scenario_paths() if p.parent.name in ("classic", "c11")]
GO_ONLY = {"MP+lock"}


def stressmm(*args):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("path", C_SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_scenarios_round_trip_through_herd_c(path):
    [program] = parse_file(path)
    if program.name in GO_ONLY:
        with pytest.raises(CFormatError, match="Go-only op"):
            print_c(program)
        return
    text = print_c(program)
    assert is_herd_c(text)
    assert parse(text, "x.litmus") == [program]


def test_every_herd_c_expressible_scenario_round_trips():
    """The Go scenarios made of memory ops only (atomics, spin loops) go through too."""
    converted = 0
    for path in scenario_paths():
        [program] = parse_file(path)
        try:
            text = print_c(program)
        except CFormatError:
            continue
        assert parse(text) == [program], path
        converted += 1
    assert converted >= 32


SB_RLX = """C SB+rlx
(* store buffering *)
{ x = 0; [y] = 0; }

P0(atomic_int* x, atomic_int* y) {
  atomic_store_explicit(x, 1, memory_order_relaxed);
  int r0 = atomic_load_explicit(y, memory_order_relaxed);
}

P1 (atomic_int* x, atomic_int* y) {
  atomic_store_explicit(y, 1, memory_order_relaxed);
  int r0 = atomic_load_explicit(x, memory_order_relaxed);
}

exists (0:r0=0 /\\ 1:r0=0)
"""


def test_a_hand_written_herd_test_reads_and_the_models_judge_it():
    [p] = parse(SB_RLX)
    assert p.name == "SB+rlx"
    report = check(p, ["sc", "tso", "c11"])
    assert [report.condition_holds(m) for m in ("sc", "tso", "c11")] == [False, True, True]


def test_rmws_fences_plain_accesses_and_spin_loops():
    [p] = parse("""C ops
{ [a] = 1; [n] = 0; }
P0(atomic_int* a, int* n, atomic_int* f) {
  *n = 5;
  int r0 = atomic_fetch_add_explicit(a, 2, memory_order_acq_rel) + 2;
  int r1 = atomic_exchange_explicit(a, 7, memory_order_relaxed);
  int e = 7;
  int ok = atomic_compare_exchange_strong_explicit(a, &e, 9, memory_order_release, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  atomic_store(f, 1);
}
P1(atomic_int* a, int* n, atomic_int* f) {
  while (atomic_load_explicit(f, memory_order_acquire) != 1) {}
  int r2 = *n;
}
forall (0:r0=3 /\\ 0:r1=3 /\\ 0:ok=1 /\\ 1:r2=5 /\\ a=9)
""")
    ops = p.threads[0].ops
    assert ops[1] == Rmw("r0", "a", RmwOp.ADD, 2, order=Order.ACQ_REL)
    assert ops[3] == Rmw("ok", "a", RmwOp.CAS, 9, expected=7, order=Order.RELEASE)
    assert check(p, ["sc", "tso", "c11"]).condition_holds("c11") is True
    assert parse(print_c(p)) == [p]


def test_conditions_of_every_quantifier_and_register_comparisons_round_trip():
    for cond in ("~exists (0:r0=1:r0)", "forall (~(0:r0=1) \\/ x!=1)", "exists (0:r0!=1:r0)"):
        text = SB_RLX.replace("exists (0:r0=0 /\\ 1:r0=0)", cond).replace("{ x = 0;", "{ [x] = 1;")
        [p] = parse(text)
        assert parse(print_c(p)) == [p], cond


def test_conjunction_binds_tighter_than_disjunction_and_nesting_is_bounded():
    [p] = parse(SB_RLX.replace("(0:r0=0 /\\ 1:r0=0)", "(0:r0=1 \\/ 0:r0=0 /\\ 1:r0=0)"))
    one, both = Cmp(RegRef(0, "r0"), 1), And((Cmp(RegRef(0, "r0"), 0), Cmp(RegRef(1, "r0"), 0)))
    assert p.condition.expr == Or((one, both))
    with pytest.raises(LitmusSyntaxError, match="condition nested more than 100 deep"):
        parse(SB_RLX.replace("(0:r0=0 /\\ 1:r0=0)", "(" * 150 + "0:r0=0" + ")" * 150))


def test_go_only_op_is_refused_by_name_with_exit_2():
    proc = stressmm("convert", "MP+lock", "--to", "herd-c")
    assert proc.returncode == 2
    assert "`mu.Lock()` is a Go-only op" in proc.stderr and "line 9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_outcome_flags_are_refused():
    [p] = parse_any("litmus T\nvar x int\nP0:\n  x = 1\nexists (deadlock)\n")
    with pytest.raises(CFormatError, match="deadlock"):
        print_c(p)


def test_convert_both_ways_and_check_reads_c_files(tmp_path):
    c = stressmm("convert", "SB", "--to", "herd-c", "--output-dir", tmp_path)
    assert c.returncode == 0, c.stderr
    c_file = tmp_path / "SB.litmus"
    assert c_file.read_text().startswith("C SB\n")
    back = stressmm("convert", c_file, "--to", "litmus")
    assert back.returncode == 0, back.stderr
    assert parse_any(back.stdout) == parse_file(ROOT / "scenarios/c11/SB.litmus")
    checked = stressmm("check", c_file, "--model", "sc,tso")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok   expect sc: forbidden" in checked.stdout


@pytest.mark.parametrize("text, line, col, fragment", [
    ("C T\n{ x = 0; }\nP0(atomic_int* x) {\n  atomic_store_explicit(x, 1, memory_order_relaxd);\n}\n",
     4, 31, "expected a memory order"),
    ("C T\nP0(int* x) {\n  int r0 = *y;\n}\n", 3, 13, "y is not a parameter of P0"),
    ("C T\nP0(int* x) {\n  atomic_store_explicit(x, 1, memory_order_relaxed);\n}\n",
     3, 25, "x is an int"),
    ("C T\nP0(atomic_int* x) {\n  int r0 = atomic_load_explicit(x, memory_order_relaxed);\n}\n"
     "exists (1:r0=0)\n", 5, 9, "P1 is not a thread"),
    ("C T\nP0(atomic_int* x) {\n  atomic_fetch_sub_explicit(x, 1, memory_order_relaxed);\n}\n",
     3, 3, "stressmm does not read atomic_fetch_sub_explicit"),
    ("C T\nP1(int* x) {\n}\n", 2, 1, "expected thread P0"),
    ("C T\nP0(int* x) {\n  *x = r9;\n}\n", 3, 8, "register r9 is read before it is written"),
    ("C T\nP0(int* x) {\n  *x = 1;\n}\nP1(atomic_int* x) {\n}\n", 5, 16,
     "x is an atomic_int in one thread and an int in another"),
    ("C T\n{ x = 0; }\nP0(int* x) {\n  *x = 1;\n}\nexists (0:r0=0)\n", 6, 11,
     "P0 never writes register r0"),
    ("", 1, 1, "expected a herd C test header `C NAME`"),
    ("\n  \n", 3, 1, "expected a herd C test header `C NAME`"),
])
def test_malformed_c_litmus_names_file_line_and_column(text, line, col, fragment):
    with pytest.raises(LitmusSyntaxError) as err:
        parse(text, "T.litmus")
    e = err.value
    assert (e.filename, e.line, e.column) == ("T.litmus", line, col), str(e)
    assert fragment in e.message


def test_malformed_c_file_is_exit_2_with_location(tmp_path):
    bad = tmp_path / "bad.litmus"
    bad.write_text("C bad\nP0(int* x) {\n  *x = 1\n}\n")
    proc = stressmm("check", bad)
    assert proc.returncode == 2
    assert f"{bad}:4:1: expected \";\"" in proc.stderr, proc.stderr


def test_convert_refuses_to_overwrite_a_test_of_the_same_name(tmp_path):
    proc = stressmm("convert", "scenarios/classic/SB.litmus", "scenarios/c11/SB.litmus",
                    "--to", "herd-c", "--output-dir", tmp_path)
    assert proc.returncode == 2
    assert "would overwrite" in proc.stderr and "classic/SB.litmus" in proc.stderr
    [kept] = parse_any((tmp_path / "SB.litmus").read_text())
    assert kept == parse_file(ROOT / "scenarios/classic/SB.litmus")[0]


MIXED_C = """C MP+rlx+na
{ [x] = 0; [y] = 0; }
P0(atomic_int* x, atomic_int* y) {
  atomic_store_explicit(x, 1, memory_order_relaxed);
  atomic_store_explicit(y, 1, memory_order_relaxed);
}
P1(atomic_int* x, atomic_int* y) {
  int r0 = atomic_load_explicit(y, memory_order_relaxed);
  int r1 = *x;
}
exists (1:r0=1 /\\ 1:r1=0)
"""


def test_a_plain_access_of_an_atomic_int_is_a_non_atomic_access_that_c11_finds_racing():
    [p] = parse(MIXED_C)
    assert p.mixed == frozenset({"x"}) and p.threads[1].ops[1].order is None
    assert parse(print_c(p)) == [p]
    assert "int r1 = *x;" in print_c(p) and "P1(atomic_int* x, atomic_int* y)" in print_c(p)
    report = check(p, ["sc", "c11"])
    assert report.results["c11"].races and not report.condition_holds("sc")


def test_a_plain_spin_loop_on_an_atomic_int_is_refused_with_what_to_write():
    text = "C T\nP0(atomic_int* x) {\n  while (*x == 0) {}\n}\n"
    with pytest.raises(LitmusSyntaxError) as err:
        parse(text, "T.litmus")
    assert (err.value.line, err.value.column) == (3, 11)
    assert "x is an atomic_int: spin on it with atomic_load_explicit" in err.value.message
