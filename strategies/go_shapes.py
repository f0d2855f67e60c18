"""Go shapes that `go_programs` does not draw, for fuzzing the Go toolchains: the k+C rule of
buffered channels (more sends than the capacity), a WaitGroup reused for a second round, and
a `sync.Once` whose body races with another thread. Each shape is race-free, or (`racy`) the
classic bug beside it; every program ends under sequential consistency.

    >>> from hypothesis import find
    >>> from stressmm.syntax import print_program
    >>> print(print_program(find(go_shapes(), lambda p: p.name == "go-kC")), end="")
    litmus go-kC "k=1 C=0: receive 1 orders send 1"
    var x int
    chan c 0
    P0:
      x = 1
      <-c
    P1:
      c <- 1
      r0 = x

- **k+C**: on a channel of capacity C, the k-th receive is synchronized before the (k+C)-th
  send completes. P0 receives k times and writes `x` before its k-th receive; P1 sends k+C
  times, then reads `x`. Racy: P1 sends only k+C-1 times (it then waits for nothing). No op
  keeps a received value, so the channel is element-less (`chan struct{}` in Go).
- **WaitGroup reuse**: one WaitGroup, two rounds: P0 adds one, lets P1 start through an atomic
  flag, waits, reads what P1 wrote; then again. Racy: the second read before the second Wait.
- **Once with a racy body**: both threads call `o.Do { r = y; x = 1 }` and then read `x`; P0
  writes `y` first, so the body races with that write when P1 runs it. Always racy: the
  body's read of `y`; the reads of `x` after `Do` never are.

`wakeups` draws, for every Go campaign, the shape of a lost wake-up, the classic bug of a
hand-written primitive: receivers that block on an empty channel (they start with nothing to
take), then a waker that writes `x`, does a few more writes (time for the receivers to fall
asleep), and closes the channel or sends them a value each; each receiver then reads `x`.
Race-free: the close (or the send) is synchronized before the receive it ends. With a
close on a buffered channel the waker may first buffer fewer values than there are
receivers, which they must get before the close. It shrinks to the Close+zero scenario.

    >>> print(print_program(find(wakeups(), lambda p: True)), end="")
    litmus go-wakeup "1 receiver(s) asleep on chan 0, woken by close"
    var x int
    chan c 0
    P0:
      x = 1
      close(c)
    P1:
      r0, ok0 = <-c
      r1 = x
"""
from __future__ import annotations

from hypothesis import strategies as st

from stressmm.syntax import parse

__all__ = ["go_shapes", "GO_SHAPES", "wakeups", "WAKERS"]

GO_SHAPES = ("kC", "waitgroup-reuse", "once-racy-body")
WAKERS = ("close", "send")   # how the waker of `wakeups` ends the receivers' wait


def _kc(k: int, capacity: int, racy: bool) -> str:
    sends = k + capacity - (1 if racy else 0)
    p0 = ["  <-c"] * (k - 1) + ["  x = 1", "  <-c"]
    p1 = ["  c <- 1"] * sends + ["  r0 = x"]
    what = (f"k={k} C={capacity}: " + (f"only {sends} sends, nothing orders the read" if racy
                                        else f"receive {k} orders send {k + capacity}"))
    return "\n".join([f'litmus go-kC "{what}"', "var x int", f"chan c {capacity}", "P0:",
                      *p0, "P1:", *(p1 if sends else ["  r0 = x"])])


def _wg_reuse(racy: bool) -> str:
    second = ["  r1 = y", "  wg.Wait()"] if racy else ["  wg.Wait()", "  r1 = y"]
    return "\n".join([
        f'litmus go-wg-reuse "one WaitGroup, two rounds{" (racy second read)" if racy else ""}"',
        "var x int", "var y int", "var s1 atomic int", "var s2 atomic int", "waitgroup wg", "P0:",
        "  wg.Add(1)", "  atomic.Store(&s1, 1)", "  wg.Wait()", "  r0 = x",
        "  wg.Add(1)", "  atomic.Store(&s2, 1)", *second,
        "P1:", "  for atomic.Load(&s1) == 0 {}", "  x = 1", "  wg.Done()",
        "  for atomic.Load(&s2) == 0 {}", "  y = 1", "  wg.Done()"])


def _once_racy_body() -> str:
    return "\n".join([
        'litmus go-once-racy-body "the Once body reads y, which P0 writes unsynchronized"',
        "var x int", "var y int", "once o", "P0:", "  y = 1", "  o.Do { r0 = y; x = 1 }",
        "  r1 = x", "P1:", "  o.Do { r0 = y; x = 1 }", "  r1 = x"])


def go_shapes(racy: bool = True) -> st.SearchStrategy:
    """Programs of the shapes above (`GO_SHAPES`), shrinking to the k+C handoff with k=1 on an
    unbuffered channel. `racy=False` draws only race-free variants (no racy Once body)."""
    if not isinstance(racy, bool):
        from hypothesis.errors import InvalidArgument
        raise InvalidArgument(f"racy={racy!r}: use True or False")
    flaw = st.booleans() if racy else st.just(False)
    kc = st.builds(_kc, st.integers(1, 2), st.integers(0, 2), flaw)
    shapes = [kc, st.builds(_wg_reuse, flaw)] + ([st.just(_once_racy_body())] if racy else [])
    return st.one_of(shapes).map(lambda text: parse(text)[0])


def _wakeup(waker: str, capacity: int, receivers: int, buffered: int, stall: int) -> str:
    sends = receivers if waker == "send" else min(buffered, capacity, receivers - 1)
    p0 = ["  x = 1"] + [f"  y = {i + 1}" for i in range(stall)] + ["  c <- 1"] * sends
    p0 += ["  close(c)"] if waker == "close" else []
    recv = "  r0, ok0 = <-c" if waker == "close" else "  r0 = <-c"
    rest = [line for t in range(receivers) for line in (f"P{t + 1}:", recv, "  r1 = x")]
    what = (f"{receivers} receiver(s) asleep on chan {capacity}, woken by {waker}"
            + (f" after {sends} buffered value(s)" if waker == "close" and sends else ""))
    return "\n".join([f'litmus go-wakeup "{what}"', "var x int"] + (["var y int"] if stall else [])
                     + [f"chan c {capacity}", "P0:", *p0, *rest])


def wakeups(threads: int = 2) -> st.SearchStrategy:
    """Programs of the lost wake-up shape (see above) with up to `threads` threads: 1 to
    threads - 1 receivers, capacity 0 to 2, up to 3 stalling writes; shrinking to one
    receiver on an unbuffered channel woken by a close."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 2:
        from hypothesis.errors import InvalidArgument
        raise InvalidArgument(f"threads={threads!r}: a waker and a receiver need at least 2")
    return st.builds(_wakeup, st.sampled_from(WAKERS), st.integers(0, 2),
                     st.integers(1, min(threads - 1, 3)), st.integers(0, 2),
                     st.integers(0, 3)).map(lambda text: parse(text)[0])
