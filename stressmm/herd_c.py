"""herd7's C litmus format: reading and writing it, so tests move between stressmm and herd7.

A herd C test starts with a line `C NAME`, then optionally a quoted description line, an
initial state `{ ... }`, one function per thread and a condition::

    >>> [sb] = parse('''C SB+rlx
    ... { x = 0; y = 0; }
    ... P0(atomic_int* x, atomic_int* y) {
    ...   atomic_store_explicit(x, 1, memory_order_relaxed);
    ...   int r0 = atomic_load_explicit(y, memory_order_relaxed);
    ... }
    ... P1(atomic_int* x, atomic_int* y) {
    ...   atomic_store_explicit(y, 1, memory_order_relaxed);
    ...   int r0 = atomic_load_explicit(x, memory_order_relaxed);
    ... }
    ... exists (0:r0=0 /\\\\ 1:r0=0)
    ... ''')
    >>> sb.threads[0].ops[1]
    Load(reg='r0', loc='y', order=<Order.RELAXED: 'relaxed'>)
    >>> print_c(sb).splitlines()[0]
    'C SB+rlx'

`print_c` writes a program in this format and raises `CFormatError` (naming the op) for what it
cannot express: the Go primitives and outcome flags. `parse_any` reads either format: a file
whose first line is `C NAME` is a herd C test. `expect` lines travel in `(* expect ... *)`
comments, which herd7 ignores. docs/format.md describes the mapping.
"""
from __future__ import annotations

import re
from typing import List, Optional, Tuple

from .program import (And, Await, Cmp, Condition, Expect, Fence, FlagIs, Load, MemRef, Not, Or,
                      Order, Program, ProgramError, RegRef, Rmw, RmwOp, Store, Sum, Thread, Var,
                      VERDICTS, kind_name, writes_of)
from .syntax import (_MAX_DEPTH, LitmusSyntaxError, _describe, _Fail, _joined, _split_lines,
                     _Stream, _Tok, print_op, read_text)
from .syntax import parse as parse_litmus

__all__ = ["parse", "parse_any", "parse_file_any", "print_c", "CFormatError", "is_herd_c"]


class CFormatError(ValueError):
    """A program has an op or a condition herd's C format cannot express."""


_HEADER = re.compile(r"C[ \t]+(\S+)[ \t]*\Z")
_MO = {f"memory_order_{o.value}": o for o in Order}
_MO["memory_order_consume"] = Order.ACQUIRE   # herd7 treats consume as acquire, as compilers do
_CALLS = ("atomic_load", "atomic_store", "atomic_fetch_add", "atomic_exchange",
          "atomic_compare_exchange_strong")


def is_herd_c(text: str) -> bool:
    """Whether a text is a herd C litmus test: its first line that is not blank is `C NAME`.

        >>> is_herd_c("C SB\\n{}\\n"), is_herd_c("litmus SB\\n")
        (True, False)
    """
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return bool(_HEADER.match(line.strip()))
    return False


def parse_any(text: str, filename: str = "<string>") -> List[Program]:
    """The tests of a text in either format: herd C (`C NAME` first) or stressmm's."""
    return parse(text, filename) if is_herd_c(text) else parse_litmus(text, filename)


def parse_file_any(path) -> List[Program]:
    """`parse_any` of a file (`-`: standard input)."""
    return parse_any(read_text(path), "<stdin>" if str(path) == "-" else str(path))


# ------------------------------------------------------------------------------- reading


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_SYMS = ("/\\", "\\/", "==", "!=", "(", ")", "{", "}", "[", "]", ";", ",", "*", "&", "=", "~",
         "+", "-", ":", "!")


def _tokens(text: str, first_line: int) -> List[_Tok]:
    """The tokens of `text`, whose first line is line `first_line` of the file. Comments are
    `(* ... *)`, `/* ... */` and `// ...`; `(* expect ... *)` comments become "expect" tokens."""
    toks: List[_Tok] = []
    line, start, i, n = first_line, 0, 0, len(text)
    while i < n:
        c = text[i]
        col = i - start + 1
        if c == "\n":
            line, start, i = line + 1, i + 1, i + 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if text.startswith("/*", i) or (text.startswith("(*", i)
                                         and not re.match(r"[A-Za-z_(]", text[i + 2:i + 3])):
            close = "*)" if c == "(" else "*/"
            end = text.find(close, i + 2)
            if end < 0:
                raise _Fail(f"unterminated comment: add the closing {close}", line, col)
            body = text[i + 2:end]
            if body.strip().startswith("expect"):
                toks.append(_Tok("expect", body.strip(), line, col))
            line += body.count("\n")
            if "\n" in body:
                start = i + 2 + body.rindex("\n") + 1
            i = end + 2
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        m = _WORD.match(text, i)
        if m:
            kind = "int" if m.group()[0].isdigit() else "ident"
            toks.append(_Tok(kind, m.group(), line, col))
            i = m.end()
            continue
        if c == '"':
            end = text.find('"', i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise _Fail('unterminated string: add the closing "', line, col)
            toks.append(_Tok("str", text[i + 1:end], line, col))
            i = end + 1
            continue
        for sym in _SYMS:
            if text.startswith(sym, i):
                toks.append(_Tok("sym", sym, line, col))
                i += len(sym)
                break
        else:
            raise _Fail(f"unexpected character {c!r}", line, col)
    toks.append(_Tok("end", "", line, i - start + 1))
    return toks


class _Parser(_Stream):
    """The test's tokens, read as herd7's C litmus grammar; keywords (`int`, `exists`) are
    identifiers, so `at` and `expect` match identifiers and symbols alike."""

    def __init__(self, toks: List[_Tok]):
        super().__init__(toks[:-1], toks[-1])
        self.vars: dict = {}          # name -> [atomic or None, init]
        self.var_order: list = []

    # -- cursor --------------------------------------------------------------------------
    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind in ("sym", "ident") and tok.text == text

    def expect(self, text: str, context: str = "") -> _Tok:
        tok = self.next()
        if tok.text != text or tok.kind not in ("sym", "ident"):
            raise _Fail(f'expected "{text}"{context}, found {_describe(tok)}', tok.line, tok.col)
        return tok

    def int(self, what: str) -> int:
        sign = -1 if self.at("-") else 1
        if sign < 0:
            self.next()
        tok = self.next()
        if tok.kind != "int":
            raise _Fail(f"expected {what}, found {_describe(tok)}", tok.line, tok.col)
        return sign * int(tok.text)

    # -- the test --------------------------------------------------------------------------
    def test(self, name: str) -> Program:
        description = ""
        if self.peek().kind == "str":
            description = self.next().text
        expects: list = []
        expects += self.expects()
        if self.at("{"):
            self.init()
        threads: list = []
        expects += self.expects()
        while self.peek().kind == "ident" and re.fullmatch(r"P[0-9]+", self.peek().text):
            threads.append(self.thread(len(threads)))
            expects += self.expects()
        if not threads:
            tok = self.peek()
            raise _Fail(f"expected a thread \"P0(atomic_int* x, ...) {{ ... }}\", found "
                        f"{_describe(tok)}", tok.line, tok.col)
        condition = None
        tok = self.peek()
        if tok.text in ("exists", "forall", "~"):
            condition = self.condition(threads)
        elif tok.kind == "ident" and tok.text in ("locations", "filter"):
            raise _Fail(f"stressmm does not read herd's `{tok.text}` clause: remove it",
                        tok.line, tok.col)
        expects += self.expects()
        tok = self.peek()
        if tok.kind != "end":
            raise _Fail(f"expected a condition (exists, ~exists, forall) or the end of the test, "
                        f"found {_describe(tok)}", tok.line, tok.col)
        decls = tuple(Var(v, atomic=bool(self.vars[v][0]), init=self.vars[v][1])
                      for v in self.var_order)
        return Program(name, decls, tuple(Thread(tuple(ops)) for ops, _ in threads), condition,
                       tuple(expects), description)

    def expects(self) -> list:
        out = []
        while self.peek().kind == "expect":
            tok = self.next()
            body = tok.text[len("expect"):]
            for part in body.split(";"):
                if not part.strip():
                    continue
                m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([a-z]+)\s*", part)
                if not m or m.group(2) not in VERDICTS:
                    raise _Fail(f"cannot read {part.strip()!r} in an expect comment: write "
                                f"(* expect sc: forbidden; tso: allowed *)", tok.line, tok.col)
                out.append(Expect(m.group(1), m.group(2), line=tok.line))
        return out

    def declare(self, tok: _Tok, atomic: Optional[bool] = None, init: Optional[int] = None):
        name = tok.text
        if name not in self.vars:
            self.vars[name] = [None, 0]
            self.var_order.append(name)
        entry = self.vars[name]
        if atomic is not None:
            if entry[0] is not None and entry[0] != atomic:
                raise _Fail(f"{name} is an atomic_int in one thread and an int in another: "
                            f"stressmm gives a variable one type; use one in every thread "
                            f"(*{name} on an atomic_int is a plain, non-atomic access)",
                            tok.line, tok.col)
            entry[0] = atomic
        if init is not None:
            entry[1] = init

    def init(self) -> None:
        self.expect("{")
        while not self.at("}"):
            atomic = None
            if self.at("atomic_int") or self.at("int"):
                atomic = self.next().text == "atomic_int"
            if self.at("["):
                self.next()
                tok = self.ident("a variable name in [x]")
                self.expect("]")
            else:
                tok = self.ident("a variable name (x = 0;), [x] = 0; or }")
            self.expect("=", f" after {tok.text} in the initial state")
            self.declare(tok, atomic, self.int(f"the initial value of {tok.text}"))
            self.expect(";", " after an initial value")
        self.next()

    def thread(self, index: int):
        head = self.next()
        if head.text != f"P{index}":
            raise _Fail(f"expected thread P{index} (threads are numbered in order), found "
                        f"{_describe(head)}", head.line, head.col)
        self.expect("(", f" after P{index}")
        params = set()
        while not self.at(")"):
            kind = self.ident("a parameter type (atomic_int* or int*)")
            if kind.text not in ("atomic_int", "int"):
                raise _Fail(f"expected a parameter type atomic_int* or int*, found "
                            f"{_describe(kind)}", kind.line, kind.col)
            self.expect("*", f" after {kind.text} (parameters are pointers: {kind.text}* x)")
            tok = self.ident("a parameter name")
            self.declare(tok, kind.text == "atomic_int")
            params.add(tok.text)
            if not self.at(")"):
                self.expect(",", " between parameters")
        self.next()
        self.expect("{", f" to open the body of P{index}")
        body = _Body(self, index, params)
        ops = []
        while not self.at("}"):
            op = body.statement()
            if op is not None:
                ops.append(op)
        self.next()
        return ops, body

    # -- conditions --------------------------------------------------------------------------
    def condition(self, threads) -> Condition:
        tok = self.next()
        quantifier = tok.text
        if tok.text == "~":
            self.expect("exists", " after ~")
            quantifier = "~exists"
        expr = self.disj(threads, 0)
        return Condition(expr, quantifier)

    def disj(self, threads, depth):
        return _joined(self, "\\/", Or,
                       lambda: _joined(self, "/\\", And, lambda: self.atom(threads, depth)))

    def atom(self, threads, depth):
        if depth > _MAX_DEPTH:
            tok = self.peek()
            raise _Fail(f"condition nested more than {_MAX_DEPTH} deep", tok.line, tok.col)
        if self.at("~") or self.at("!"):
            self.next()
            return Not(self.atom(threads, depth + 1))
        if self.at("("):
            self.next()
            expr = self.disj(threads, depth + 1)
            self.expect(")", " to close ( in the condition")
            return expr
        lhs = self.ref(threads)
        op = self.next()
        if op.text not in ("=", "==", "!="):
            raise _Fail(f"expected = or != after {lhs}, found {_describe(op)}", op.line, op.col)
        tok = self.peek()
        if (tok.kind == "int" and not self.at(":", 1)) or tok.text == "-":
            value = self.int(f"a value to compare {lhs} with")
        else:
            value = self.ref(threads)
        return Cmp(lhs, value, equal=op.text != "!=")

    def ref(self, threads):
        tok = self.next()
        if tok.kind == "int" and self.at(":"):
            self.next()
            reg = self.ident(f"a register after {tok.text}:")
            t = int(tok.text)
            if t >= len(threads):
                raise _Fail(f"P{t} is not a thread of this test", tok.line, tok.col)
            if reg.text not in threads[t][1].written:
                raise _Fail(f"P{t} never writes register {reg.text}", reg.line, reg.col)
            return RegRef(t, reg.text)
        bracket = tok.text == "["
        if bracket:
            tok = self.ident("a variable in [x]")
        if tok.kind != "ident":
            raise _Fail(f"expected 0:r0, a variable or ( in the condition, found "
                        f"{_describe(tok)}", tok.line, tok.col)
        if tok.text not in self.vars:
            raise _Fail(f'"{tok.text}" is not a variable of this test (a register needs its '
                        f"thread: 0:{tok.text})", tok.line, tok.col)
        if bracket:
            self.expect("]")
        return MemRef(tok.text)


class _Body:
    """The statements of one thread: each becomes an op, `int e = 3;` a local constant."""

    def __init__(self, parser: _Parser, index: int, params: set):
        self.p, self.index, self.params = parser, index, params
        self.written: set = set()     # registers
        self.consts: dict = {}        # local constants (a CAS's expected value)

    def loc(self, atomic: bool, what: str, spin: bool = False) -> Tuple[str, _Tok]:
        """The variable an access names. `atomic`: an atomic_* call, which needs an
        atomic_int; a plain access (`*x`) reads or writes an int or, non-atomically, an
        atomic_int, except in a spin loop."""
        tok = self.p.ident(f"a variable (a parameter of P{self.index}) {what}")
        if tok.text not in self.params:
            raise _Fail(f"{tok.text} is not a parameter of P{self.index}: add "
                        f"{'atomic_int' if atomic else 'int'}* {tok.text} to its parameters",
                        tok.line, tok.col)
        is_atomic = bool(self.p.vars[tok.text][0])
        if atomic and not is_atomic:
            raise _Fail(f"{tok.text} is an int: use atomic_* operations on atomic_int "
                        f"variables only", tok.line, tok.col)
        if spin and is_atomic and not atomic:
            raise _Fail(f"{tok.text} is an atomic_int: spin on it with atomic_load_explicit "
                        f"(a plain spin loop on an atomic_int is not supported; a plain load "
                        f"int r0 = *{tok.text}; is)", tok.line, tok.col)
        return tok.text, tok

    def value(self):
        tok = self.p.peek()
        if tok.kind == "ident":
            self.p.next()
            if tok.text in self.consts:
                return self.consts[tok.text]
            if tok.text not in self.written:
                raise _Fail(f"register {tok.text} is read before it is written in "
                            f"P{self.index}", tok.line, tok.col)
            if self.p.at("+") or self.p.at("-"):      # r0 + 1: a register plus a constant
                sign = self.p.next().text
                const = self.p.int(f"a constant after {tok.text} {sign}")
                return Sum(tok.text, const if sign == "+" else -const)
            return tok.text
        return self.p.int("a value (an int or a register)")

    def order(self) -> Order:
        tok = self.p.ident("a memory order (memory_order_relaxed, ...)")
        if tok.text not in _MO:
            raise _Fail(f"expected a memory order ({', '.join(_MO)}), found {_describe(tok)}",
                        tok.line, tok.col)
        return _MO[tok.text]

    def statement(self):
        p = self.p
        first = p.peek()
        line = first.line
        if first.kind == "sym" and first.text == ";":
            p.next()
            return None
        if p.at("*"):                                   # *x = v;
            p.next()
            loc, _ = self.loc(False, "after *")
            p.expect("=", f" in *{loc} = value")
            op = Store(loc, self.value(), line=line)
            p.expect(";", " at the end of the statement")
            return op
        if p.at("while"):
            return self.spin(line)
        reg = None
        if p.at("int") or (first.kind == "ident" and p.at("=", 1)):
            declared = p.at("int")
            if declared:
                p.next()
            tok = p.ident("a register name")
            reg = tok.text
            if reg in p.vars:
                raise _Fail(f"register {reg} has the name of a shared variable; rename it",
                            tok.line, tok.col)
            p.expect("=", f" after {reg}")
            if declared and (p.peek().kind == "int" or p.at("-")) and p.at(";", 1 + p.at("-")):
                self.consts[reg] = p.int("a constant")   # `int e = 0;`: a local constant
                p.expect(";")
                return None
        op = self.expression(reg, line)
        p.expect(";", " at the end of the statement")
        self.written.update(writes_of(op))
        return op

    def expression(self, reg, line):
        p = self.p
        if p.at("*"):
            p.next()
            loc, _ = self.loc(False, "after *")
            if reg is None:
                raise _Fail(f"a load *{loc} needs a register: int r0 = *{loc};", line, 1)
            return Load(reg, loc, line=line)
        fn = p.ident("an atomic operation or *x")
        call = fn.text
        p.expect("(", f" after {call}")
        if call == "atomic_thread_fence":
            order = self.order()
            p.expect(")", f" to close {call}")
            if reg is not None:
                raise _Fail(f"{call} returns nothing: drop `{reg} =`", fn.line, fn.col)
            return Fence(order, line=line)
        explicit = call.endswith("_explicit")
        base = call[:-len("_explicit")] if explicit else call
        if base not in _CALLS:
            raise _Fail(f"stressmm does not read {call}: it reads {', '.join(_CALLS)} (each also "
                        f"_explicit), atomic_thread_fence, *x and while loops", fn.line, fn.col)
        loc, _ = self.loc(True, f"as the first argument of {call}")
        if base == "atomic_load":
            order = self.tail_order(explicit)
            if reg is None:
                raise _Fail(f"the value of {call} must go to a register: int r0 = {call}(...);",
                            fn.line, fn.col)
            return Load(reg, loc, order, line=line)
        if base == "atomic_store":
            p.expect(",", f" after the variable of {call}")
            value = self.value()
            order = self.tail_order(explicit)
            if reg is not None:
                raise _Fail(f"{call} returns nothing: drop `{reg} =`", fn.line, fn.col)
            return Store(loc, value, order, line=line)
        if base in ("atomic_fetch_add", "atomic_exchange"):
            p.expect(",", f" after the variable of {call}")
            value = self.value()
            order = self.tail_order(explicit)
            if base == "atomic_exchange":
                return Rmw(reg, loc, RmwOp.SWAP, value, order=order, line=line)
            if p.at("+"):           # fetch_add(...) + v: the new value, as Go's atomic.Add
                plus = p.next()
                again = self.value()
                if again != value:
                    raise _Fail(f"stressmm reads `{call}(x, v, ...) + v` (the new value) only "
                                f"with the same v on both sides", plus.line, plus.col)
                return Rmw(reg, loc, RmwOp.ADD, value, order=order, line=line)
            return Rmw(reg, loc, RmwOp.FETCH_ADD, value, order=order, line=line)
        # atomic_compare_exchange_strong
        p.expect(",", f" after the variable of {call}")
        p.expect("&", " (the expected value is a pointer to a local: &e)")
        e = p.ident("a local holding the expected value")
        if e.text not in self.consts:
            raise _Fail(f"{e.text} is not a local constant: declare `int {e.text} = 0;` "
                        f"before the compare-exchange", e.line, e.col)
        expected = self.consts.pop(e.text)   # it may change: later reads are refused
        p.expect(",", " after the expected value")
        value = self.value()
        order = Order.SEQ_CST
        if explicit:
            p.expect(",", " before the success order")
            order = self.order()
            p.expect(",", " before the failure order")
            self.order()
        p.expect(")", f" to close {call}")
        return Rmw(reg, loc, RmwOp.CAS, value, expected=expected, order=order, line=line)

    def tail_order(self, explicit: bool) -> Order:
        order = Order.SEQ_CST
        if explicit:
            self.p.expect(",", " before the memory order")
            order = self.order()
        self.p.expect(")", " to close the call")
        return order

    def spin(self, line):
        p = self.p
        p.next()
        p.expect("(", " after while")
        if p.at("*"):
            p.next()
            loc, _ = self.loc(False, "after *", spin=True)
            order = None
        else:
            fn = p.ident("atomic_load_explicit(x, ...) or *x")
            if fn.text not in ("atomic_load", "atomic_load_explicit"):
                raise _Fail(f"a while loop spins on a load (atomic_load_explicit or *x), found "
                            f"{_describe(fn)}", fn.line, fn.col)
            p.expect("(")
            loc, _ = self.loc(True, f"in {fn.text}")
            order = self.tail_order(fn.text.endswith("_explicit"))
        cmp = p.next()
        if cmp.text not in ("==", "!="):
            raise _Fail(f"expected == or != in the loop condition, found {_describe(cmp)}",
                        cmp.line, cmp.col)
        value = p.int("the value the loop compares with (an int)")
        p.expect(")", " to close the loop condition")
        if p.at("{"):
            p.next()
            p.expect("}", " (a spin loop has an empty body: {})")
        else:
            p.expect(";", " (a spin loop has an empty body: {} or ;)")
        return Await(loc, value, order, until_equal=cmp.text == "!=", line=line)


def parse(text: str, filename: str = "<string>") -> List[Program]:
    """The test of a herd C litmus text (one test per file, as herd7 reads it). Raises
    LitmusSyntaxError with the file, line and column."""
    lines = _split_lines(text.lstrip("\ufeff"))
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines) - 1)
    try:
        m = _HEADER.match(lines[start].strip())
        if not m:
            raise _Fail("expected a herd C test header `C NAME`", start + 1, 1)
        parser = _Parser(_tokens("\n".join(lines[start + 1:]), start + 2))
        program = parser.test(m.group(1))
    except _Fail as fail:
        raise _syntax_error(fail.message, filename, fail.line, fail.col, lines) from None
    except ProgramError as err:
        raise _syntax_error(err.message, filename, err.line or start + 1, 1, lines) from None
    return [program]


def _syntax_error(message: str, filename: str, line: int, col: int,
                  lines: List[str]) -> LitmusSyntaxError:
    """The error at `line`, `col`, with that line of the text for the caret excerpt."""
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return LitmusSyntaxError(message, filename, line, col, source)


# ------------------------------------------------------------------------------- writing


_FAIL_ORDER = {Order.SEQ_CST: Order.SEQ_CST, Order.ACQ_REL: Order.ACQUIRE,
               Order.ACQUIRE: Order.ACQUIRE, Order.RELEASE: Order.RELAXED,
               Order.RELAXED: Order.RELAXED}


def _mo(order: Order) -> str:
    return f"memory_order_{order.value}"


def _c_op(op, declared: set, fresh) -> List[str]:
    """The C statements of one op; `declared` holds the registers already declared."""
    def assign(reg):
        if reg is None:
            return ""
        if reg in declared:
            return f"{reg} = "
        declared.add(reg)
        return f"int {reg} = "

    if isinstance(op, Store):
        if op.order is None:
            return [f"*{op.loc} = {op.value};"]
        return [f"atomic_store_explicit({op.loc}, {op.value}, {_mo(op.order)});"]
    if isinstance(op, Load):
        if op.order is None:
            return [f"{assign(op.reg)}*{op.loc};"]
        return [f"{assign(op.reg)}atomic_load_explicit({op.loc}, {_mo(op.order)});"]
    if isinstance(op, Fence):
        return [f"atomic_thread_fence({_mo(op.order)});"]
    if isinstance(op, Await):
        load = (f"*{op.loc}" if op.order is None
                else f"atomic_load_explicit({op.loc}, {_mo(op.order)})")
        return [f"while ({load} {'!=' if op.until_equal else '=='} {op.value}) {{}}"]
    if isinstance(op, Rmw):
        if op.op in (RmwOp.ADD, RmwOp.FETCH_ADD):
            call = f"atomic_fetch_add_explicit({op.loc}, {op.operand}, {_mo(op.order)})"
            if op.op is RmwOp.ADD and op.reg:      # Go's atomic.Add: the new value
                return [f"{assign(op.reg)}{call} + {op.operand};"]
            return [f"{assign(op.reg)}{call};"]
        if op.op is RmwOp.SWAP:
            return [f"{assign(op.reg)}atomic_exchange_explicit({op.loc}, {op.operand}, "
                    f"{_mo(op.order)});"]
        if op.op is RmwOp.CAS:
            e = fresh()
            return [f"int {e} = {op.expected};",
                    f"{assign(op.reg)}atomic_compare_exchange_strong_explicit({op.loc}, &{e}, "
                    f"{op.operand}, {_mo(op.order)}, {_mo(_FAIL_ORDER[op.order])});"]
    raise CFormatError(f"`{_op_text(op)}` has no herd C form")


def _op_text(op) -> str:
    return print_op(op, indent="")


def _c_expr(expr) -> str:
    if isinstance(expr, Condition):
        expr = expr.expr
    if isinstance(expr, Cmp):
        def ref(r):
            return f"{r.thread}:{r.reg}" if isinstance(r, RegRef) else str(r)
        return f"{ref(expr.lhs)}{'=' if expr.equal else '!='}{ref(expr.value)}"
    if isinstance(expr, Not):
        return f"~({_c_expr(expr.item)})"
    if isinstance(expr, (And, Or)):
        if len(expr.items) < 2:
            raise CFormatError(f"an {type(expr).__name__} of {len(expr.items)} item(s) has no text")
        sep = " /\\ " if isinstance(expr, And) else " \\/ "
        return sep.join(f"({_c_expr(e)})" if isinstance(e, (And, Or)) else _c_expr(e)
                        for e in expr.items)
    if isinstance(expr, FlagIs):
        raise CFormatError(f"the condition names the outcome flag `{expr.flag}`, which herd's C "
                           f"format does not have")
    raise CFormatError(f"not a condition expression: {expr!r}")


def print_c(program: Program) -> str:
    """A program as a herd C litmus test. Raises CFormatError, naming the op or the condition,
    for what the C format cannot express (the Go primitives, outcome flags).

        >>> from stressmm.syntax import parse as parse_litmus
        >>> [mp] = parse_litmus('''litmus MP
        ... var x int
        ... var y atomic int
        ... P0:
        ...   x = 1
        ...   atomic.Store(&y, 1, release)
        ... P1:
        ...   r0 = atomic.Load(&y, acquire)
        ...   r1 = x
        ... exists (P1:r0 == 1 && P1:r1 == 0)
        ... ''')
        >>> print(print_c(mp), end="")
        C MP
        { [x] = 0; [y] = 0; }
        P0(int* x, atomic_int* y) {
          *x = 1;
          atomic_store_explicit(y, 1, memory_order_release);
        }
        P1(int* x, atomic_int* y) {
          int r0 = atomic_load_explicit(y, memory_order_acquire);
          int r1 = *x;
        }
        exists (1:r0=1 /\\ 1:r1=0)
    """
    for i, op in program.ops():
        if not isinstance(op, (Load, Store, Rmw, Fence, Await)):
            where = f" (line {op.line})" if op.line else ""
            raise CFormatError(f"{program.name}: P{i}{where}: `{_op_text(op)}` is a Go-only op: "
                               f"herd's C format has no {type(op).__name__}")
    bad = [d for d in program.decls if not isinstance(d, Var)]
    if bad:
        raise CFormatError(f"{program.name}: `{bad[0].name}` is a {kind_name(bad[0])}, a Go "
                           f"primitive herd's C format does not have")
    if not re.fullmatch(r"\S+", program.name):
        raise CFormatError(f"the name {program.name!r} has spaces, which a herd C header "
                           f"`C NAME` cannot hold")
    lines = [f"C {program.name}"]
    if program.description:
        if '"' in program.description or "\n" in program.description:
            raise CFormatError("the description holds a quote or a newline, which herd's C "
                               "format cannot hold")
        lines.append(f'"{program.description}"')
    lines.append("{ " + " ".join(f"[{v.name}] = {v.init};" for v in program.vars) + " }")
    params = ", ".join(f"{'atomic_int' if v.atomic else 'int'}* {v.name}" for v in program.vars)
    for i, thread in enumerate(program.threads):
        lines.append(f"P{i}({params}) {{")
        declared: set = set()
        count = iter(range(10**6))
        taken = {r for r in program.registers(i)} | {v.name for v in program.vars}

        def fresh():
            while True:
                name = f"expected{next(count)}"
                if name not in taken:
                    taken.add(name)
                    return name

        for op in thread.ops:
            try:
                lines += ["  " + s for s in _c_op(op, declared, fresh)]
            except CFormatError as err:
                where = f" (line {op.line})" if op.line else ""
                raise CFormatError(f"{program.name}: P{i}{where}: {err}") from None
        lines.append("}")
    if program.condition is not None:
        try:
            lines.append(f"{program.condition.quantifier} ({_c_expr(program.condition)})")
        except CFormatError as err:
            raise CFormatError(f"{program.name}: {err}") from None
    if program.expects:
        lines.append("(* expect " + "; ".join(f"{e.model}: {e.verdict}"
                                              for e in program.expects) + " *)")
    return "\n".join(lines) + "\n"
