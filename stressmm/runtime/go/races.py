"""The Go race detector's reports, mapped back to litmus ops (stressmm.go_judge holds them
against the go model's races).

A report (`WARNING: DATA RACE`) names two accesses, each with a stack; the first frame of each
stack that lies on a line of the test's thread methods gives the litmus op (`GoTest.op_at`).

    >>> block = '''WARNING: DATA RACE
    ... Read at 0x00c0000140f8 by goroutine 8:
    ...   main.(*readyPlainState).p1()
    ...       /tmp/b/main.go:12 +0x3a
    ... Previous write at 0x00c0000140f8 by goroutine 7:
    ...   main.(*readyPlainState).p0()
    ...       /tmp/b/main.go:7 +0x44
    ... ==================
    ... '''
    >>> parse_reports(block)
    [((12,), (7,))]
"""
from __future__ import annotations

import re

from ...program import Await, Load, Rmw, Store, is_plain_access, walk_ops

__all__ = ["parse_reports", "reported_ops", "op_pair", "ReportReader"]

_HEADER = re.compile(r"^(?:Previous )?(?:atomic )?(?:read|write)\b.* at 0x", re.IGNORECASE)
_FRAME_LINE = re.compile(r"main\.go:(\d+)")
_START, _END = "WARNING: DATA RACE", "=================="


def parse_reports(stderr: str) -> list:
    """For each complete `WARNING: DATA RACE` report (one the detector ended with its line of
    `=`: a report cut short by a killed process is left out), the main.go line numbers of each
    of its two stacks (top frame first)."""
    out = []
    for block in stderr.split(_START)[1:]:
        if _END not in block:
            continue
        block = block.split(_END)[0]
        stacks: list = []
        for line in block.splitlines():
            if _HEADER.match(line.strip()):
                stacks.append([])
            elif stacks:
                m = _FRAME_LINE.search(line)
                if m:
                    stacks[-1].append(int(m.group(1)))
            if len(stacks) > 2:
                break
        if len(stacks) >= 2:
            out.append((tuple(stacks[0]), tuple(stacks[1])))
    return out


def op_pair(test, stacks: tuple):
    """The pair of litmus ops ((thread, index), (thread, index)), sorted, that a report's two
    stacks name (`GoTest.op_at` of the first frame of each on a thread method's line), or None
    when a stack names no litmus op.

    The detector of gc (go1.19) reports a `sync/atomic` access without the frame that called
    it, so a race between a plain and an atomic access of one variable names the plain op
    only: the other one is then the atomic op of that variable in another thread that
    conflicts with it, when there is exactly one (`_atomic_partner`); otherwise None."""
    ops = [next((test.op_at(ln) for ln in stack if test.op_at(ln)), None) for stack in stacks]
    if ops.count(None) == 1:
        known = next(op for op in ops if op is not None)
        ops = [known, _atomic_partner(test.program, tuple(known))]
    return None if None in ops else tuple(sorted(tuple(op) for op in ops))


def _atomic_partner(program, known: tuple):
    """(thread, index) of the one atomic op of another thread that conflicts with plain op
    `known` on its variable, or None when there is none or more than one.

        >>> from stressmm.syntax import parse
        >>> [p] = parse("litmus T\\nvar a atomic int\\nP0:\\n  r0 = atomic.Load(&a)\\n"
        ...             "P1:\\n  a = 1\\n")
        >>> _atomic_partner(p, (1, 0)), _atomic_partner(p, (0, 0))
        ((0, 0), None)
    """
    t, i = known
    op = tuple(walk_ops(program.threads[t].ops))[i]
    if not is_plain_access(op):
        return None
    found = [(u, k) for u, th in enumerate(program.threads) if u != t
             for k, other in enumerate(walk_ops(th.ops))
             if isinstance(other, (Load, Store, Rmw, Await)) and not is_plain_access(other)
             and other.loc == op.loc
             and (isinstance(op, Store) or not isinstance(other, (Load, Await)))]
    return found[0] if len(found) == 1 else None


class ReportReader:
    """Reads a child's stderr as it comes, line by line, and gives the reports completed so
    far: each report is parsed once, however often `feed` is called.

        >>> r = ReportReader()
        >>> r.feed(["==================\\n", "WARNING: DATA RACE\\n", "Write at 0x01 by goroutine 7:\\n",
        ...         "  main.f()\\n", "      /b/main.go:7 +0x1\\n"])
        []
        >>> r.feed(["Previous read at 0x01 by goroutine 8:\\n", "      /b/main.go:9 +0x1\\n",
        ...         "==================\\n"])
        [((7,), (9,))]
    """

    def __init__(self):
        self._pending = ""

    def feed(self, lines: list) -> list:
        """The reports (as `parse_reports` gives them) that `lines` complete."""
        text = self._pending + "".join(lines)
        start = text.find(_START)
        if start < 0:
            self._pending = ""
            return []
        end = text.rfind(_END)
        if end < start:
            self._pending = text[start:]
            return []
        last = text.rfind(_START)
        done = text[:end + len(_END)] if last < end else text[:last]
        self._pending = text[len(done):] if last > end else ""
        return parse_reports(done)


def reported_ops(test, stderr_texts: list) -> tuple:
    """The detector's reports in `stderr_texts` (one per process) for `test` (the GoTest that
    ran the program): (sorted list of op pairs `[[thread, index], [thread, index]]`, list of
    the reports whose stacks name no litmus op, as their line numbers)."""
    reported, unmapped = set(), []
    for text in stderr_texts:
        for stacks in parse_reports(text):
            pair = op_pair(test, stacks)
            if pair is None:
                unmapped.append([list(s) for s in stacks])
            else:
                reported.add(pair)
    return [[list(a), list(b)] for a, b in sorted(reported)], unmapped
