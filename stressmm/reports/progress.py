"""Progress of long work on stderr: a live tqdm bar on a terminal, plain lines every
`PLAIN_EVERY` seconds otherwise (CI logs), nothing at all for work that ends sooner.

    >>> import io
    >>> log = io.StringIO()
    >>> [x for x in over([1, 2], "check", "tests", stream=log, every=0.0)]
    [1, 2]
    >>> print(log.getvalue().strip())
    check: 1/2 tests, 0:00 elapsed
    check: 2/2 tests, 0:00 elapsed
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterable, Optional, TextIO

__all__ = ["over", "CampaignProgress", "PLAIN_EVERY"]

PLAIN_EVERY = 10.0
"""Seconds between two plain progress lines when stderr is not a terminal."""


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _is_tty(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _size() -> dict:
    """The terminal's size for tqdm; 80x24 when it does not say (a fresh pseudo-terminal
    reports 0x0, and tqdm would then draw nothing)."""
    import shutil

    size = shutil.get_terminal_size(fallback=(80, 24))
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}


def over(items: Iterable, what: str, unit: str, stream: Optional[TextIO] = None,
         every: float = PLAIN_EVERY, clock: Callable[[], float] = time.monotonic):
    """Yield `items`, showing how many are done: a tqdm bar when `stream` (default stderr) is a
    terminal, while what the loop prints to stdout goes above the bar; otherwise a plain line
    `what: k/n unit, m:ss elapsed` at most every `every` seconds."""
    items = list(items)
    stream = stream if stream is not None else sys.stderr
    if len(items) > 1 and _is_tty(stream):
        yield from _bar(items, what, unit, stream)
        return
    start = last = clock()
    for k, item in enumerate(items, 1):
        yield item
        now = clock()
        if now - last >= every and len(items) > 1:
            last = now
            print(f"{what}: {k}/{len(items)} {unit}, {_clock(now - start)} elapsed",
                  file=stream, flush=True)


def _bar(items: list, what: str, unit: str, stream):
    from tqdm import tqdm
    from tqdm.contrib import DummyTqdmFile

    bar = tqdm(total=len(items), desc=what, unit=f" {unit}", file=stream, leave=False,
               **_size())
    try:
        # what the loop body prints is written above the bar, not through it
        with contextlib.redirect_stdout(DummyTqdmFile(sys.stdout)):
            for item in items:
                yield item
                bar.update(1)
    finally:
        bar.close()


class CampaignProgress:
    """The progress callback of a campaign (`run_campaign(cfg, progress)`): a bar of the time
    or example budget on a terminal, plain lines every `every` seconds otherwise. Call
    `close()` at the end."""

    def __init__(self, minutes: Optional[float], examples: Optional[int],
                 stream: Optional[TextIO] = None, every: float = PLAIN_EVERY):
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.minutes, self.examples = minutes, examples
        self.last = 0.0  # the first line after `every` seconds: short campaigns print none
        self.bar = None
        if _is_tty(self.stream):
            from tqdm import tqdm

            total = minutes * 60.0 if minutes is not None else examples
            self.bar = tqdm(total=total, desc="fuzz", file=self.stream, leave=False,
                            **_size(), unit="s" if minutes is not None else " programs",
                            bar_format="{l_bar}{bar:10}| {n:.0f}/{total:.0f}{unit}{postfix}")

    def line(self, res) -> str:
        from ..report import fmt_rate

        now = res.elapsed
        return (f"examples {res.examples:,}  runs {res.runs:,} "
                f"({fmt_rate(res.runs / max(now, 1e-9))}/s)  elapsed {_clock(now)}  "
                f"counterexamples {len(res.counterexamples)}  worker failures {len(res.failures)}")

    def short(self, res) -> str:
        """What the bar shows beside itself (the bar already shows the time or the examples)."""
        from ..report import fmt_rate

        return (f"{res.runs:,} runs ({fmt_rate(res.runs / max(res.elapsed, 1e-9))}/s), "
                f"{len(res.counterexamples)} counterexamples"
                + (f", {len(res.failures)} worker failures" if res.failures else ""))

    def __call__(self, res) -> None:
        if self.bar is not None:
            done = res.elapsed if self.minutes is not None else res.examples
            self.bar.n = min(done, self.bar.total)
            self.bar.set_postfix_str(self.short(res), refresh=False)
            self.bar.refresh()
            return
        if res.elapsed - self.last >= self.every:
            self.last = res.elapsed
            print(self.line(res), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
