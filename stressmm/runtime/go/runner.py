"""Run a built litmus binary in child processes, each bounded in time, and count outcomes.

The child prints JSON lines (see `codegen`): a `ready` line, deltas of outcome counts, `end`.
The parent waits for each line at most `iteration_budget` seconds (`start_budget` for the
first): past it the child is killed and the iteration counts as `timeout`; the counts printed
so far are kept. A deadlock is `deadlock`: found by the harness itself (`deadlock_after`:
once a round has run that long it looks whether every thread still in it is blocked in a
channel op or sync primitive, and exits with status 6) or by Go's own fatal "all goroutines
are asleep - deadlock!"; an unrecovered panic or a fatal `sync` misuse is `panic`. After each such end the binary is
started again for the iterations (or seconds) left, at most `max_restarts` times, at most
`max_timeouts` timeouts per run, and no later than `restart_window` seconds into the run; then
the run stops and says why (`Result.stopped`). With `until`, the race detector's reports are
read as they come, and the run ends as soon as `until(done, reports)` says it has enough
(`Result.enough`).
"""
from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .. import RuntimeUsageError
from .races import ReportReader

__all__ = ["Result", "execute", "STDERR_LIMIT", "EXIT_PANICKED", "EXIT_DEADLOCKED"]

STDERR_LIMIT = 4 << 20   # characters of a child's stderr kept (race reports live there)
EXIT_PANICKED = 3        # the harness: a recovered panic, counted, left other threads blocked
EXIT_DEADLOCKED = 6      # the harness: every thread still in the round blocked for ever, counted
_FATAL_PANICS = ("fatal error: sync: unlock of unlocked mutex",
                 "fatal error: sync: RUnlock of unlocked RWMutex",
                 "fatal error: sync: Unlock of unlocked RWMutex")


@dataclass
class Result:
    """What a run counted: `counts` maps an outcome key (comma-joined ints, or a flag name) to
    its count; `panics` maps panic messages to counts; `stderr` holds each child's stderr."""

    counts: dict = field(default_factory=dict)
    panics: dict = field(default_factory=dict)
    stderr: list = field(default_factory=list)
    done: int = 0
    restarts: int = 0
    elapsed: float = 0.0
    version: str = ""
    compiler: str = ""
    stopped: Optional[str] = None
    reports: list = field(default_factory=list)   # race reports read so far, with `until`
    enough: bool = False                          # `until` ended the run

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _pump(stream, sink, limit: Optional[int] = None) -> None:
    kept = 0
    for line in stream:
        if limit is None:
            sink.put(line)
        elif kept < limit:
            sink.append(line)
            kept += len(line)
    if limit is None:
        sink.put(None)


def execute(binary: str, test_index: int, *, iterations: Optional[int], seconds: Optional[float],
            cpus: Optional[tuple], delays: tuple, seed: int, iteration_budget: float,
            start_budget: float, max_restarts: int = 100, max_timeouts: int = 3,
            restart_window: float = 30.0, env: Optional[dict] = None,
            deadlock_after: Optional[float] = None,
            until: Optional[Callable[[int, list], bool]] = None) -> Result:
    """Run test `test_index` of `binary` for `iterations` (or `seconds`) iterations; no
    restart begins later than `restart_window` seconds (or `seconds`) after the start. With
    `deadlock_after` (seconds), the harness looks for a deadlock in a round that ran that long.
    With `until`, the run ends early once `until(iterations done, race reports so far)` holds
    (checked as the child reports its counts, at least every 100 ms)."""
    res = Result()
    began = time.monotonic()
    end = began + seconds if seconds is not None else None
    timeouts = 0
    for attempt in range(max_restarts + 1):
        args = [binary, "-test", str(test_index), "-seed", str(seed + attempt),
                "-delays", ",".join(f"{lo}:{hi}" for lo, hi in delays)]
        if cpus is not None:
            args += ["-cpus", ",".join(map(str, cpus))]
        if deadlock_after:
            args += ["-deadlock-ms", str(max(1, round(deadlock_after * 1000)))]
        if iterations is not None:
            args += ["-n", str(iterations - res.done)]
        else:
            args += ["-n", "0", "-seconds", f"{max(end - time.monotonic(), 0.001):.3f}"]
        ending = _one_process(args, res, iteration_budget, start_budget, env, until)
        if ending in ("end", "crash", "enough"):
            break
        if ending == "timeout":
            timeouts += 1
        res.restarts += attempt < max_restarts
        left = (iterations - res.done) if iterations is not None else end - time.monotonic()
        if left <= 0:
            break
        if timeouts >= max_timeouts:
            res.stopped = (f"stopped after {timeouts} timeouts (each an iteration still running "
                           f"after {iteration_budget:g} s)")
            break
        if attempt == max_restarts:
            res.stopped = (f"stopped after {max_restarts} restarts (each deadlock, panic or "
                           "timeout ends the Go process)")
            break
        if seconds is None and time.monotonic() - began > restart_window:
            res.stopped = (f"stopped after {attempt + 1} processes in {restart_window:g} s "
                           "(each deadlock, panic or timeout ends the Go process)")
            break
    res.elapsed = time.monotonic() - began
    return res


def _one_process(args: list, res: Result, iteration_budget: float, start_budget: float,
                 env: Optional[dict], until: Optional[Callable[[int, list], bool]] = None) -> str:
    """Run one child to its end; returns how it ended: end, timeout, deadlock, panic, enough
    (`until` held: the child was ended), or crash (any other end: `res.stopped` then says what
    the child printed)."""
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
    except OSError as exc:
        raise RuntimeUsageError(f"cannot start the litmus binary {args[0]}: {exc}") from exc
    lines: queue.Queue = queue.Queue()
    err: list = []
    readers = [threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True),
               threading.Thread(target=_pump, args=(proc.stderr, err, STDERR_LIMIT), daemon=True)]
    for r in readers:
        r.start()
    ready, ended = False, False
    reader, read = ReportReader(), 0
    try:
        while True:
            try:
                line = lines.get(timeout=iteration_budget if ready else start_budget)
            except queue.Empty:
                proc.kill()
                res.add("timeout")
                res.done += 1
                return "timeout"
            if line is None:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("ready"):
                ready = True
                res.version, res.compiler = msg.get("version", ""), msg.get("compiler", "")
            for key, n in (msg.get("counts") or {}).items():
                res.add(key, n)
            for text, n in (msg.get("panics") or {}).items():
                res.panics[text] = res.panics.get(text, 0) + n
                res.add("panic", n)
            res.done += msg.get("done", 0)
            ended = ended or bool(msg.get("end"))
            if until is not None and not ended:
                lines_now = len(err)       # the stderr reader appends; read what is there
                res.reports += reader.feed(err[read:lines_now])
                read = lines_now
                if until(res.done, res.reports):
                    res.enough = True
                    proc.kill()
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:   # pragma: no cover - a kill that did not take
            pass
        for r in readers:
            r.join(timeout=5)
        res.stderr.append("".join(err))
    text = res.stderr[-1]
    if ended:
        return "end"
    if res.enough:
        return "enough"
    if "all goroutines are asleep - deadlock!" in text:
        res.add("deadlock")
        res.done += 1
        return "deadlock"
    if proc.returncode == EXIT_PANICKED:     # already counted
        return "panic"
    if proc.returncode == EXIT_DEADLOCKED:   # already counted
        return "deadlock"
    fatal = next((f for f in _FATAL_PANICS if f in text), None)
    if fatal or text.lstrip().startswith("panic:") or "\npanic: " in text:
        msg = fatal[len("fatal error: "):] if fatal else text.split("panic:", 1)[1].strip().splitlines()[0]
        res.panics[msg] = res.panics.get(msg, 0) + 1
        res.add("panic")
        res.done += 1
        return "panic"
    res.stopped = (f"the litmus binary ended unexpectedly (exit status {proc.returncode}) "
                   f"after {res.done} iterations:\n$ {' '.join(args)}\n{text.strip()[-3000:]}")
    return "crash"
