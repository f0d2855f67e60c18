"""User primitives in C on the native executor (--impl file.c / file.so): the header, building
and loading with clear errors, correct examples that pass, broken ones that are found, and
implementations that crash or never return reported without hanging stressmm."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm.bench_impl import EXCLUSION
from stressmm.fuzz import ForbiddenOutcome, check_program
from stressmm.runtime import available_cpus
from stressmm.runtime.cimpl import build, header_path
from stressmm.runtime.registry import get_backend
from stressmm.schedule import Schedule
from stressmm.syntax import parse

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
IMPLS = ROOT / "examples" / "impls"
DATA = ROOT / "tests" / "data" / "impls"

two_cpus = pytest.mark.skipif(len(available_cpus()) < 2, reason="needs 2 CPUs for 2 pinned threads")

# Each thread reads, then sets, x under a lock: both reading 0 means both were inside.
COUNTER_TEXT = EXCLUSION
COUNTER = parse(COUNTER_TEXT)[0]


@pytest.fixture(autouse=True)
def build_cache(tmp_path_factory, monkeypatch):
    """Builds go to a cache of the test session, never to the user's."""
    monkeypatch.setenv("STRESSMM_IMPL_CACHE", str(tmp_path_factory.getbasetemp() / "impl-cache"))


def stressmm(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ), cwd=ROOT)


def test_impl_prints_the_header_and_its_folder():
    header = stressmm("impl", "--header")
    assert header.returncode == 0 and "#define STRESSMM_IMPL_ABI 1" in header.stdout
    assert header.stdout == header_path().read_text()
    folder = stressmm("impl", "--include-dir")
    assert folder.returncode == 0
    assert (Path(folder.stdout.strip()) / "stressmm_impl.h").is_file()


def test_builds_are_cached_by_content(tmp_path):
    src = tmp_path / "lock.c"
    src.write_text((IMPLS / "ticket_lock.c").read_text())
    first = build([src])
    assert build([src]) == first
    src.write_text(src.read_text() + "\n/* changed */\n")
    assert build([src]) != first
    assert build([first]) == first   # a .so is used as is


@pytest.mark.parametrize("bad, message", [
    ("broken_syntax.c", "does not compile"),
    ("no_symbol.c", "does not define stressmm_impl_v1()"),
    ("wrong_abi.c", "abi differs"),
    ("missing_op.c", "lacks init, lock or unlock"),
])
def test_bad_implementations_are_usage_errors(bad, message):
    done = stressmm("run", "Ready+mutex", "--impl", DATA / bad, "--iterations", 100)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    if bad == "broken_syntax.c":   # the compiler's own message, naming the line
        assert "broken_syntax.c:6" in done.stderr and "no_such_table" in done.stderr


def test_c_files_do_not_run_on_python_threads():
    done = stressmm("run", "Ready+mutex", "--backend", "pythreads",
                    "--impl", IMPLS / "ticket_lock.c")
    assert done.returncode == 2 and "run on the native backend" in done.stderr


@two_cpus
@pytest.mark.parametrize("impl, program", [
    ("ticket_lock.c", "Ready+mutex"),
    ("pthread_mutex.c", "Ready+mutex"),
    ("builtin_mutex.c", "Ready+mutex"),
    ("ring_channel.c", "MP+unbuffered"),
    ("ring_channel.c", "MP+buffered"),
    ("ring_channel.c", "MP+close"),
    ("once_cas.c", "MP+once"),
])
def test_correct_examples_show_nothing_forbidden(impl, program):
    done = stressmm("run", program, "--impl", IMPLS / impl, "--iterations", 5000)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "from " + impl in done.stdout


@two_cpus
def test_a_cxx_file_is_compiled_with_the_cxx_compiler():
    done = stressmm("run", "Ready+mutex", "--impl", DATA / "exchange_lock.cc", "--iterations", 5000)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cxx-lock (mutex) from exchange_lock.cc" in done.stdout


@two_cpus
def test_the_ticket_lock_lets_one_thread_in_at_a_time():
    backend = get_backend("native", impl=(str(IMPLS / "ticket_lock.c"),))
    try:
        check_program(COUNTER, Schedule(), backend=backend, model="go", iterations=20_000)
    finally:
        backend.close()


def scenario(name):
    from stressmm.syntax import scenario_paths

    path = next(p for p in scenario_paths() if Path(p).stem == name)
    return parse(Path(path).read_text())[0]


@two_cpus
@pytest.mark.parametrize("impl, program, seen", [
    # both inside the lock: both read 0, or the second Unlock finds the lock already
    # unlocked (Go's "unlock of unlocked mutex" panic)
    ("tts_spinlock.c", "exclusion", ("r0=0 P1:r1=0", "outcome panic")),
    ("peterson_nofence.c", "exclusion", ("r0=0 P1:r1=0", "outcome panic")),
    ("once_nowait.c", "MP+once", ("FORBIDDEN",)),             # a late caller misses the body
    ("chan_close_wakeup.c", "Close+zero", ("P1:ok=1",)),      # ok after close
])
def test_broken_examples_show_what_go_forbids(impl, program, seen):
    # Each shows the forbidden outcome in thousands of runs out of 100,000 on 2 CPUs; up to
    # 20 runs of 100,000 make a miss vanishingly unlikely even on a busy machine.
    prog = COUNTER if program == "exclusion" else scenario(program)
    backend = get_backend("native", impl=(str(IMPLS / impl),))
    try:
        with pytest.raises(ForbiddenOutcome) as found:
            for seed in range(20):
                check_program(prog, Schedule(seed=seed), backend=backend, model="go",
                              iterations=100_000)
        assert any(s in str(found.value) for s in seen), str(found.value)
    finally:
        backend.close()


@two_cpus
@pytest.mark.parametrize("impl", ["peterson_nofence.c", "tts_spinlock.c", "chan_close_wakeup.c"])
def test_fuzzing_finds_the_broken_locks_shrunk_to_two_threads(impl, tmp_path):
    # Bounded: 4 minutes at most. The close that fakes a value needs a receiver asleep
    # before the close: the lost wake-up shape that every Go campaign draws
    # (strategies/go_shapes.py wakeups). 4,000 runs a program: each bug shows within the
    # first few programs, and shrinking, which reruns programs, takes a fifth of the time
    # the default 20,000 take.
    from stressmm.campaign import CampaignConfig, run_campaign

    res = run_campaign(CampaignConfig(minutes=4, go=True, model="go", backend="native",
                                      impl=(str(IMPLS / impl),), corpus=str(tmp_path),
                                      workers=1, seed=3, threads=2, iterations=4000))
    assert not res.failures, res.failures
    assert res.counterexamples, f"not found in {res.examples} programs"
    cex = res.counterexamples[0]
    assert len(cex.program.threads) <= 2 and impl in cex.implementation
    assert impl in Path(res.saved[0]).read_text()   # the header names it: replayable
    assert 1 <= res.first_detection_programs <= res.examples
    if impl == "chan_close_wakeup.c":   # the receiver got a value from a close
        assert "close(c)" in cex.report() and "ok0=1" in str(cex.outcome)


@two_cpus
@pytest.mark.parametrize("impl, report", [
    ("segfault.c", "STUCK: segfault crashed (SIGSEGV) while running Ready+mutex"),
    ("forever.c", "STUCK: forever, called from P"),
])
def test_a_crash_or_a_hang_is_reported_with_the_program_and_exit_1(impl, report):
    done = stressmm("run", "Ready+mutex", "--impl", DATA / impl, "--iterations", 100)
    assert done.returncode == 1, done.stderr
    assert report in done.stdout and "Traceback" not in done.stderr


def assert_saved_and_replayable(report, saved, corpus, impl, what):
    """A crash or a hang found by fuzzing: reported shrunk, saved with its --impl (the .litmus
    file and the corpus index), replayed by crashing or hanging again, and not by a fixed lock."""
    assert report.startswith("STUCK: " + what), report
    assert ".Lock()" in report
    text = Path(saved).read_text()
    assert f'"impl": ["{DATA / impl}"]' in text and '"stuck": ' in text
    assert len(parse(text)[0].threads) == 2
    from stressmm.fuzz import load_corpus
    [(_, _, meta)] = load_corpus(corpus / "counterexamples.jsonl")   # the index replays alike
    assert meta["impl"] == [str(DATA / impl)] and what in meta["stuck"]
    replay = stressmm("replay", saved)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "REPRODUCED: STUCK: " + what in replay.stdout
    fixed = stressmm("replay", saved, "--impl", IMPLS / "ticket_lock.c")
    assert fixed.returncode == 0 and "not reproduced" in fixed.stdout, fixed.stdout


@two_cpus
def test_fuzzing_saves_a_hang_shrunk_and_replayable(tmp_path):
    # Bounded: a hang costs the watchdog's 5 s per try, and shrinking gets 15 s.
    from stressmm.campaign import CampaignConfig, run_campaign

    impl = "forever.c"
    res = run_campaign(CampaignConfig(examples=40, go=True, model="go", backend="native",
                                      impl=(str(DATA / impl),), corpus=str(tmp_path), workers=1,
                                      seed=1, threads=2, stuck_shrink_seconds=15))
    assert not res.failures, res.failures
    [cex] = res.counterexamples
    assert len(cex.program.threads) == 2
    assert_saved_and_replayable(cex.report(), res.saved[0], tmp_path, impl,
                                "forever, called from P")


@pytest.fixture(scope="module")
def crash_campaign(tmp_path_factory):
    """`stressmm fuzz` on a lock that crashes, once for the tests that read what it did."""
    corpus = tmp_path_factory.mktemp("crash-corpus")
    env = dict(os.environ, STRESSMM_IMPL_CACHE=str(tmp_path_factory.getbasetemp() / "impl-cache"))
    done = subprocess.run([sys.executable, "-m", "stressmm", "fuzz", "--go", "--impl",
                           str(DATA / "segfault.c"), "--examples", "40", "--corpus", str(corpus),
                           "--seed", "1", "--workers", "1"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    return done, corpus


@two_cpus
def test_fuzz_exits_1_on_a_crash(crash_campaign):
    done, _ = crash_campaign
    assert done.returncode == 1, done.stdout + done.stderr
    assert "STUCK: segfault crashed (SIGSEGV)" in done.stdout and "replay: " in done.stdout
    assert re.search(r"found after \d+ programs, [\d,]+ runs", done.stdout)
    assert "WORKER FAILURE" not in done.stdout


@two_cpus
def test_fuzzing_saves_a_crash_shrunk_and_replayable(crash_campaign):
    done, corpus = crash_campaign
    report = done.stdout[done.stdout.index("STUCK: "):]
    [saved] = re.findall(r"^replay: stressmm replay (\S+)$", done.stdout, re.M)
    assert_saved_and_replayable(report, saved, corpus, "segfault.c",
                                "segfault crashed (SIGSEGV) while running")


HELD_FOR_EVER = parse('''litmus Held "P0 never unlocks: P1 waits for ever"
mutex m
P0:
  m.Lock()
P1:
  m.Lock()
''')[0]
NOBODY_SENDS = parse('''litmus Recv+Recv "two receivers, no sender"
chan c 0
P0:
  <-c
P1:
  <-c
''')[0]
HELD_AND_BLOCKED = parse('''litmus Held+recv "P0 holds m and waits on a built-in channel for ever"
mutex m
chan c 0
P0:
  m.Lock()
  <-c
P1:
  m.Lock()
''')[0]
TWO_SECTIONS = parse('''litmus Lock+Lock "two critical sections"
mutex m
P0:
  m.Lock()
  m.Unlock()
P1:
  m.Lock()
  m.Unlock()
''')[0]


def deadlock_only(hist):
    """Deadlock seen, and nothing else but a few timeouts (a wait whose thread was kept off
    its CPU past the bound, on a loaded machine)."""
    from stressmm.outcome import Outcome

    dead, late = Outcome.flagged("deadlock"), Outcome.flagged("timeout")
    return dead in hist.counts and set(hist.counts) <= {dead, late} and \
        hist.counts[dead] > hist.counts.get(late, 0)


@two_cpus
@pytest.mark.parametrize("impl, program", [
    ("ticket_lock.c", HELD_FOR_EVER),
    ("pthread_mutex.c", HELD_FOR_EVER),
    ("ring_channel.c", NOBODY_SENDS),
    ("ticket_lock.c", HELD_AND_BLOCKED),   # one waits in the hook, one in a built-in channel
])
def test_a_program_that_deadlocks_on_correct_primitives_is_deadlock_and_allowed(impl, program):
    backend = get_backend("native", impl=(str(IMPLS / impl),))
    try:
        hist = check_program(program, Schedule(), backend=backend, model="go", iterations=300)
    finally:
        backend.close()
    assert deadlock_only(hist), hist.counts   # every thread waits in the hook: deadlock


@two_cpus
def test_a_primitive_that_deadlocks_where_go_cannot_is_a_counterexample():
    backend = get_backend("native", impl=(str(DATA / "unlock_forgets.c"),))
    try:
        with pytest.raises(ForbiddenOutcome) as found:
            check_program(TWO_SECTIONS, Schedule(), backend=backend, model="go", iterations=300)
    finally:
        backend.close()
    assert "FORBIDDEN outcome deadlock" in str(found.value)


@two_cpus
def test_lost_wakeup_shapes_are_race_free_end_under_sc_and_pass_the_builtins():
    from hypothesis import given, settings

    from stressmm.models import get_model
    from stressmm.strategies.go_shapes import wakeups

    @settings(max_examples=25, deadline=None, database=None)
    @given(wakeups(threads=min(4, len(available_cpus()))))
    def check(program):
        go, sc = get_model("go").allowed(program), get_model("sc").allowed(program)
        assert not go.races and not any(o.flags for o in sc.outcomes)
        check_program(program, Schedule(), model="go", iterations=2000)   # built-ins: allowed

    check()


@two_cpus
def test_a_run_whose_iterations_are_slow_stops_at_its_time_bound(monkeypatch):
    # Receivers that sleep between rounds take milliseconds to be found deadlocked: a million
    # iterations would take hours; the run stops at RUN_SECONDS and says so.
    from stressmm.runtime import cimpl

    monkeypatch.setattr(cimpl, "RUN_SECONDS", 2.0)
    backend = get_backend("native", impl=(str(IMPLS / "ring_channel.c"),))
    try:
        hist = backend.run(NOBODY_SENDS, iterations=10**6)
    finally:
        backend.close()
    assert 0 < hist.total < 10**6 and f"of {10**6:,} runs: stopped after 2 s" in hist.info["capped"]


def test_slow_threads_are_never_taken_for_a_deadlock():
    # Every thread on one CPU: each waits, on and off, while another is off its CPU, mid-call
    # or between rounds. A correct primitive must show no deadlock where the go model has none.
    from stressmm.models import get_model
    from stressmm.syntax import scenario_paths

    go = [p for f in scenario_paths() if "/go/" in str(f) for p in parse(Path(f).read_text())]
    for impl in ("ring_channel.c", "ticket_lock.c", "once_cas.c"):
        backend = get_backend("native", impl=(str(IMPLS / impl),))
        try:
            for prog in go:
                hist = backend.run(prog, iterations=300, oversubscribe=True,
                                   schedule=Schedule(seed=3, cpus=(0,) * len(prog.threads)))
                assert hist.outside(get_model("go").allowed(prog).outcomes) == {}, (impl, prog.name)
        finally:
            backend.close()


@two_cpus
def test_the_pytest_fixture_takes_a_c_file(pytester):
    pytester.makepyfile(f'''
        from stressmm.syntax import parse
        from stressmm.schedule import Schedule
        PROGRAM = parse({COUNTER_TEXT!r})[0]

        def test_ticket(stressmm_check):
            stressmm_check(PROGRAM, Schedule(), impl={str(IMPLS / "ticket_lock.c")!r})

        def test_tts(stressmm_check):
            for seed in range(20):
                stressmm_check(PROGRAM, Schedule(seed=seed), impl={str(IMPLS / "tts_spinlock.c")!r})
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--stressmm-iterations",
                                           "100000", timeout=240)
    result.assert_outcomes(passed=1, failed=1)


@two_cpus
def test_bench_compares_the_builtin_primitives_with_the_same_ones_through_the_interface():
    from stressmm.bench_impl import bench_impl

    rows = bench_impl((str(IMPLS / "builtin_mutex.c"),), seconds=0.1, repeats=1)
    assert [(r.test, r.kind) for r in rows] == [("Ready+mutex", "mutex"),
                                                ("Exclusion+mutex", "mutex")]
    for r in rows:
        assert r.builtin_its_per_s[1] > 0 and r.impl_its_per_s[1] > 0
        assert r.ratio == pytest.approx(r.impl_its_per_s[1] / r.builtin_its_per_s[1])


def test_bench_impl_takes_c_files_only():
    done = stressmm("bench", "--impl", "examples.impls.ticket_lock:TicketLock")
    assert done.returncode == 2 and "bench --impl takes C files" in done.stderr


def test_ctrl_c_keeps_the_parts_of_a_run_already_done(monkeypatch):
    from stressmm.outcome import Outcome
    from stressmm.runtime import cimpl, partial_histogram

    backend = cimpl.CImplBackend.__new__(cimpl.CImplBackend)   # no worker: parts are faked
    backend._worker, backend.name = None, "fake"
    parts = []

    def request(program, kwargs):
        parts.append(kwargs["iterations"])
        if len(parts) > 1:
            raise KeyboardInterrupt
        return ("ok", {Outcome(): kwargs["iterations"]}, 0.01, {})

    monkeypatch.setattr(backend, "_request", request)
    with pytest.raises(KeyboardInterrupt) as stopped:
        backend.run(COUNTER, iterations=10**6)
    assert parts[0] == cimpl.FIRST_PART
    assert partial_histogram(stopped.value).total == cimpl.FIRST_PART
