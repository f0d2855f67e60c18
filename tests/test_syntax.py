"""The litmus text format: parsing every construct, exact round trips, error positions, and
that no input, however broken, gives anything but a LitmusSyntaxError."""
from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stressmm.program import (
    FENCE_ORDERS, FLAGS, LOAD_ORDERS, RMW_ORDERS, STORE_ORDERS, VERDICTS, And, Await, Chan,
    Close, Cmp, Condition, Expect, Fence, FlagIs, Load, Lock, MemRef, Mutex, Not, Once, OnceDo,
    Or, Order, Program, Recv, RegRef, RLock, Rmw, RmwOp, RUnlock, Send, Store, Thread, Unlock,
    Var, WaitGroup, WgAdd, WgDone, WgWait,
)
from stressmm.syntax import (
    LitmusSyntaxError, find_scenario, parse, parse_file, print_expr, print_op, print_program,
    print_programs, scenario_paths,
)

try:  # the shared strategies, once the package is installed with them
    from stressmm import strategies as shared_strategies
except ImportError:  # pragma: no cover - depends on the install
    shared_strategies = None


# ------------------------------------------------------------------------ every construct

EVERYTHING = """\
# a file may start with comments
litmus ALL "every construct: \\"quoted\\" \\\\ and a \\ttab"
var x, y int
var z int = -3
var a, b atomic int = 0, 7
mutex mu
rwmutex rw
chan ch 2
chan u
once o
waitgroup wg
P0:
  x = 1                      # plain store
  r0 = y
  x = r0
  atomic.Store(&a, 1)
  atomic.Store(&a, 2, relaxed)
  r1 = atomic.Load(&a)
  r2 = atomic.Load(&b, acquire)
  r3 = atomic.Add(&a, 1)
  atomic.Add(&a, r3, release)
  r4 = atomic.Swap(&b, 5, acq_rel)
  ok = atomic.CAS(&a, 0, 1)
  ok2 = atomic.CompareAndSwap(&a, -1, r0, relaxed)
  fence(seq_cst)
  fence(acquire)
  fence()
P1:
  mu.Lock(); x = 2; mu.Unlock()
  rw.RLock()
  rw.RUnlock()
  rw.Lock()
  rw.Unlock()
  ch <- 1
  ch <- r5
  r5 = <-ch
  r6, ok = <-ch
  _, ok2 = <-ch
  <-ch
  close(u)
  o.Do { y = 1 }
  o.Do {
    y = 2
    r7 = atomic.Load(&a, relaxed)
  }
  o.Do {}
  wg.Add(2)
  wg.Add(-1)
  wg.Done()
  wg.Wait()
  for atomic.Load(&a) == 0 {}
  for atomic.Load(&a, acquire) != 1 {}
  for x == 0 {}
  for y != -2 { }
exists (P0:r0 == 0 && !(P1:r5 != 1) || x == 2 && (deadlock || !panic))
expect sc: forbidden; tso: allowed
expect go: race
"""


def test_every_construct_parses_to_the_expected_ir():
    # `ch <- r5` reads r5 before it is written: fix that one line, the rest is valid.
    [p] = parse(EVERYTHING.replace("  ch <- r5\n", "  ch <- 3\n"))
    assert p.name == "ALL"
    assert p.description == 'every construct: "quoted" \\ and a \ttab'
    assert p.decls == (Var("x"), Var("y"), Var("z", init=-3), Var("a", True), Var("b", True, 7),
                       Mutex("mu"), Mutex("rw", rw=True), Chan("ch", 2), Chan("u", 0), Once("o"),
                       WaitGroup("wg"))
    S, R = Order.SEQ_CST, Order.RELAXED
    assert p.threads[0].ops == (
        Store("x", 1), Load("r0", "y"), Store("x", "r0"),
        Store("a", 1, S), Store("a", 2, R),
        Load("r1", "a", S), Load("r2", "b", Order.ACQUIRE),
        Rmw("r3", "a", RmwOp.ADD, 1), Rmw(None, "a", RmwOp.ADD, "r3", order=Order.RELEASE),
        Rmw("r4", "b", RmwOp.SWAP, 5, order=Order.ACQ_REL),
        Rmw("ok", "a", RmwOp.CAS, 1, 0), Rmw("ok2", "a", RmwOp.CAS, "r0", -1, R),
        Fence(S), Fence(Order.ACQUIRE), Fence(S),
    )
    assert p.threads[1].ops == (
        Lock("mu"), Store("x", 2), Unlock("mu"),
        RLock("rw"), RUnlock("rw"), Lock("rw"), Unlock("rw"),
        Send("ch", 1), Send("ch", 3), Recv("ch", "r5"), Recv("ch", "r6", "ok"),
        Recv("ch", None, "ok2"), Recv("ch"), Close("u"),
        OnceDo("o", (Store("y", 1),)),
        OnceDo("o", (Store("y", 2), Load("r7", "a", R))),
        OnceDo("o", ()),
        WgAdd("wg", 2), WgAdd("wg", -1), WgDone("wg"), WgWait("wg"),
        Await("a", 0, S, until_equal=False), Await("a", 1, Order.ACQUIRE, until_equal=True),
        Await("x", 0, None, until_equal=False), Await("y", -2, None, until_equal=True),
    )
    assert p.condition == Condition(Or((
        And((Cmp(RegRef(0, "r0"), 0), Not(Cmp(RegRef(1, "r5"), 1, equal=False)))),
        And((Cmp(MemRef("x"), 2), Or((FlagIs("deadlock"), Not(FlagIs("panic")))))),
    )))
    assert p.expects == (Expect("sc", "forbidden"), Expect("tso", "allowed"),
                         Expect("go", "race"))


def test_ops_record_their_source_lines():
    text = EVERYTHING.replace("  ch <- r5\n", "  ch <- 3\n")
    [p] = parse(text)
    lines = text.split("\n")
    for _, op in p.ops():
        src = lines[op.line - 1]
        assert not src.startswith(("P", "litmus", "var")), (op, src)
    # Spot checks: the three ops of one line share it; a multi-line once body keeps its lines.
    ops1 = p.threads[1].ops
    assert {op.line for op in ops1[:3]} == {lines.index("  mu.Lock(); x = 2; mu.Unlock()") + 1}
    body = ops1[15].body
    assert lines[body[0].line - 1] == "    y = 2"
    assert lines[body[1].line - 1] == "    r7 = atomic.Load(&a, relaxed)"
    assert lines[ops1[15].line - 1] == "  o.Do {"


def test_the_everything_text_round_trips_and_prints_canonically():
    [p] = parse(EVERYTHING.replace("  ch <- r5\n", "  ch <- 3\n"))
    text = print_program(p)
    assert parse(text) == [p]
    assert print_program(parse(text)[0]) == text
    assert "fence()" not in text and "fence(seq_cst)" in text
    assert "atomic.Store(&a, 1)\n" in text  # the default order is not printed
    assert "  o.Do {\n    y = 2\n    r7 = atomic.Load(&a, relaxed)\n  }\n" in text
    assert "var a atomic int\nvar b atomic int = 7\n" in text
    assert "exists ((P0:r0 == 0 && !(P1:r5 != 1)) || (x == 2 && (deadlock || !panic)))" in text
    assert "expect sc: forbidden; tso: allowed; go: race\n" in text


def test_several_tests_in_one_text_with_file_line_numbers():
    text = ("litmus A\nvar x int\nP0:\n  x = 1\n\n"
            "# between tests\n"
            "litmus B \"second\"\nvar x int\nP0:\n  r0 = x\nexists (P0:r0 == 0)\n")
    a, b = parse(text)
    assert (a.name, b.name, b.description) == ("A", "B", "second")
    assert b.threads[0].ops[0].line == 10
    assert parse(print_programs([a, b])) == [a, b]


def test_windows_line_ends_and_tabs():
    text = "litmus T\r\nvar x int\r\nP0:\r\n\tx = 1\r\n\tr0 = x\r\n"
    [p] = parse(text)
    assert p.threads[0].ops == (Store("x", 1), Load("r0", "x"))


def test_names_that_look_like_keywords_where_the_format_allows_them():
    # Registers named like format words, a variable named P0, a once named `once`.
    text = """\
litmus "name with spaces # and hash" "d"
var P0, deadlock int
once once
P0:
  for = P0
  atomic = deadlock
  once.Do { P0 = for }
exists (P0 == 1 && deadlock != 0 && deadlock && P0:for == 0)
"""
    [p] = parse(text)
    assert p.name == "name with spaces # and hash"
    assert p.threads[0].ops == (Load("for", "P0"), Load("atomic", "deadlock"),
                                OnceDo("once", (Store("P0", "for"),)))
    assert p.condition.expr == And((Cmp(MemRef("P0"), 1), Cmp(MemRef("deadlock"), 0, False),
                                    FlagIs("deadlock"), Cmp(RegRef(0, "for"), 0)))
    assert parse(print_program(p)) == [p]


def test_print_op_and_print_expr_examples():
    assert print_op(Rmw("ok", "a", RmwOp.CAS, 1, 0, Order.ACQUIRE)) == \
        "ok = atomic.CAS(&a, 0, 1, acquire)"
    assert print_op(Await("r", 1, None)) == "for r != 1 {}"
    assert print_op(Recv("c", None, "ok")) == "_, ok = <-c"
    assert print_expr(Not(Not(FlagIs("panic")))) == "!!panic"
    assert print_expr(And((And((FlagIs("panic"), FlagIs("deadlock"))), FlagIs("timeout")))) == \
        "(panic && deadlock) && timeout"


def test_unprintable_corner_cases_raise_clear_errors():
    with pytest.raises(ValueError, match="named \"_\""):
        print_op(Recv("c", "_", "ok"))
    with pytest.raises(ValueError, match="two or more items"):
        print_expr(And((FlagIs("panic"),)))


# ------------------------------------------------------------------------ round trips

REGS = ("r0", "r1", "r2", "ok")


@st.composite
def any_programs(draw):
    """Valid programs using every declaration, op kind and condition form of the IR."""
    decls = [Var("x"), Var("y", init=draw(st.integers(-3, 3))), Var("a", True),
             Var("b", True, draw(st.integers(-2, 2))), Mutex("mu"), Mutex("rw", rw=True),
             Chan("ch", draw(st.integers(0, 2))), Once("o"), WaitGroup("wg")]
    decls = draw(st.permutations(decls))
    value_ints = st.integers(-5, 5)

    def draw_ops(written, held, in_once, n):
        ops = []
        for _ in range(n):
            kinds = ["load", "store", "aload", "astore", "rmw", "fence", "await", "lock",
                     "send", "recv", "close", "wg"]
            if not in_once:
                kinds.append("once")
            kind = draw(st.sampled_from(kinds))
            line = draw(st.none() | st.integers(1, 99))  # never compared: any value is fine

            def value():
                if written and draw(st.booleans()):
                    return draw(st.sampled_from(sorted(written)))
                return draw(value_ints)

            reg = draw(st.sampled_from(REGS))
            if kind == "load":
                op = Load(reg, draw(st.sampled_from("xy")), line=line)
            elif kind == "store":
                op = Store(draw(st.sampled_from("xy")), value(), line=line)
            elif kind == "aload":
                op = Load(reg, draw(st.sampled_from("ab")),
                          draw(st.sampled_from(sorted(LOAD_ORDERS))), line=line)
            elif kind == "astore":
                op = Store(draw(st.sampled_from("ab")), value(),
                           draw(st.sampled_from(sorted(STORE_ORDERS))), line=line)
            elif kind == "rmw":
                rop = draw(st.sampled_from(list(RmwOp)))
                op = Rmw(draw(st.none() | st.just(reg)), draw(st.sampled_from("ab")), rop,
                         value(), draw(value_ints) if rop is RmwOp.CAS else None,
                         draw(st.sampled_from(sorted(RMW_ORDERS))), line=line)
            elif kind == "fence":
                op = Fence(draw(st.sampled_from(sorted(FENCE_ORDERS))), line=line)
            elif kind == "await":
                loc = draw(st.sampled_from("xyab"))
                order = draw(st.sampled_from(sorted(LOAD_ORDERS))) if loc in "ab" else None
                op = Await(loc, draw(value_ints), order, draw(st.booleans()), line=line)
            elif kind == "lock":
                m = draw(st.sampled_from(["mu", "rw"]))
                state = held.get(m)
                if state == "w":
                    op = Unlock(m, line=line)
                    del held[m]
                elif state == "r":
                    op = RUnlock(m, line=line)
                    del held[m]
                elif m == "rw" and draw(st.booleans()):
                    op = RLock(m, line=line)
                    held[m] = "r"
                else:
                    op = Lock(m, line=line)
                    held[m] = "w"
            elif kind == "send":
                op = Send("ch", value(), line=line)
            elif kind == "recv":
                r = draw(st.none() | st.sampled_from(REGS))
                ok = draw(st.none() | st.sampled_from([x for x in REGS if x != r]))
                op = Recv("ch", r, ok, line=line)
            elif kind == "close":
                op = Close("ch", line=line)
            elif kind == "wg":
                op = draw(st.sampled_from([WgAdd("wg", draw(st.sampled_from([-2, -1, 1, 3])),
                                                 line=line),
                                           WgDone("wg", line=line), WgWait("wg", line=line)]))
            else:
                body_held = dict(held)
                op = OnceDo("o", tuple(draw_ops(written, body_held, True,
                                                draw(st.integers(0, 3)))), line=line)
                held.clear()
                held.update(body_held)
            ops.append(op)
            if isinstance(op, (Load, Rmw, Recv)):
                written.update(r for r in (getattr(op, "reg", None), getattr(op, "ok", None))
                               if r)
            if isinstance(op, OnceDo):
                pass  # the body updated `written` already
        return ops

    threads = []
    for _ in range(draw(st.integers(1, 3))):
        written: set = set()
        threads.append(Thread(tuple(draw_ops(written, {}, False, draw(st.integers(0, 6))))))
    program = Program(draw(st.sampled_from(["T", "SB+x", "2+2W", "", "a b", 'q"#\\\n\x01é'])),
                      tuple(decls), tuple(threads),
                      description=draw(st.sampled_from(["", "plain", 'quote " and \\ \t\n'])))
    refs = [RegRef(t, r) for t in range(len(threads)) for r in program.registers(t)]
    atoms = st.builds(Cmp, st.sampled_from(refs + [MemRef(v) for v in "xyab"]), value_ints,
                      st.booleans()) | st.builds(FlagIs, st.sampled_from(FLAGS))
    exprs = st.recursive(atoms, lambda sub: (
        st.builds(Not, sub)
        | st.lists(sub, min_size=2, max_size=3).map(lambda xs: And(tuple(xs)))
        | st.lists(sub, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs)))), max_leaves=6)
    condition = draw(st.none() | exprs.map(Condition))
    verdicts = [v for v in VERDICTS if condition is not None or v not in ("allowed", "forbidden")]
    expects = draw(st.lists(st.builds(Expect, st.sampled_from(["sc", "tso", "go", "c11"]),
                                      st.sampled_from(verdicts)), max_size=4))
    return replace(program, condition=condition, expects=tuple(expects))


def assert_round_trip(program):
    text = print_program(program)
    [again] = parse(text)
    assert again == program, text
    assert print_program(again) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_programs())
def test_print_then_parse_is_exact_on_random_programs(program):
    assert_round_trip(program)


@pytest.mark.skipif(shared_strategies is None, reason="stressmm.strategies is not installed")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_print_then_parse_is_exact_on_the_shared_strategies(data):
    program = data.draw(shared_strategies.programs(
        threads=(1, 3), ops=(1, 4), kinds=shared_strategies.MEMORY_KINDS, atomic="mixed",
        sync=True, condition=True))
    assert_round_trip(program)


# ------------------------------------------------------------------------ errors


def error_of(text, filename="T.litmus"):
    with pytest.raises(LitmusSyntaxError) as info:
        parse(text, filename)
    err = info.value
    assert str(err) == f"{err.filename}:{err.line}:{err.column}: {err.message}"
    return err


HEAD = "litmus T\nvar x, y int\nvar a atomic int\nmutex mu\nonce o\nchan ch 0\nP0:\n"  # 7 lines


@pytest.mark.parametrize("op_line, col, pattern", [
    # unknown op
    ("  frob(x)", 3, r'expected an op \(.*\), found "frob"'),
    ("  mu.Frob()", 6, r'expected a method of mutex mu \(Lock, Unlock\), found "Frob"'),
    ("  mu.RLock()", 6, r"RLock/RUnlock need `rwmutex mu`"),
    ("  atomic.Inc(&a)", 10, r'expected an atomic operation .*found "Inc"'),
    ("  x == 1", 5, r'expected "=", "\." or "<-" after variable "x", found "=="'),
    ("  ) x", 3, r'expected an op .*found "\)"'),
    # bad order
    ("  r0 = atomic.Load(&a, releas)", 24,
     r'expected a memory order \(relaxed, acquire, seq_cst\), found "releas"'),
    ("  atomic.Store(&a, 1, acquire)", 23,
     r'expected a memory order \(relaxed, release, seq_cst\), found "acquire"'),
    ("  fence(relaxed)", 9,
     r'expected a memory order \(acquire, release, acq_rel, seq_cst\), found "relaxed"'),
    ("  r0 = atomic.Add(&a, 1, )", 26, r"expected a memory order .*found \"\)\""),
    # undeclared or misused names
    ("  r0 = z", 8, r'unknown variable "z": declare it with `var z int` before the threads'),
    ("  z = 1", 3, r'unknown variable "z": declare it with `var z int`'),
    ("  atomic.Store(&zz, 1)", 17, r'unknown variable "zz": declare it with `var zz atomic int`'),
    ("  nope.Lock()", 3, r'unknown name "nope"'),
    ("  close(c2)", 9, r'unknown channel "c2": declare it with `chan c2 0`'),
    ("  r0 = atomic.Load(&x)", 21, r"x is a plain variable: read it with `r0 = x`"),
    ("  x = y", 7, r"cannot copy variable y into x directly"),
    ("  x = mu", 7, r'expected a constant or a register, found mutex "mu"'),
    ("  ch <- x", 9, r"load it first: `r0 = x`"),
    ("  mu = 1", 3, r'"mu" is a mutex: only variables and registers can be assigned'),
    ("  for atomic.Load(&a) = 0 {}", 23, r'expected "==" or "!=" in the spin loop, found "="'),
    ("  for x == 0", 13, r'expected "\{" \(a spin loop has an empty body'),
    ("  for a == 0 {}", 7, r"a is atomic: spin on it with `for atomic.Load\(&a\) == v \{\}` "
                           r"\(a plain spin loop on an atomic variable is not supported"),
    ("  r0 = atomic.Load(a)", 20, r'expected "&" and an atomic variable'),
    ("  atomic.Store(&a, 1) x = 1", 23, r'expected the end of the op .*found "x"'),
    ("  x = 99999999999", 7, r"expected a value .* in \[-2147483647, 2147483647\], found "
                             r'"99999999999"'),
    ("  x = 1 | 2", 9, r"unexpected character '\|' \(did you mean \"\|\|\"\?\)"),
    ("  r0 = atomic.Store(&a, 1)", 15, r"atomic.Store returns nothing: drop `r0 =`"),
    ("  atomic.Load(&a)", 10, r"atomic.Load needs a register"),
    # IR validation errors, re-raised at the op's line
    ("  x = r9", 3, r"register r9 is read before it is written in P0"),
    ("  mu.Unlock()", 3, r"unlock of mu, which P0 does not hold"),
    ("  o.Do { o.Do { x = 1 } }", 10, r"once.Do inside a once.Do body is not supported"),
    ("  r0, r0 = <-ch", 3, r"value and its ok flag in the same register"),
    ("  x := 1", 5, r'expected "=", found ":=" \(the litmus format assigns with "=" only\)'),
    ("  r0, ok := <-ch", 10, r'expected "=", found ":="'),
])
def test_op_errors_name_file_line_column_and_what_was_expected(op_line, col, pattern):
    err = error_of(HEAD + op_line + "\n")
    assert (err.filename, err.line, err.column) == ("T.litmus", 8, col), str(err)
    assert re.search(pattern, err.message), err.message
    assert err.source_line == op_line


def test_ir_errors_in_the_second_op_of_a_line_point_at_the_line():
    err = error_of(HEAD + "  x = 1\n  y = 2; x = r3\n")
    assert (err.line, err.column) == (9, 3)
    assert "r3 is read before it is written" in err.message


def test_column_counts_characters_after_tabs():
    err = error_of("litmus T\nvar a atomic int\nP0:\n\t\tr0 = atomic.Load(&a, bogus)\n")
    assert (err.line, err.column) == (4, 24)
    assert err.excerpt().splitlines()[-1] == " " * (4 + 23) + "^"


def test_unterminated_once_body_points_at_its_brace():
    text = HEAD + "  o.Do {\n    x = 1\nP1:\n  y = 1\n"
    err = error_of(text)
    assert (err.line, err.column) == (8, 8)
    assert 'unterminated body of o.Do: expected "}"' in err.message
    assert 'found "P1:" at line 10' in err.message
    err = error_of(HEAD + "  o.Do {\n    x = 1\n")  # at the end of the file
    assert (err.line, err.column) == (8, 8) and "found end of file" in err.message


@pytest.mark.parametrize("text, line, col, pattern", [
    # missing thread
    ("litmus T\nvar x int\n  x = 1\n", 3, 3, r"an op must follow a thread header: put `P0:`"),
    ("litmus T\nvar x int\n", 1, 1, r'test "T" has no threads: add a line `P0:`'),
    ("litmus T\nvar x int\nexists (x == 1)\n", 3, 1, r"exists comes after the threads"),
    ("litmus T\nvar x int\nP1:\n  x = 1\n", 3, 1, r'expected thread header "P0:".* found "P1:"'),
    ("litmus T\nvar x int\nP0:\n  x = 1\nP0:\n", 5, 1, r'expected thread header "P1:"'),
    ("litmus T\nvar x int\nP0: x = 1\n", 3, 5, r"expected end of line after P0:"),
    ("litmus T\nvar x int\nP0:\nx = 1\n", 4, 1,
     r'found "x" \(ops must be indented under a thread header\)'),
    ("litmus T\nvar x int\nP0:\n  x = 1\nvar y int\n", 5, 1,
     r"declarations come before the threads"),
    ("litmus T\nvar x int\nP0:\n  x = 1\nexists (x == 1)\nP1:\n", 6, 1,
     r"threads come before the exists and expect lines"),
    ("litmus T\nvar x int\nP0:\n  x = 1\nexists (x == 1)\n  x = 2\n", 6, 3,
     r"an indented op after the exists/expect lines"),
    # bad condition
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P0:r0 == )\n", 5, 18,
     r'expected an int, a register \(P1:r0\) or a variable to compare P0:r0 with, found "\)"'),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P0:r0 = 0)\n", 5, 15,
     r'expected "==" or "!=" after P0:r0, found "="'),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P2:r0 == 0)\n", 5, 9,
     r"P2 is not a thread of this test \(it has P0..P0\)"),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P0:r9 == 0)\n", 5, 9,
     r"P0 never writes register r9 \(its registers: r0\)"),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (r0 == 0)\n", 5, 9,
     r'"r0" is not a declared variable \(a register needs its thread: P0:r0\)'),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P0:r0 == 0 &&)\n", 5, 22,
     r"expected a comparison .* found \"\)\""),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (P0:r0 == 0\n", 5, 19,
     r'expected "\)" to close "\(" in the condition, found end of line'),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (oops)\n", 5, 9,
     r"expected a comparison .*found \"oops\""),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (x == 1)\nexists (x == 2)\n", 6, 1,
     r"a test has one condition line; this test already has one \(line 5\)"),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists " + "(" * 150 + "x == 1" + ")" * 150 + "\n",
     5, 109, r"condition nested more than 100 deep"),
    # expect lines
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexists (x == 1)\nexpect sc: forbiden\n", 6, 12,
     r"expected a verdict \(allowed, forbidden, race, norace, deadlock\), found \"forbiden\""),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexpect sc: allowed\n", 5, 12,
     r'"allowed" refers to the exists condition, but this test has none'),
    ("litmus T\nvar x int\nP0:\n  r0 = x\nexpect sc forbidden\n", 5, 11,
     r'expected ":" after the model name sc'),
    # headers and declarations
    ("", 1, 1, r"expected a test header `litmus NAME"),
    ("var x int\n", 1, 1, r'expected a test header `litmus NAME "description"`, found "var"'),
    ("litmus\n", 1, 7, r'expected a test name after "litmus"'),
    ('litmus T "unterminated\n', 1, 10, r'unterminated string: add the closing "'),
    ('litmus T "bad \\q escape"\n', 1, 15, r'unknown escape "\\q"'),
    ('litmus T "d" extra\n', 1, 14, r'expected a quoted description or end of line.*"extra"'),
    ("litmus T\nvar x, x int\n", 2, 8, r'"x" is already declared \(as a variable\)'),
    ("litmus T\nvar x int\nmutex x\n", 3, 7, r'"x" is already declared'),
    ("litmus T\nvar atomic int\n", 2, 5, r"'atomic' is a keyword of the litmus format"),
    ("litmus T\nvar x float\n", 2, 7, r'expected the type "int" or "atomic int", found "float"'),
    ("litmus T\nvar x, y int = 1\n", 2, 14, r"2 name\(s\) but 1 initial value\(s\)"),
    ("litmus T\nchan c 65\n", 2, 6, r"channel c capacity must be an int in \[0, 64\]"),
    ("litmus T\nchan c -1\n", 2, 6, r"channel c capacity must be"),
    ("litmus T\nwaitgroup\n", 2, 10, r"expected a name to declare after waitgroup, found end"),
    ("litmus T\nfoo bar\n", 2, 1, r'expected a declaration \(var, mutex, .*found "foo"'),
    ("litmus T\nvar x int\nP0:\n  x = 1\n  x = 1 \x00\n", 5, 9,
     r"unexpected character '\\x00'"),
    ("litmus T\nvar x int\nP0:\n  x = 12ab\n", 4, 7, r'expected a number, found "12ab"'),
])
def test_structure_errors(text, line, col, pattern):
    err = error_of(text)
    assert (err.line, err.column) == (line, col), str(err)
    assert re.search(pattern, err.message), err.message


def test_the_error_names_the_file_it_was_given(tmp_path):
    path = tmp_path / "SB.litmus"
    path.write_text("litmus SB\nvar a atomic int\nP0:\n  r0 = atomic.Load(&a, releas)\n")
    with pytest.raises(LitmusSyntaxError) as info:
        parse_file(path)
    assert str(info.value).startswith(f"{path}:4:24: expected a memory order")
    assert isinstance(info.value, ValueError)


def test_a_file_that_is_not_utf8_is_a_syntax_error(tmp_path):
    path = tmp_path / "bad.litmus"
    path.write_bytes(b"litmus T\nvar x int\nP0:\n  x = 1 # caf\xe9\n")
    with pytest.raises(LitmusSyntaxError) as info:
        parse_file(path)
    assert (info.value.line, info.value.column) == (4, 14)
    assert "not UTF-8" in info.value.message


def test_parse_rejects_non_text():
    with pytest.raises(TypeError):
        parse(b"litmus T\n")


# ------------------------------------------------------------------------ fuzzing

def parse_or_syntax_error(text):
    """Parse; on success print/parse must be exact, on failure the position must exist."""
    lines = text.split("\n")
    try:
        programs = parse(text, "fuzz.litmus")
    except LitmusSyntaxError as err:
        assert 1 <= err.line <= len(lines), err
        assert 1 <= err.column <= len(lines[err.line - 1].rstrip("\r")) + 1, err
        assert err.filename == "fuzz.litmus"
        return None
    for p in programs:
        assert_round_trip(p)
    return programs


WORDS = ["litmus T", "litmus", "var", "atomic", "int", "mutex", "rwmutex", "chan", "once",
         "waitgroup", "P0:", "P1:", "exists", "expect", "sc:", "forbidden", "x", "y", "a", "r0",
         "ok", "mu", "o", "wg", "ch", "=", "==", "!=", "<-", "&&", "||", "!", "(", ")", "{", "}",
         ",", ";", "&", ".", "-", "1", "0", "99999999999", "Lock()", "Do", "atomic.Load(&a",
         "relaxed", "seq_cst", "fence", "close", "for", "\n", "\n  ", "\n    ", "#", '"', "\\",
         "_", "deadlock", "P0:r0", "\t", "\r"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
@example("litmus T\nvar x int\nP0:\n  o.Do {\n")
@example("litmus T\n" + "(" * 5000)
@example("litmus T\nvar x int\nonce o\nP0:\n  " + "o.Do { " * 3000 + "\n")
@example("litmus T\nvar x int\nP0:\n  r0 = x\nexists " + "!" * 5000 + "(x == 1)\n")
@example("litmus T\nvar x int = " + "9" * 5000 + "\n")
@example("litmus T\nvar x int = " + "0" * 5000 + "1\n")
def test_random_text_gives_only_syntax_errors(text):
    parse_or_syntax_error(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=60).map(" ".join))
def test_random_token_soup_gives_only_syntax_errors(text):
    parse_or_syntax_error(text)


SCENARIO_TEXTS = [p.read_text() for p in scenario_paths()]


def mutate(text, rng):
    """A few random edits: delete, duplicate or swap lines, delete or insert characters."""
    for _ in range(rng.randint(1, 4)):
        lines = text.split("\n")
        choice = rng.randrange(6)
        i = rng.randrange(len(lines))
        if choice == 0:
            del lines[i]
        elif choice == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif choice == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        text = "\n".join(lines)
        if choice == 3 and text:
            k = rng.randrange(len(text))
            text = text[:k] + text[k + rng.randint(1, 5):]
        elif choice == 4:
            k = rng.randrange(len(text) + 1)
            text = text[:k] + rng.choice(WORDS + list("(){}&|!=<-,;:.#\"\\ \t\n0123456789xyz"))\
                + text[k:]
        elif choice == 5:
            k = rng.randrange(len(text) + 1)
            text = text[:k] + rng.choice(SCENARIO_TEXTS)[k:k + rng.randint(0, 40)] + text[k:]
    return text


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SCENARIO_TEXTS), st.randoms(use_true_random=False))
def test_mutated_scenarios_give_only_syntax_errors(text, rng):
    parse_or_syntax_error(mutate(text, rng))


def test_many_mutants_of_every_scenario_parse_or_fail_cleanly():
    rng = random.Random(20240601)
    failures = parsed = 0
    for text in SCENARIO_TEXTS:
        for _ in range(150):
            if parse_or_syntax_error(mutate(text, rng)) is None:
                failures += 1
            else:
                parsed += 1
    assert failures and parsed  # the mutants exercise both paths


# ------------------------------------------------------------------------ scenario helpers

def test_scenario_paths_lists_the_bundled_library_and_other_folders(tmp_path):
    paths = scenario_paths()
    rel = [p.relative_to(paths[0].parent.parent).as_posix() for p in paths]
    assert "classic/SB.litmus" in rel and "go/MP+close.litmus" in rel
    assert rel == sorted(rel)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "A.litmus").write_text("litmus A\nvar x int\nP0:\n  x = 1\n")
    (tmp_path / "notes.txt").write_text("not a test")
    assert [p.name for p in scenario_paths(tmp_path)] == ["A.litmus"]
    assert find_scenario("A", tmp_path) == tmp_path / "sub" / "A.litmus"
    assert find_scenario("SB").stem == "SB"
    with pytest.raises(LookupError, match="no scenario named 'Nope'; known: A"):
        find_scenario("Nope", tmp_path)
    with pytest.raises(FileNotFoundError):
        scenario_paths(tmp_path / "missing")


# ------------------------------------------------------------------------ mixed accesses

MIXED = """litmus Mixed
var a atomic int
P0:
  a = 1
  atomic.Store(&a, 2)
P1:
  r0 = atomic.Load(&a)
  r1 = a
"""


def test_plain_accesses_of_an_atomic_variable_are_non_atomic_loads_and_stores():
    [p] = parse(MIXED)
    assert p.threads[0].ops[0] == Store("a", 1)                 # order None: plain
    assert p.threads[1].ops[1] == Load("r1", "a")
    assert p.mixed == frozenset({"a"})
    assert parse(print_program(p)) == [p]
    assert "  a = 1\n" in print_program(p) and "  r1 = a\n" in print_program(p)


def test_atomic_ops_on_a_plain_variable_are_still_refused_with_what_to_do():
    err = error_of(HEAD + "  atomic.Store(&x, 1)\n")
    assert "x is a plain variable: write it with `x = v`, or declare it" in err.message
    assert "var x atomic int" in err.message
