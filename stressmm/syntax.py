"""The litmus text format: parse and print programs, round-trip exact.

A `.litmus` file holds one or more tests, each starting with a `litmus NAME` line::

    >>> text = '''
    ... litmus SB "store buffering"
    ... var x, y int
    ... P0:
    ...   x = 1
    ...   r0 = y
    ... P1:
    ...   y = 1
    ...   r1 = x
    ... exists (P0:r0 == 0 && P1:r1 == 0)
    ... expect sc: forbidden; tso: allowed
    ... '''
    >>> [sb] = parse(text)
    >>> sb.threads[0].ops[1]
    Load(reg='r0', loc='y', order=None)
    >>> sb.threads[0].ops[1].line
    6
    >>> parse(print_program(sb)) == [sb]
    True

The exact grammar is in docs/format.md. In short: declarations (`var`, `mutex`, `rwmutex`,
`chan`, `once`, `waitgroup`) come first, then threads `P0:`, `P1:`, ... whose ops are indented,
then `exists (...)` and `expect model: verdict; ...` lines. `#` starts a comment. Registers
are the identifiers that are not declared names.

Errors are `LitmusSyntaxError` (a `ValueError`) carrying `filename`, `line` and `column`;
`str(err)` reads `file:line:col: what was expected, found what`. Errors of the program IR
(`ProgramError`) met while building a parsed test are reported the same way, at the op's line.
`print_program` writes the canonical text: printing then parsing gives an equal `Program`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

from .program import (
    FENCE_ORDERS, FLAGS, LOAD_ORDERS, MAX_VALUE, RMW_ORDERS, STORE_ORDERS, VERDICTS, And,
    Await, Chan, Close, Cmp, Condition, Expect, Fence, FlagIs, Load, Lock, MemRef, Mutex, Not,
    Once, OnceDo, Or, Order, Program, ProgramError, Recv, RegRef, RLock, Rmw, RmwOp, RUnlock, Sum,
    Send, Store, Thread, Unlock, Var, WaitGroup, WgAdd, WgDone, WgWait, kind_name, walk_ops,
    writes_of,
)

__all__ = [
    "LitmusSyntaxError", "parse", "parse_file", "print_program", "print_programs", "print_op",
    "print_expr", "print_condition", "scenario_paths", "find_scenario", "read_text",
]


class LitmusSyntaxError(ValueError):
    """Bad litmus text. `str(err)` is `file:line:col: message`; `err.excerpt()` adds the
    source line with a caret under the column.

        >>> try:
        ...     parse("litmus T\\nvar a atomic int\\nP0:\\n  r0 = atomic.Load(&a, releas)\\n", "T.litmus")
        ... except LitmusSyntaxError as err:
        ...     print(err.excerpt())
        T.litmus:4:24: expected a memory order (relaxed, acquire, seq_cst), found "releas"
              r0 = atomic.Load(&a, releas)
                                   ^
    """

    def __init__(self, message: str, filename: str = "<string>", line: int = 1,
                 column: int = 1, source_line: str = ""):
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        super().__init__(f"{filename}:{line}:{column}: {message}")

    def excerpt(self) -> str:
        """The message, the offending line and a caret under the column."""
        if not self.source_line:
            return str(self)
        shown = self.source_line.replace("\t", " ")
        return f"{self}\n    {shown}\n    {' ' * (self.column - 1)}^"


class _Fail(Exception):
    """Raised inside the parser; `parse` turns it into a LitmusSyntaxError with the filename."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


# ------------------------------------------------------------------------------- tokens


class _Tok(NamedTuple):
    kind: str  # "ident", "int", "str", "sym", "nl" (end of a line), "end" (end of a block)
    text: str
    line: int
    col: int


_SYMBOLS2 = ("<-", "==", "!=", "&&", "||")
_SYMBOLS1 = "(){},;:.&=-!~+"
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_DIGITS = frozenset("0123456789")
_IDENT_CHARS = _IDENT_START | _DIGITS
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_THREAD = re.compile(r"P(0|[1-9][0-9]{0,5})\Z")
_MAX_DEPTH = 100


def _describe(tok: _Tok) -> str:
    """How an error message names a token it found."""
    if tok.kind == "nl":
        return "end of line"
    if tok.kind == "end":
        return f'"{tok.text}"' if tok.text else "end of file"
    if tok.kind == "str":
        return "a quoted string"
    return f'"{tok.text}"'


def _scan_string(text: str, i: int, lineno: int) -> Tuple[str, int]:
    """Read the quoted string starting at text[i] == '"'; return (value, index after it)."""
    out = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            return "".join(out), j + 1
        if c == "\\":
            if j + 1 >= len(text):
                break
            e = text[j + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                j += 2
                continue
            if e == "x" and re.match(r"[0-9a-fA-F]{2}", text[j + 2:j + 4]):
                out.append(chr(int(text[j + 2:j + 4], 16)))
                j += 4
                continue
            raise _Fail(f'unknown escape "\\{e}" in a string: use \\\\, \\", \\n, \\t, \\r '
                        f"or \\xHH", lineno, j + 1)
        out.append(c)
        j += 1
    raise _Fail('unterminated string: add the closing "', lineno, i + 1)


def _tokenize(text: str, lineno: int, start: int = 0) -> List[_Tok]:
    """The tokens of one line from index `start`, up to a `#` comment (no trailing "nl")."""
    toks = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c == "#":
            break
        col = i + 1
        if c in _IDENT_START:
            j = i + 1
            while j < n and text[j] in _IDENT_CHARS:
                j += 1
            toks.append(_Tok("ident", text[i:j], lineno, col))
        elif c in _DIGITS:
            j = i + 1
            while j < n and text[j] in _IDENT_CHARS:
                j += 1
            word = text[i:j]
            if not all(ch in _DIGITS for ch in word):
                raise _Fail(f'expected a number, found "{word}"', lineno, col)
            toks.append(_Tok("int", word, lineno, col))
        elif c == '"':
            value, j = _scan_string(text, i, lineno)
            toks.append(_Tok("str", value, lineno, col))
        elif text[i:i + 2] in _SYMBOLS2:
            j = i + 2
            toks.append(_Tok("sym", text[i:j], lineno, col))
        elif c in _SYMBOLS1:
            j = i + 1
            toks.append(_Tok("sym", c, lineno, col))
        else:
            hint = {"|": ' (did you mean "||"?)', "<": ' (did you mean "<-"?)'}.get(c, "")
            raise _Fail(f"unexpected character {c!r}{hint}", lineno, col)
        i = j
    return toks


class _Stream:
    """A cursor over tokens, ending in an "end" token that repeats forever."""

    def __init__(self, toks: List[_Tok], end: _Tok):
        self.toks = toks
        self.end = end
        self.i = 0

    def peek(self, k: int = 0) -> _Tok:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else self.end

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, sym: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "sym" and tok.text == sym

    def expect(self, sym: str, context: str = "") -> _Tok:
        tok = self.next()
        if tok.kind != "sym" or tok.text != sym:
            raise _Fail(f'expected "{sym}"{context}, found {_describe(tok)}', tok.line, tok.col)
        return tok

    def ident(self, what: str) -> _Tok:
        tok = self.next()
        if tok.kind != "ident":
            raise _Fail(f"expected {what}, found {_describe(tok)}", tok.line, tok.col)
        return tok

    def finish(self, what: str) -> None:
        tok = self.peek()
        if tok.kind not in ("nl", "end"):
            raise _Fail(f"expected end of line after {what}, found {_describe(tok)}",
                        tok.line, tok.col)


# ------------------------------------------------------------------------------- lines


def _split_lines(text: str) -> List[str]:
    """Lines split at "\\n" only, with one trailing "\\r" (Windows line ends) removed."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _is_blank(line: str) -> bool:
    stripped = line.lstrip(" \t")
    return not stripped or stripped.startswith("#")


def _is_indented(line: str) -> bool:
    return line[:1] in (" ", "\t")


def _is_header(line: str) -> bool:
    return line.startswith("litmus") and (len(line) == 6 or line[6] in " \t#\"")


_DECL_WORDS = ("var", "mutex", "rwmutex", "chan", "once", "waitgroup")
_OP_HINT = ("x = v, r = x, atomic.Store/Load/Add/Swap/CAS(&a, ...), fence(order), "
            "mu.Lock(), ch <- v, r = <-ch, close(ch), o.Do { ... }, wg.Add(n), "
            "for x == v {}")
_RMW_NAMES = {"Add": RmwOp.ADD, "FetchAdd": RmwOp.FETCH_ADD, "Swap": RmwOp.SWAP, "CAS": RmwOp.CAS,
              "CompareAndSwap": RmwOp.CAS}
_KIND_WORD = {Mutex: "mutex", Chan: "chan", Once: "once", WaitGroup: "waitgroup"}





def _declare_hint(name: str, what: str) -> str:
    word = {"variable": f"var {name} int", "atomic variable": f"var {name} atomic int",
            "channel": f"chan {name} 0"}.get(what, f"{what} {name}")
    return f"declare it with `{word}` before the threads"


def _order_names(orders) -> str:
    return ", ".join(o.value for o in Order if o in orders)


# ------------------------------------------------------------------------------- parser


class _TestParser:
    """Parses one test: the lines from its `litmus` header up to the next header or the end.
    `lines` is the whole file (line numbers stay the file's); `start` indexes the header."""

    def __init__(self, lines: List[str], start: int):
        self.lines = lines
        self.start = start
        self.decls: list = []
        self.names: dict = {}
        self.op_cols: dict = {}  # line -> column of the first op on it, for IR errors
        self.refs: list = []  # (RegRef or MemRef, line, col) of the condition, checked at the end
        self.in_once = False  # inside a once.Do body (bodies do not nest)

    # -- the test as a whole ------------------------------------------------------------
    def parse(self) -> Tuple[Program, int]:
        """The program and the index of the first line after the test."""
        name, description = self._header(self.lines[self.start], self.start + 1)
        threads: list = []
        condition = None
        cond_line = None
        expects: list = []
        phase = "decls"
        i = self.start + 1
        while i < len(self.lines):
            line, lineno = self.lines[i], i + 1
            if _is_blank(line):
                i += 1
                continue
            if _is_indented(line):
                col = len(line) - len(line.lstrip(" \t")) + 1
                where = ("an op must follow a thread header: put `P0:` on its own line "
                         "above it" if phase == "decls" else
                         "an indented op after the exists/expect lines: ops belong under "
                         "a thread header `P<n>:`")
                raise _Fail(f"unexpected indented line: {where}", lineno, col)
            if _is_header(line):
                break
            toks = _tokenize(line, lineno)
            first = toks[0]
            s = _Stream(toks, _Tok("nl", "", lineno, len(line) + 1))
            if first.kind == "ident" and first.text in _DECL_WORDS:
                if phase != "decls":
                    raise _Fail(f"declarations come before the threads: move this `{first.text}` "
                                f"line above P0:", lineno, first.col)
                self._decl(s)
                i += 1
            elif first.kind == "ident" and first.text.startswith("P") and s.at(":", 1):
                if phase == "tail":
                    raise _Fail("threads come before the exists and expect lines",
                                lineno, first.col)
                want = f"P{len(threads)}"
                if first.text != want:
                    raise _Fail(f'expected thread header "{want}:" (threads are numbered '
                                f'P0, P1, ... in order), found "{first.text}:"', lineno, first.col)
                s.next(), s.next()
                s.finish(f"{want}: (put each op on its own indented line below it)")
                ops, i = self._thread(i + 1)
                threads.append(Thread(tuple(ops)))
                phase = "threads"
            elif _quantifier(s) is not None:
                quantifier = _quantifier(s)
                if condition is not None:
                    raise _Fail(f"a test has one condition line; this test already has one "
                                f"(line {cond_line}): join them with && or ||", lineno, first.col)
                if not threads:
                    raise _Fail(f"{quantifier} comes after the threads: add `P0:` and its ops "
                                f"first", lineno, first.col)
                for _ in range(2 if quantifier == "~exists" else 1):
                    s.next()
                condition = Condition(self._expr(s, 0), quantifier)
                s.finish(f"the {quantifier} condition")
                cond_line = lineno
                phase = "tail"
                i += 1
            elif first.kind == "ident" and first.text == "expect":
                if not threads:
                    raise _Fail("expect comes after the threads: add `P0:` and its ops first",
                                lineno, first.col)
                s.next()
                expects.extend(self._expects(s))
                phase = "tail"
                i += 1
            else:
                raise _Fail(f"expected a declaration ({', '.join(_DECL_WORDS)}), a thread "
                            f'header "P{len(threads)}:", exists, expect or litmus, found '
                            f"{_describe(first)}"
                            + (" (ops must be indented under a thread header)"
                               if phase == "threads" else ""), lineno, first.col)
        if not threads:
            raise _Fail(f'test "{name}" has no threads: add a line `P0:` followed by indented ops',
                        self.start + 1, 1)
        self._check_condition(threads, condition, cond_line)
        self._check_expects(expects, condition)
        try:
            program = Program(name=name, decls=tuple(self.decls), threads=tuple(threads),
                              condition=condition, expects=tuple(e for e, _, _ in expects),
                              description=description)
        except ProgramError as err:
            if err.line is not None:
                raise _Fail(err.message, err.line, self.op_cols.get(err.line, 1)) from None
            raise _Fail(f'test "{name}": {err.message}', self.start + 1, 1) from None
        return program, i

    def _header(self, line: str, lineno: int) -> Tuple[str, str]:
        i = 6
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line) or line[i] == "#":
            raise _Fail('expected a test name after "litmus" (e.g. `litmus SB "description"`)',
                        lineno, i + 1)
        if line[i] == '"':
            name, i = _scan_string(line, i, lineno)
        else:
            j = i
            while j < len(line) and line[j] not in ' \t"#':
                j += 1
            name, i = line[i:j], j
        rest = _tokenize(line, lineno, i)
        description = ""
        if rest and rest[0].kind == "str":
            description = rest[0].text
            rest = rest[1:]
        if rest:
            raise _Fail(f"expected a quoted description or end of line after the test name, "
                        f"found {_describe(rest[0])}", lineno, rest[0].col)
        return name, description

    # -- declarations ----------------------------------------------------------------------
    def _decl(self, s: _Stream) -> None:
        word = s.next().text
        names = [s.ident(f"a name to declare after {word}")]
        while s.at(","):
            s.next()
            names.append(s.ident("a name after \",\""))
        if word == "var":
            atomic = False
            if s.peek().kind == "ident" and s.peek().text == "atomic":
                s.next()
                atomic = True
            tok = s.next()
            if tok.kind != "ident" or tok.text != "int":
                raise _Fail(f'expected the type "int" or "atomic int", found {_describe(tok)}',
                            tok.line, tok.col)
            inits = [0] * len(names)
            if s.at("="):
                eq = s.next()
                inits = [self._int(s, "an initial value")]
                while s.at(","):
                    s.next()
                    inits.append(self._int(s, "an initial value"))
                if len(inits) != len(names):
                    raise _Fail(f"{len(names)} name(s) but {len(inits)} initial value(s): give "
                                f"one value per name", eq.line, eq.col)
            decls = [(t, Var(t.text, atomic, v)) for t, v in zip(names, inits)]
        elif word == "chan":
            capacity = self._int(s, "a channel capacity (0 = unbuffered)") \
                if s.peek().kind in ("int", "sym") and not s.at(",") else 0
            decls = [(t, Chan(t.text, capacity)) for t in names]
        elif word in ("mutex", "rwmutex"):
            decls = [(t, Mutex(t.text, rw=word == "rwmutex")) for t in names]
        elif word == "once":
            decls = [(t, Once(t.text)) for t in names]
        else:
            decls = [(t, WaitGroup(t.text)) for t in names]
        s.finish(f"the {word} declaration")
        for tok, decl in decls:
            if tok.text in self.names:
                raise _Fail(f'"{tok.text}" is already declared (as a {kind_name(self.names[tok.text])}); '
                            f"pick another name", tok.line, tok.col)
            try:
                Program("decl", (decl,), (Thread(()),))
            except ProgramError as err:
                raise _Fail(err.message, tok.line, tok.col) from None
            self.names[tok.text] = decl
            self.decls.append(decl)

    # -- threads and ops --------------------------------------------------------------------
    def _thread(self, i: int) -> Tuple[list, int]:
        """Ops of the thread whose indented lines start at index i; and the next line index."""
        toks: List[_Tok] = []
        while i < len(self.lines) and (_is_blank(self.lines[i]) or _is_indented(self.lines[i])):
            line = self.lines[i]
            if not _is_blank(line):
                toks.extend(_tokenize(line, i + 1))
                toks.append(_Tok("nl", "", i + 1, len(line) + 1))
            i += 1
        if i < len(self.lines):
            end = _Tok("end", self.lines[i].split()[0], i + 1, 1)
        else:
            last = len(self.lines)
            end = _Tok("end", "", last, len(self.lines[-1]) + 1)
        s = _Stream(toks, end)
        ops = self._stmts(s, closer=None)
        return ops, i

    def _stmts(self, s: _Stream, closer: Optional[str]) -> list:
        ops = []
        while True:
            tok = s.peek()
            if tok.kind == "nl" or (tok.kind == "sym" and tok.text == ";"):
                s.next()
                continue
            if tok.kind == "end" or (closer and tok.kind == "sym" and tok.text == closer):
                return ops
            self.op_cols.setdefault(tok.line, tok.col)
            ops.append(self._stmt(s))
            tok = s.peek()
            if not (tok.kind in ("nl", "end") or (tok.kind == "sym" and tok.text == ";")
                    or (closer and tok.kind == "sym" and tok.text == closer)):
                raise _Fail(f"expected the end of the op (a new line or \";\"), found "
                            f"{_describe(tok)}", tok.line, tok.col)

    def _stmt(self, s: _Stream):
        tok = s.peek()
        if s.at("<-"):
            s.next()
            return Recv(self._ref(s, Chan, "channel"), line=tok.line)
        if tok.kind != "ident":
            raise _Fail(f"expected an op ({_OP_HINT}), found {_describe(tok)}", tok.line, tok.col)
        word = tok.text
        if s.at(":", 1) and s.at("=", 2):
            colon = s.peek(1)
            raise _Fail('expected "=", found ":=" (the litmus format assigns with "=" only)',
                        colon.line, colon.col)
        if s.at("=", 1):
            return self._assign(s)
        if s.at(",", 1):
            return self._recv2(s)
        if word == "atomic" and s.at(".", 1):
            s.next()
            return self._atomic(s, None, tok.line)
        if s.at(".", 1):
            return self._method(s)
        if s.at("<-", 1):
            chan = self._ref(s, Chan, "channel")
            s.next()
            return Send(chan, self._value(s), line=tok.line)
        if word == "for":
            return self._await(s)
        if word == "fence" and s.at("(", 1):
            s.next(), s.next()
            order = Order.SEQ_CST
            if not s.at(")"):
                order = self._order(s, FENCE_ORDERS)
            s.expect(")", " to close fence(")
            return Fence(order, line=tok.line)
        if word == "close" and s.at("(", 1):
            s.next(), s.next()
            chan = self._ref(s, Chan, "channel")
            s.expect(")", " to close close(")
            return Close(chan, line=tok.line)
        if word in self.names:
            nxt = s.peek(1)
            raise _Fail(f'expected "=", "." or "<-" after {kind_name(self.names[word])} "{word}", '
                        f"found {_describe(nxt)}", nxt.line, nxt.col)
        raise _Fail(f'expected an op ({_OP_HINT}), found "{word}"', tok.line, tok.col)

    def _ref(self, s: _Stream, kinds, what: str) -> str:
        """A declared name of the given kind(s)."""
        tok = s.ident(f"a {what} name")
        decl = self.names.get(tok.text)
        if decl is None:
            raise _Fail(f'unknown {what} "{tok.text}": {_declare_hint(tok.text, what)}',
                        tok.line, tok.col)
        if not isinstance(decl, kinds):
            raise _Fail(f'"{tok.text}" is a {kind_name(decl)}, not a {what}', tok.line, tok.col)
        return tok.text

    def _assign(self, s: _Stream):
        target = s.next()
        s.next()  # "="
        decl = self.names.get(target.text)
        if decl is not None:
            if not isinstance(decl, Var):
                raise _Fail(f'"{target.text}" is a {kind_name(decl)}: only variables and registers '
                            f"can be assigned", target.line, target.col)
            rhs = s.peek()
            if rhs.kind == "ident" and isinstance(self.names.get(rhs.text), Var):
                raise _Fail(f"cannot copy variable {rhs.text} into {target.text} directly: load "
                            f"it into a register first (`r0 = {rhs.text}` then "
                            f"`{target.text} = r0`)", rhs.line, rhs.col)
            return Store(target.text, self._value(s), line=target.line)
        reg = target.text
        rhs = s.peek()
        if rhs.kind == "ident" and rhs.text == "atomic" and s.at(".", 1):
            s.next()
            return self._atomic(s, reg, target.line)
        if s.at("<-"):
            s.next()
            return Recv(self._ref(s, Chan, "channel"), reg, line=target.line)
        if rhs.kind == "ident":
            decl = self.names.get(rhs.text)
            if decl is None:
                raise _Fail(f'unknown variable "{rhs.text}": {_declare_hint(rhs.text, "variable")}'
                            f" (a register cannot be copied into another)", rhs.line, rhs.col)
            if not isinstance(decl, Var):
                raise _Fail(f'"{rhs.text}" is a {kind_name(decl)}, not a variable', rhs.line, rhs.col)
            s.next()
            return Load(reg, rhs.text, line=target.line)
        if rhs.kind == "int" or (rhs.kind == "sym" and rhs.text == "-"):
            raise _Fail(f'unknown variable "{reg}": {_declare_hint(reg, "variable")} (a '
                        f"register is written only by loads, atomics and receives)",
                        target.line, target.col)
        raise _Fail(f"expected a variable, an atomic.* call or a receive <-ch after "
                    f'"{reg} =", found {_describe(rhs)}', rhs.line, rhs.col)

    def _recv2(self, s: _Stream):
        first = s.next()
        s.next()  # ","
        second = s.ident("a register for the receive's ok flag")
        for tok in (first, second):
            if tok.text in self.names:
                raise _Fail(f'"{tok.text}" is a declared {kind_name(self.names[tok.text])}: a '
                            f"receive writes registers", tok.line, tok.col)
        if s.at(":") and s.at("=", 1):
            colon = s.peek()
            raise _Fail('expected "=", found ":=" (the litmus format assigns with "=" only)',
                        colon.line, colon.col)
        s.expect("=", " in `r, ok = <-ch`")
        s.expect("<-", " in `r, ok = <-ch`")
        chan = self._ref(s, Chan, "channel")
        reg = None if first.text == "_" else first.text
        ok = None if second.text == "_" else second.text
        return Recv(chan, reg, ok, line=first.line)

    def _atomic(self, s: _Stream, reg: Optional[str], line: int):
        """After `atomic`: `.Method(&loc, args..., order?)`."""
        s.expect(".")
        meth = s.ident("an atomic operation (Store, Load, Add, FetchAdd, Swap, CAS)")
        name = meth.text
        if name not in ("Store", "Load") and name not in _RMW_NAMES:
            raise _Fail(f'expected an atomic operation (Store, Load, Add, FetchAdd, Swap, CAS), '
                        f'found "{name}"', meth.line, meth.col)
        if name == "Store" and reg is not None:
            raise _Fail(f"atomic.Store returns nothing: drop `{reg} =`", meth.line, meth.col)
        if name == "Load" and reg is None:
            raise _Fail("atomic.Load needs a register to read into: `r0 = atomic.Load(&a)`",
                        meth.line, meth.col)
        s.expect("(", f" after atomic.{name}")
        loc = self._atomic_loc(s, name)
        if name == "Load":
            order = self._opt_order(s, LOAD_ORDERS)
            return Load(reg, loc, order, line=line)
        s.expect(",", f" and the value of atomic.{name}")
        if name == "Store":
            value = self._value(s)
            return Store(loc, value, self._opt_order(s, STORE_ORDERS), line=line)
        kind = _RMW_NAMES[name]
        expected = None
        if kind is RmwOp.CAS:
            expected = self._int(s, "the expected value of CAS (an int)")
            s.expect(",", " and the new value of CAS")
        operand = self._value(s)
        order = self._opt_order(s, RMW_ORDERS)
        return Rmw(reg, loc, kind, operand, expected, order, line=line)

    def _atomic_loc(self, s: _Stream, name: str) -> str:
        amp = s.next()
        if amp.kind != "sym" or amp.text != "&":
            raise _Fail(f'expected "&" and an atomic variable (atomic.{name}(&a, ...)), found '
                        f"{_describe(amp)}", amp.line, amp.col)
        tok = s.ident("an atomic variable name")
        decl = self.names.get(tok.text)
        if decl is None:
            raise _Fail(f'unknown variable "{tok.text}": '
                        f'{_declare_hint(tok.text, "atomic variable")}', tok.line, tok.col)
        if not isinstance(decl, Var):
            raise _Fail(f'"{tok.text}" is a {kind_name(decl)}, not an atomic variable',
                        tok.line, tok.col)
        if not decl.atomic:
            use = "read it with `r0 = x`" if name == "Load" else (
                "write it with `x = v`" if name == "Store" else "read-modify-writes need atomics")
            use = use.replace("x", tok.text, 1) if name in ("Load", "Store") else use
            raise _Fail(f"{tok.text} is a plain variable: {use}, or declare it "
                        f"`var {tok.text} atomic int`", tok.line, tok.col)
        return tok.text

    def _opt_order(self, s: _Stream, allowed) -> Order:
        """`)` (seq_cst, as Go) or `, order)`."""
        order = Order.SEQ_CST
        if s.at(","):
            s.next()
            order = self._order(s, allowed)
        s.expect(")", " (or \", order)\")" if order is Order.SEQ_CST else "")
        return order

    def _order(self, s: _Stream, allowed) -> Order:
        tok = s.next()
        if tok.kind == "ident" and tok.text in {o.value for o in allowed}:
            return Order(tok.text)
        raise _Fail(f"expected a memory order ({_order_names(allowed)}), found {_describe(tok)}",
                    tok.line, tok.col)

    def _method(self, s: _Stream):
        obj = s.next()
        s.next()  # "."
        decl = self.names.get(obj.text)
        if decl is None:
            raise _Fail(f'unknown name "{obj.text}": declare it (mutex, rwmutex, once, waitgroup) '
                        f"before the threads", obj.line, obj.col)
        meth = s.ident("a method name")
        if isinstance(decl, Mutex):
            methods = {"Lock": Lock, "Unlock": Unlock}
            if decl.rw:
                methods.update(RLock=RLock, RUnlock=RUnlock)
        elif isinstance(decl, Once):
            methods = {"Do": None}
        elif isinstance(decl, WaitGroup):
            methods = {"Add": WgAdd, "Done": WgDone, "Wait": WgWait}
        else:
            hint = (f"use atomic.Load(&{obj.text}) and friends" if isinstance(decl, Var)
                    else f"use {obj.text} <- v, r = <-{obj.text} or close({obj.text})")
            raise _Fail(f'"{obj.text}" is a {kind_name(decl)}: it has no methods ({hint})',
                        obj.line, obj.col)
        if meth.text not in methods:
            extra = (f" (RLock/RUnlock need `rwmutex {obj.text}`)"
                     if meth.text in ("RLock", "RUnlock") else "")
            raise _Fail(f"expected a method of {kind_name(decl)} {obj.text} ({', '.join(methods)}), "
                        f'found "{meth.text}"{extra}', meth.line, meth.col)
        if isinstance(decl, Once):
            if self.in_once:
                raise _Fail("once.Do inside a once.Do body is not supported: move it out of "
                            "the body", obj.line, obj.col)
            brace = s.expect("{", f" to open the body of {obj.text}.Do")
            self.in_once = True
            body = self._stmts(s, closer="}")
            self.in_once = False
            if not s.at("}"):
                raise _Fail(f'unterminated body of {obj.text}.Do: expected "}}" to close the "{{" '
                            f"opened here, found {_describe(s.peek())} at line {s.peek().line}",
                            brace.line, brace.col)
            s.next()
            return OnceDo(obj.text, tuple(body), line=obj.line)
        s.expect("(", f" after {obj.text}.{meth.text}")
        if meth.text == "Add":
            delta = self._int(s, "a wg.Add delta (a non-zero int)")
            s.expect(")", f" to close {obj.text}.Add(")
            return WgAdd(obj.text, delta, line=obj.line)
        s.expect(")", f" ({obj.text}.{meth.text} takes no arguments)")
        return methods[meth.text](obj.text, line=obj.line)

    def _await(self, s: _Stream):
        kw = s.next()  # "for"
        tok = s.peek()
        if tok.kind == "ident" and tok.text == "atomic" and s.at(".", 1):
            s.next(), s.next()
            meth = s.ident("Load")
            if meth.text != "Load":
                raise _Fail(f'expected "Load" in a spin loop `for atomic.Load(&a) == 0 {{}}`, '
                            f'found "{meth.text}"', meth.line, meth.col)
            s.expect("(", " after atomic.Load")
            loc = self._atomic_loc(s, "Load")
            order = self._opt_order(s, LOAD_ORDERS)
        else:
            loc = self._ref(s, Var, "variable")
            if self.names[loc].atomic:
                raise _Fail(f"{loc} is atomic: spin on it with "
                            f"`for atomic.Load(&{loc}) == v {{}}` (a plain spin loop on an "
                            f"atomic variable is not supported; a plain load `r0 = {loc}` is)",
                            tok.line, tok.col)
            order = None
        cmp = s.next()
        if cmp.kind != "sym" or cmp.text not in ("==", "!="):
            raise _Fail(f'expected "==" or "!=" in the spin loop, found {_describe(cmp)}',
                        cmp.line, cmp.col)
        value = self._int(s, "the value the spin loop compares with (an int)")
        s.expect("{", " (a spin loop has an empty body: `{}`)")
        s.expect("}", " (a spin loop has an empty body: `{}`)")
        return Await(loc, value, order, until_equal=cmp.text == "!=", line=kw.line)

    def _value(self, s: _Stream):
        """An int constant or a register."""
        tok = s.peek()
        if tok.kind == "ident":
            decl = self.names.get(tok.text)
            if decl is not None:
                raise _Fail(f'expected a constant or a register, found {kind_name(decl)} '
                            f'"{tok.text}"' + (f" (load it first: `r0 = {tok.text}`)"
                                               if isinstance(decl, Var) else ""),
                            tok.line, tok.col)
            s.next()
            if s.at("+") or s.at("-"):       # r0 + 1: a register plus a constant
                sign = s.next()
                const = self._int(s, f'a constant after "{tok.text} {sign.text}"')
                return Sum(tok.text, const if sign.text == "+" else -const)
            return tok.text
        return self._int(s, "a value (an int or a register)")

    def _int(self, s: _Stream, what: str) -> int:
        tok = s.next()
        sign = 1
        if tok.kind == "sym" and tok.text == "-":
            sign = -1
            first, tok = tok, s.next()
            if tok.kind != "int":
                raise _Fail(f"expected {what}, found {_describe(tok)}", tok.line, tok.col)
        else:
            first = tok
        if tok.kind != "int":
            raise _Fail(f"expected {what}, found {_describe(tok)}", tok.line, tok.col)
        digits = tok.text.lstrip("0") or "0"
        if len(digits) > 10 or int(digits) > MAX_VALUE:
            raise _Fail(f"expected {what} in [-{MAX_VALUE}, {MAX_VALUE}], found "
                        f'"{"-" if sign < 0 else ""}{tok.text}"', first.line, first.col)
        return sign * int(digits)

    # -- conditions and expectations --------------------------------------------------------
    def _expr(self, s: _Stream, depth: int):
        if depth > _MAX_DEPTH:
            tok = s.peek()
            raise _Fail(f"condition nested more than {_MAX_DEPTH} deep", tok.line, tok.col)
        return _joined(s, "||", Or, lambda: _joined(s, "&&", And, lambda: self._unary(s, depth)))

    def _unary(self, s: _Stream, depth: int):
        if depth > _MAX_DEPTH:
            tok = s.peek()
            raise _Fail(f"condition nested more than {_MAX_DEPTH} deep", tok.line, tok.col)
        if s.at("!"):
            s.next()
            return Not(self._unary(s, depth + 1))
        if s.at("("):
            s.next()
            expr = self._expr(s, depth + 1)
            s.expect(")", " to close \"(\" in the condition")
            return expr
        tok = s.next()
        if tok.kind == "ident" and _THREAD.match(tok.text) and s.at(":"):
            s.next()
            reg = s.ident(f"a register of {tok.text} after \"{tok.text}:\"")
            lhs = RegRef(int(tok.text[1:]), reg.text)
        elif tok.kind == "ident" and (s.at("==") or s.at("!=")):
            lhs = MemRef(tok.text)
        elif tok.kind == "ident" and tok.text in FLAGS:
            return FlagIs(tok.text)
        else:
            raise _Fail(f"expected a comparison (P0:r0 == 1, x != 2), a flag "
                        f"({', '.join(FLAGS)}), \"!\" or \"(\", found {_describe(tok)}",
                        tok.line, tok.col)
        self.refs.append((lhs, tok.line, tok.col))
        cmp = s.next()
        if cmp.kind != "sym" or cmp.text not in ("==", "!="):
            raise _Fail(f'expected "==" or "!=" after {lhs}, found {_describe(cmp)}',
                        cmp.line, cmp.col)
        tok = s.peek()
        if tok.kind == "ident" and _THREAD.match(tok.text) and s.at(":", 1):
            s.next(), s.next()
            reg = s.ident(f"a register of {tok.text} after \"{tok.text}:\"")
            value = RegRef(int(tok.text[1:]), reg.text)
            self.refs.append((value, tok.line, tok.col))
        elif tok.kind == "ident":
            s.next()
            value = MemRef(tok.text)
            self.refs.append((value, tok.line, tok.col))
        else:
            value = self._int(s, f"an int, a register (P1:r0) or a variable to compare {lhs} with")
        return Cmp(lhs, value, equal=cmp.text == "==")

    def _expects(self, s: _Stream) -> list:
        out = []
        while True:
            model = s.ident("a model name (e.g. sc, tso, go) in `expect sc: forbidden`")
            s.expect(":", f" after the model name {model.text}")
            verdict = s.ident(f"a verdict ({', '.join(VERDICTS)})")
            if verdict.text not in VERDICTS:
                raise _Fail(f"expected a verdict ({', '.join(VERDICTS)}), found "
                            f'"{verdict.text}"', verdict.line, verdict.col)
            out.append((Expect(model.text, verdict.text, line=model.line), verdict.line,
                        verdict.col))
            if not s.at(";"):
                break
            s.next()
            if s.peek().kind == "nl":
                break
        s.finish("the expect line (separate several with \";\")")
        return out

    def _check_condition(self, threads: list, condition, cond_line) -> None:
        for lhs, line, col in self.refs:
            if isinstance(lhs, RegRef):
                if lhs.thread >= len(threads):
                    raise _Fail(f"P{lhs.thread} is not a thread of this test (it has "
                                f"P0..P{len(threads) - 1})", line, col)
                written = {r for op in walk_ops(threads[lhs.thread].ops) for r in writes_of(op)}
                if lhs.reg not in written:
                    known = ", ".join(sorted(written)) or "none"
                    raise _Fail(f"P{lhs.thread} never writes register {lhs.reg} (its registers: "
                                f"{known})", line, col)
            elif not isinstance(self.names.get(lhs.loc), Var):
                raise _Fail(f'"{lhs.loc}" is not a declared variable (a register needs its '
                            f"thread: P0:{lhs.loc})", line, col)

    def _check_expects(self, expects: list, condition) -> None:
        for e, line, col in expects:
            if e.verdict in ("allowed", "forbidden") and condition is None:
                raise _Fail(f'"{e.verdict}" refers to the exists condition, but this test has '
                            f"none: add a line `exists (...)`", line, col)


def _joined(s: _Stream, sym: str, group, item):
    """What `item()` reads, repeated while `sym` joins: one item alone, else `group` of them
    (And for &&, Or for ||; herd's C conditions join with /\\ and \\/).

        >>> s = _Stream(_tokenize("1 && 2 && 3", 1), _Tok("end", "", 1, 12))
        >>> _joined(s, "&&", tuple, lambda: int(s.next().text))
        (1, 2, 3)
    """
    items = [item()]
    while s.at(sym):
        s.next()
        items.append(item())
    return items[0] if len(items) == 1 else group(tuple(items))


def _quantifier(s: "_Stream") -> Optional[str]:
    """The quantifier a condition line starts with (`exists`, `~exists`, `forall`), or None."""
    first = s.peek()
    if first.kind == "ident" and first.text in ("exists", "forall"):
        return first.text
    if first.kind == "sym" and first.text == "~" and s.peek(1).text == "exists":
        return "~exists"
    return None


_HERD_HEADER = re.compile(r"(C|X86|X86_64|x86|AArch64|ARM|PPC|RISCV|RISC-V|MIPS|LISA|GPU_PTX)"
                          r"\s+\S+")


def _other_format_hint(line: str) -> str:
    """A hint when `line` starts a test of another tool: herd7 / litmus7 tests begin with the
    architecture and the name (`C SB`, `X86 SB`, `AArch64 MP`).

        >>> _other_format_hint("C SB")
        '; this looks like a herd7/litmus7 test (`C SB`), a different format: stressmm reads tests that start with `litmus SB` (see docs/format.md)'
        >>> _other_format_hint("P0:")
        ''
    """
    m = _HERD_HEADER.match(line.strip())
    if not m:
        return ""
    name = line.split()[1]
    return (f"; this looks like a herd7/litmus7 test (`{line.strip()}`), a different format: "
            f"stressmm reads tests that start with `litmus {name}` (see docs/format.md)")


def parse(text: str, filename: str = "<string>") -> List[Program]:
    """All tests of a litmus text, in order. Raises LitmusSyntaxError.

        >>> [p] = parse("litmus T\\nvar x int\\nP0:\\n  x = 1\\n")
        >>> p.name, p.threads[0].ops
        ('T', (Store(loc='x', value=1, order=None),))
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes the text as a str, got {type(text).__name__}")
    if text.startswith("\ufeff"):   # a UTF-8 byte-order mark, as some editors write
        text = text[1:]
    lines = _split_lines(text)
    programs = []
    i = 0
    try:
        while i < len(lines):
            line = lines[i]
            if _is_blank(line):
                i += 1
                continue
            if not _is_header(line):
                col = len(line) - len(line.lstrip(" \t")) + 1
                word = (_tokenize(line, i + 1) or [_Tok("nl", "", i + 1, col)])[0]
                raise _Fail(f"expected a test header `litmus NAME \"description\"`, found "
                            f"{_describe(word)}{_other_format_hint(line)}", i + 1, col)
            program, i = _TestParser(lines, i).parse()
            programs.append(program)
        if not programs:
            raise _Fail("expected a test header `litmus NAME \"description\"`, found end of file",
                        len(lines), len(lines[-1]) + 1)
    except _Fail as fail:
        source = lines[fail.line - 1] if 0 < fail.line <= len(lines) else ""
        raise LitmusSyntaxError(fail.message, filename, fail.line, fail.col, source) from None
    return programs


def parse_file(path) -> List[Program]:
    """All tests of a .litmus file (`-`: standard input). Undecodable bytes are a
    LitmusSyntaxError; a missing file is the usual OSError."""
    return parse(read_text(path), "<stdin>" if str(path) == "-" else str(path))


def read_text(path) -> str:
    """The UTF-8 text of a file, without a leading byte-order mark; `-` reads standard input.
    Undecodable bytes are a LitmusSyntaxError at their line and column.

        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile("wb", suffix=".litmus", delete=False) as f:
        ...     _ = f.write(b"\\xef\\xbb\\xbflitmus T")
        >>> read_text(f.name)
        '\\ufefflitmus T'
        >>> os.unlink(f.name)
    """
    if str(path) == "-":
        import sys

        data = sys.stdin.buffer.read()
    else:
        data = Path(path).read_bytes()   # works for pipes too: /dev/fd/N, <(...)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[:err.start]
        line = before.count(b"\n") + 1
        col = len(before.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")) + 1
        raise LitmusSyntaxError(f"the file is not UTF-8 text (byte 0x{data[err.start]:02x})",
                                str(path), line, col) from None
    return text


# ------------------------------------------------------------------------------- printer

_BARE_NAME = re.compile(r'[!$-~]+\Z')  # printable ASCII without space, '"' and '#'
_RMW_PRINT = {RmwOp.ADD: "Add", RmwOp.FETCH_ADD: "FetchAdd", RmwOp.SWAP: "Swap", RmwOp.CAS: "CAS"}


def _quote(text: str) -> str:
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _order_suffix(order: Optional[Order]) -> str:
    return "" if order in (None, Order.SEQ_CST) else f", {order.value}"


def print_op(op, indent: str = "  ") -> str:
    """One op in the text format (a once body spans several lines, indented under `indent`).

        >>> print_op(Store("a", 1, Order.RELEASE))
        'atomic.Store(&a, 1, release)'
        >>> print_op(Await("ready", 0, Order.SEQ_CST, until_equal=False))
        'for atomic.Load(&ready) == 0 {}'
    """
    if isinstance(op, Load):
        if op.order is None:
            return f"{op.reg} = {op.loc}"
        return f"{op.reg} = atomic.Load(&{op.loc}{_order_suffix(op.order)})"
    if isinstance(op, Store):
        if op.order is None:
            return f"{op.loc} = {op.value}"
        return f"atomic.Store(&{op.loc}, {op.value}{_order_suffix(op.order)})"
    if isinstance(op, Rmw):
        args = f"{op.expected}, {op.operand}" if op.op is RmwOp.CAS else f"{op.operand}"
        call = f"atomic.{_RMW_PRINT[op.op]}(&{op.loc}, {args}{_order_suffix(op.order)})"
        return f"{op.reg} = {call}" if op.reg is not None else call
    if isinstance(op, Fence):
        return f"fence({op.order.value})"
    if isinstance(op, Await):
        read = op.loc if op.order is None else f"atomic.Load(&{op.loc}{_order_suffix(op.order)})"
        return f"for {read} {'!=' if op.until_equal else '=='} {op.value} {{}}"
    if isinstance(op, (Lock, Unlock, RLock, RUnlock)):
        return f"{op.mutex}.{type(op).__name__}()"
    if isinstance(op, Send):
        return f"{op.chan} <- {op.value}"
    if isinstance(op, Recv):
        if op.ok is None:
            return f"<-{op.chan}" if op.reg is None else f"{op.reg} = <-{op.chan}"
        if "_" in (op.reg, op.ok):
            raise ValueError(f"cannot print a receive into a register named \"_\" beside an ok "
                             f"flag: in `r, ok = <-{op.chan}` the name _ means no register; "
                             f"rename the register")
        return f"{op.reg or '_'}, {op.ok} = <-{op.chan}"
    if isinstance(op, Close):
        return f"close({op.chan})"
    if isinstance(op, OnceDo):
        if not op.body:
            return f"{op.once}.Do {{}}"
        if len(op.body) == 1 and not isinstance(op.body[0], OnceDo):
            return f"{op.once}.Do {{ {print_op(op.body[0])} }}"
        inner = indent + "  "
        body = "\n".join(inner + print_op(b, inner) for b in op.body)
        return f"{op.once}.Do {{\n{body}\n{indent}}}"
    if isinstance(op, WgAdd):
        return f"{op.wg}.Add({op.delta})"
    if isinstance(op, WgDone):
        return f"{op.wg}.Done()"
    if isinstance(op, WgWait):
        return f"{op.wg}.Wait()"
    raise TypeError(f"not an op: {op!r}")


def print_expr(expr) -> str:
    """A condition expression (or Condition) in the text format, parenthesised so that it
    parses back to the same tree.

        >>> print_expr(Or((FlagIs("deadlock"), And((Cmp(RegRef(0, "r0"), 1), Cmp(MemRef("x"), 2, False))))))
        'deadlock || (P0:r0 == 1 && x != 2)'
    """
    if isinstance(expr, Condition):
        expr = expr.expr
    if isinstance(expr, Cmp):
        return f"{expr.lhs} {'==' if expr.equal else '!='} {expr.value}"
    if isinstance(expr, FlagIs):
        return expr.flag
    if isinstance(expr, Not):
        inner = print_expr(expr.item)
        return f"!{inner}" if isinstance(expr.item, (FlagIs, Not)) else f"!({inner})"
    if isinstance(expr, (And, Or)):
        if len(expr.items) < 2:
            raise ValueError(f"cannot print {type(expr).__name__} with {len(expr.items)} item(s): "
                             f"the text format writes && and || between two or more items")
        return (" && " if isinstance(expr, And) else " || ").join(
            f"({print_expr(e)})" if isinstance(e, (And, Or)) else print_expr(e)
            for e in expr.items)
    raise TypeError(f"not a condition expression: {expr!r}")


def print_condition(condition: Condition) -> str:
    """A condition line: its quantifier and its expression.

        >>> print_condition(Condition(Cmp(RegRef(0, "r0"), RegRef(1, "r0")), "forall"))
        'forall (P0:r0 == P1:r0)'
    """
    return f"{condition.quantifier} ({print_expr(condition)})"


def _print_decls(decls: tuple) -> List[str]:
    lines = []
    group: list = []  # consecutive zero-initialised Vars of the same atomicity

    def flush():
        if group:
            kind = "atomic int" if group[0].atomic else "int"
            lines.append(f"var {', '.join(v.name for v in group)} {kind}")
            group.clear()

    for d in decls:
        if isinstance(d, Var) and d.init == 0 and (not group or group[0].atomic == d.atomic):
            group.append(d)
            continue
        flush()
        if isinstance(d, Var) and d.init == 0:
            group.append(d)
        elif isinstance(d, Var):
            lines.append(f"var {d.name} {'atomic int' if d.atomic else 'int'} = {d.init}")
        elif isinstance(d, Mutex):
            lines.append(f"{'rwmutex' if d.rw else 'mutex'} {d.name}")
        elif isinstance(d, Chan):
            lines.append(f"chan {d.name} {d.capacity}")
        else:
            lines.append(f"{_KIND_WORD[type(d)]} {d.name}")
    flush()
    return lines


def print_program(program: Program) -> str:
    """The canonical text of a program; `parse(print_program(p)) == [p]`.

        >>> p = Program("MP", (Var("x"), Var("y", atomic=True)), (
        ...     (Store("x", 1), Store("y", 1, Order.RELEASE)),
        ...     (Await("y", 1, Order.ACQUIRE), Load("r0", "x"))),
        ...     Condition(Cmp(RegRef(1, "r0"), 0)), (Expect("sc", "forbidden"),))
        >>> print(print_program(p), end="")
        litmus MP
        var x int
        var y atomic int
        P0:
          x = 1
          atomic.Store(&y, 1, release)
        P1:
          for atomic.Load(&y, acquire) != 1 {}
          r0 = x
        exists (P1:r0 == 0)
        expect sc: forbidden
    """
    name = program.name if _BARE_NAME.match(program.name) else _quote(program.name)
    header = f"litmus {name}"
    if program.description:
        header += f" {_quote(program.description)}"
    lines = [header] + _print_decls(program.decls)
    for i, thread in enumerate(program.threads):
        lines.append(f"P{i}:")
        lines.extend("  " + print_op(op) for op in thread.ops)
    if program.condition is not None:
        lines.append(print_condition(program.condition))
    if program.expects:
        lines.append("expect " + "; ".join(f"{e.model}: {e.verdict}" for e in program.expects))
    return "\n".join(lines) + "\n"


def print_programs(programs) -> str:
    """Several programs as one file, separated by blank lines."""
    return "\n".join(print_program(p) for p in programs)


# ------------------------------------------------------------------------------- scenarios


def _bundled_root() -> Path:
    try:
        from importlib.resources import files
        root = Path(str(files("stressmm.scenarios")))
        if root.is_dir():
            return root
    except (ImportError, TypeError, ValueError):
        pass
    source = Path(__file__).resolve().parent.parent / "scenarios"
    if source.is_dir():
        return source
    raise FileNotFoundError("the bundled scenarios are missing: neither the package "
                            f"stressmm.scenarios nor {source} exists; reinstall stressmm")


def scenario_paths(root=None) -> Tuple[Path, ...]:
    """The .litmus files under `root` (default: the bundled scenario library), sorted by their
    path relative to it.

        >>> names = [p.stem for p in scenario_paths()]
        >>> "SB" in names and "MP" in names
        True
    """
    base = _bundled_root() if root is None else Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"scenario folder {base} does not exist")
    return tuple(sorted(base.rglob("*.litmus"), key=lambda p: p.relative_to(base).as_posix()))


def find_scenario(name: str, root=None) -> Path:
    """The scenario file whose stem is `name` (e.g. "SB" or "MP+close"), or LookupError listing
    the names there are."""
    paths = scenario_paths(root)
    for p in paths:
        if p.stem == name:
            return p
    raise LookupError(f"no scenario named {name!r}; known: {', '.join(p.stem for p in paths)}")
