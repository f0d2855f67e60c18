"""The Go race detector's reports, mapped back to litmus ops and held against the go model.

A report (`WARNING: DATA RACE`) names two accesses, each with a stack; the first frame of each
stack that lies on a line of the test's thread methods gives the litmus op (`GoTest.op_at`).
Where the detector differs from the memory model on purpose (docs/go-backends.md), its
reports are listed apart (`channel`, `waitgroup`), never as unexpected.

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
from dataclasses import dataclass

from ...models.go import Access
from ...models.machine import op_text
from ...program import Close, Recv, Send, WgAdd, WgWait, walk_ops

__all__ = ["parse_reports", "RaceComparison", "compare"]

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


def _access(program, thread: int, index: int) -> Access:
    op = list(walk_ops(program.threads[thread].ops))[index]
    return Access(thread, index, op.line, op_text(op))


def _op(program, access: Access):
    return list(walk_ops(program.threads[access.thread].ops))[access.index]


def _is_chan(program, pair: tuple) -> bool:
    return any(isinstance(_op(program, a), (Send, Recv, Close)) for a in pair)


def _is_wg_add_wait(program, pair: tuple) -> bool:
    kinds = {type(_op(program, a)) for a in pair}
    return kinds == {WgAdd, WgWait}


@dataclass(frozen=True)
class RaceComparison:
    """The detector's reports beside the model's races, as pairs of `Access`."""

    reported: frozenset      # pairs (sorted Access tuples) the detector reported
    predicted: frozenset     # pairs the go model reports
    unmapped: tuple          # reports whose stacks name no litmus op (harness lines)
    channel: frozenset       # reported pairs on channel ops: a documented difference
    waitgroup: frozenset = frozenset()   # reported WaitGroup Add / Wait pairs: the same

    @property
    def missed(self) -> frozenset:
        """Races the model predicts that the detector never reported."""
        return self.predicted - self.reported

    @property
    def unexpected(self) -> frozenset:
        """Reports the model says cannot happen (the documented differences excepted: see
        `channel` and `waitgroup`)."""
        return self.reported - self.predicted - self.channel - self.waitgroup

    def lines(self, runs: int) -> list:
        out = []
        for a, b in sorted(self.reported & self.predicted):
            out.append(f"race reported and predicted: {a} / {b}")
        for a, b in sorted(self.missed):
            out.append(f"MISSED: the go model's race {a} / {b} was not reported by the "
                       f"detector in {runs:,} runs")
        for a, b in sorted(self.unexpected):
            out.append(f"UNEXPECTED: the detector reported {a} / {b}, a race the go model "
                       "says cannot happen (a detector false positive or a model bug)")
        for a, b in sorted(self.channel - self.predicted):
            out.append(f"channel race reported: {a} / {b} (the detector treats close as a "
                       "write and send/receive as a read of the channel; not a memory-model race)")
        for a, b in sorted(self.waitgroup - self.predicted):
            out.append(f"WaitGroup misuse reported as a race: {a} / {b} (an Add that may "
                       "start from zero concurrent with a Wait, which the sync documentation "
                       "forbids; not a memory-model race)")
        for stacks in self.unmapped:
            out.append(f"report on lines {list(stacks[0])} / {list(stacks[1])} names no litmus op")
        return out

    def to_json(self) -> dict:
        def show(pairs):
            return [[str(a), str(b)] for a, b in sorted(pairs)]
        return {"reported": show(self.reported), "predicted": show(self.predicted),
                "missed": show(self.missed), "unexpected": show(self.unexpected),
                "channel": show(self.channel), "waitgroup": show(self.waitgroup), "unmapped": [list(map(list, s)) for s in self.unmapped]}


def compare(test, program, stderr_texts: list, model_races: tuple) -> RaceComparison:
    """The detector's reports in `stderr_texts` (one per process) for `test` (the GoTest that
    ran `program`), beside `model_races` (the go model's `Race` values for `program`)."""
    reported, unmapped = set(), []
    for text in stderr_texts:
        for stacks in parse_reports(text):
            ops = [next((test.op_at(ln) for ln in stack if test.op_at(ln)), None)
                   for stack in stacks]
            if None in ops:
                unmapped.append(stacks)
                continue
            pair = tuple(sorted(_access(program, t, i) for t, i in ops))
            reported.add(pair)
    # The model's races, named by the ops of `program` (matched by thread and op index).
    predicted = {tuple(sorted(_access(program, a.thread, a.index) for a in (r.first, r.second)))
                 for r in model_races}
    channel = {p for p in reported if _is_chan(program, p)}
    waitgroup = {p for p in reported if _is_wg_add_wait(program, p)}
    return RaceComparison(frozenset(reported), frozenset(predicted), tuple(unmapped),
                          frozenset(channel), frozenset(waitgroup))
