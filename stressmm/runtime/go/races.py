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
    ... '''
    >>> parse_reports(block)
    [((12,), (7,))]
"""
from __future__ import annotations

import re

__all__ = ["parse_reports", "reported_ops"]

_HEADER = re.compile(r"^(?:Previous )?(?:atomic )?(?:read|write)\b.* at 0x", re.IGNORECASE)
_FRAME_LINE = re.compile(r"main\.go:(\d+)")


def parse_reports(stderr: str) -> list:
    """For each `WARNING: DATA RACE` report, the main.go line numbers of each of its two
    stacks (top frame first)."""
    out = []
    for block in stderr.split("WARNING: DATA RACE")[1:]:
        block = block.split("==================")[0]
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


def reported_ops(test, stderr_texts: list) -> tuple:
    """The detector's reports in `stderr_texts` (one per process) for `test` (the GoTest that
    ran the program): (sorted list of op pairs `[[thread, index], [thread, index]]`, list of
    the reports whose stacks name no litmus op, as their line numbers)."""
    reported, unmapped = set(), []
    for text in stderr_texts:
        for stacks in parse_reports(text):
            ops = [next((test.op_at(ln) for ln in stack if test.op_at(ln)), None)
                   for stack in stacks]
            if None in ops:
                unmapped.append([list(s) for s in stacks])
                continue
            reported.add(tuple(sorted(tuple(op) for op in ops)))
    return [[list(a), list(b)] for a, b in sorted(reported)], unmapped
