"""The Go backends: litmus programs compiled by gc and gccgo and run on pinned goroutines.

Each toolchain builds once per module (a fixture), holding every program these tests run."""
import pytest

from stressmm.cli import main
from stressmm.models import get_model
from stressmm.outcome import Outcome
from stressmm.runtime import RuntimeUsageError, available_cpus
from stressmm.runtime.go import (GoBuildError, ToolchainMissing, available, make_backend)
from stressmm.runtime.go.codegen import generate
from stressmm.go_judge import judge, race_comparison
from stressmm.runtime.go.toolchain import TOOLCHAINS, build
from stressmm.schedule import Schedule
from stressmm.syntax import find_scenario, parse, parse_file, scenario_paths

from released_locks import MESSAGES, RUNLOCK_RELEASED, UNLOCK_RELEASED

TWO_CPUS = len(available_cpus()) >= 2
needs_cpus = pytest.mark.skipif(not TWO_CPUS, reason="needs 2 CPUs to run 2 pinned threads")

ALL_OPS = parse('''litmus AllOps "every op of the IR, in one race-free program"
var x, y int
var a, f atomic int
mutex mu
rwmutex rw
once o
waitgroup wg
chan c 1
chan d 0
P0:
  x = 1
  atomic.Store(&a, 1, release)
  r0 = atomic.Add(&a, 2, relaxed)
  r1 = atomic.Swap(&a, 5)
  r2 = atomic.CAS(&a, 5, 6, acq_rel)
  fence(seq_cst)
  mu.Lock(); y = 2; mu.Unlock()
  rw.RLock(); r3 = y; rw.RUnlock()
  o.Do { x = 3 }
  wg.Add(1)
  c <- r0
  atomic.Store(&f, 1)
  d <- 1
  wg.Wait()
P1:
  for atomic.Load(&f, acquire) == 0 {}
  r4, r5 = <-c
  _, r6 = <-d
  rw.Lock(); y = 4; rw.Unlock()
  o.Do {
    r7 = x
  }
  for x == 0 {}
  wg.Done()
''')[0]

# Names that are Go keywords, predeclared identifiers or names the generated code uses.
GO_NAMES = parse('''litmus Go-names
var func, len int
var atomic_ atomic int
chan ok 1
P0:
  func = 1
  s = len
  ok <- 2
  atomic.Store(&atomic_, 1)
P1:
  type, v = <-ok
  range = func
''')[0]

PARK = parse("litmus Park\nchan c 0\nP0:\n  r0 = <-c\n")[0]
NEG_WG = parse("litmus Neg-wg\nwaitgroup wg\nP0:\n  wg.Add(-1)\n")[0]
PANIC_BLOCKS = parse('''litmus Panic+blocked "P0 panics before the send P1 waits for"
chan c 0
chan e 0
P0:
  close(c)
  close(c)
  e <- 1
P1:
  r0 = <-e
''')[0]
LOCK_PARK = parse("litmus Lock+park\nmutex m\nchan c 0\nP0:\n  m.Lock()\n  c <- 1\n"
                  "  m.Unlock()\nP1:\n  m.Lock()\n  m.Unlock()\n")[0]
SPIN_PARK = parse("litmus Spin+park\nvar x int\nchan c 0\nP0:\n  r0 = <-c\nP1:\n"
                  "  for x == 0 {}\n")[0]
HANDOFF = parse("litmus Handoff\nchan c 0\nP0:\n  r0 = <-c\nP1:\n  c <- 1\n")[0]
SEND_CLOSE = parse("litmus Send+close\nchan c 1\nP0:\n  c <- 1\nP1:\n  close(c)\n")[0]

GO_SCENARIOS = [p for path in scenario_paths() if path.parent.name == "go"
                for p in parse_file(str(path))]
PROGRAMS = GO_SCENARIOS + [ALL_OPS, GO_NAMES, PARK, NEG_WG, PANIC_BLOCKS, SEND_CLOSE,
            LOCK_PARK, SPIN_PARK, HANDOFF, UNLOCK_RELEASED, RUNLOCK_RELEASED]


def backend_or_skip(name, **kw):
    why = available(name)
    if why:
        pytest.skip(why)
    b = make_backend(name, **kw)
    b.prepare(PROGRAMS)          # one build for every program of this module
    return b


@pytest.fixture(scope="module")
def patient():
    """gc and gccgo with a generous iteration budget (the same builds, from the cache): a test
    that asserts no iteration times out must not depend on how busy the machine is."""
    built = {}

    def get(name):
        if name not in built:
            built[name] = backend_or_skip(name, iteration_budget=30.0)
        return built[name]
    return get


@pytest.fixture(scope="module")
def gc(patient):
    """gc, patient: the tests that use it assert exact counts, so a busy machine must not turn
    a slow iteration into a timeout."""
    return patient("go")


@pytest.fixture(scope="module")
def gccgo(patient):
    return patient("gccgo")


@pytest.fixture(scope="module")
def race():
    return backend_or_skip("go-race")


def complete(program, outcome):
    """Every register of every thread and every variable is in the outcome."""
    regs = {(t, r) for t in range(len(program.threads)) for r in program.registers(t)}
    return ({(t, r) for t, r, _ in outcome.regs} == regs
            and {loc for loc, _ in outcome.mem} == {v.name for v in program.vars})


# ---------------------------------------------------------------- code generation


def test_generated_code_uses_real_go_statements():
    src = generate([ALL_OPS]).source
    for stmt in ("s.x = 1", "atomic.StoreInt64(&s.a, 1)", "int(atomic.AddInt64(&s.a, 2))",
                 "b2i(atomic.CompareAndSwapInt64(&s.a, 5, 6))", "s.mu.Lock()", "s.rw.RLock()",
                 "s.o.Do(func() {", "s.wg.Add(1)", "s.c <- r0", "d chan struct{}",
                 "s.d <- struct{}{}", "for atomic.LoadInt64(&s.f) == 0 {", "for s.x == 0 {",
                 "// fence(seq_cst): Go has no fence"):
        assert stmt in src, stmt
    notes = generate([ALL_OPS]).tests[0].notes
    assert any("relaxed atomics run as seq_cst" in n for n in notes)
    assert any("fence(seq_cst) is not emitted" in n for n in notes)


def test_every_op_line_maps_back_to_its_litmus_op():
    gen = generate([ALL_OPS])
    test, lines = gen.tests[0], gen.source.splitlines()
    ln = next(ln for ln, t, i in test.lines if (t, i) == (1, 3))
    assert lines[ln - 1].strip().startswith("s.rw.Lock()")
    assert test.op_at(ln) == (1, 3)


def test_build_error_shows_the_compiler_message_and_the_source(tmp_path):
    if available("go"):
        pytest.skip(available("go"))
    with pytest.raises(GoBuildError) as err:
        build(TOOLCHAINS["gc"], (), "package main\n\nfunc main() { undefinedName }\n",
              "test", cache=tmp_path)
    assert "undefined: undefinedName" in str(err.value)
    assert "    3 func main() { undefinedName }" in str(err.value)


def test_builds_are_cached_by_content(tmp_path):
    if available("go"):
        pytest.skip(available("go"))
    src = generate([PARK]).source
    first = build(TOOLCHAINS["gc"], (), src, "v", cache=tmp_path)
    stamp = first.stat().st_mtime_ns
    again = build(TOOLCHAINS["gc"], (), src, "v", cache=tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert build(TOOLCHAINS["gc"], ("-gcflags=-N",), src, "v", cache=tmp_path) != first


# ---------------------------------------------------------------- availability and bad input


def test_missing_toolchain_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("go", "gccgo", "go-race"):
        with pytest.raises(ToolchainMissing, match="apt-get install golang-go gccgo"):
            make_backend(name)
    assert main(["run", str(find_scenario("Ready+plain")), "--backend", "gccgo"]) == 2
    assert "apt-get install golang-go gccgo" in capsys.readouterr().err


def test_unknown_backend_and_mutants_are_refused(gc):
    with pytest.raises(RuntimeUsageError, match="unknown Go backend 'rust'"):
        make_backend("rust")
    with pytest.raises(RuntimeUsageError, match="mutants are variants of the native runtime"):
        gc.run(PARK, iterations=1, mutant="once-twice")


# ---------------------------------------------------------------- runs


@needs_cpus
def test_every_op_runs_on_gc_and_gccgo_with_the_one_outcome_the_model_allows(gc, gccgo):
    [expected] = get_model("go").allowed(ALL_OPS).outcomes
    assert str(expected) == ("P0:r0=3 P0:r1=3 P0:r2=1 P0:r3=2 P1:r4=3 P1:r5=1 P1:r6=1 P1:r7=0 "
                             "a=6 f=1 x=3 y=4")
    for b in (gc, gccgo):
        h = b.run(ALL_OPS, iterations=200)
        assert dict(h.counts) == {expected: 200}, b.name


@needs_cpus
def test_go_keywords_as_names(gc):
    h = gc.run(GO_NAMES, iterations=100)
    assert h.total == 100
    assert h.outside(get_model("go").allowed(GO_NAMES).outcomes) == {}
    assert all(complete(GO_NAMES, o) for o in h.counts)


@needs_cpus
@pytest.mark.parametrize("which", ["gc", "gccgo"])
def test_go_scenarios_show_nothing_the_go_model_forbids(which, patient):
    b = patient({"gc": "go", "gccgo": "gccgo"}[which])
    b.prepare(GO_SCENARIOS)   # one build for them all, not one per scenario
    for prog in GO_SCENARIOS:
        if which == "gccgo" and prog.name == "Ready+plain":
            continue      # hoisted: see test_gccgo_hoists_the_plain_ready_loop
        # More goroutines than CPUs (Deadlock+rwmutex-writer) run unpinned: this test asks
        # only that nothing forbidden shows. A deadlock ends the Go process (gccgo's detector
        # takes about 1 s, and a run stops restarting after 30 s): where the model allows one,
        # 30 runs, not 300.
        res = get_model("go").allowed(prog)
        deadlocks = any("deadlock" in o.flags for o in res.outcomes)
        h = b.run(prog, iterations=30 if deadlocks else 300,
                  oversubscribe=len(prog.threads) > len(available_cpus()))
        assert h.outside(res.outcomes) == {}, (b.name, prog.name)
        assert all(o.flags or complete(prog, o) for o in h.counts), prog.name
        if not deadlocks:
            # where the model allows a deadlock, Go's own detector may be slower than the
            # iteration budget (gccgo takes about 1 s); elsewhere, within 30 s, no timeout
            assert not any("timeout" in o.flags for o in h.counts), (b.name, prog.name)


@needs_cpus
def test_gccgo_hoists_the_plain_ready_loop():
    # a short budget: the hoisted loop never ends, so every iteration of it is a timeout
    gccgo = backend_or_skip("gccgo", iteration_budget=1.5)
    prog = next(p for p in GO_SCENARIOS if p.name == "Ready+plain")
    # P0 waits before writing, so P1 reaches its loop while `ready` is still 0.
    h = gccgo.run(prog, iterations=100, schedule=Schedule(delays=((10_000, 10_000), (0, 0))))
    timeouts = h.count(Outcome.flagged("timeout"))
    assert 1 <= timeouts <= 3 and "stopped after 3 timeouts" in (h.info["stopped"] or "")
    text = "\n".join(judge(h, get_model("go").allowed(prog)))
    assert "the go model allows a run that never ends here" in text


@needs_cpus
def test_gc_keeps_the_load_in_the_plain_ready_loop(gc):
    if not gc.version.startswith("go1.19"):
        pytest.skip(f"what gc does with the loop is known for go1.19, this is {gc.version}")
    prog = next(p for p in GO_SCENARIOS if p.name == "Ready+plain")
    h = gc.run(prog, iterations=200, schedule=Schedule(delays=((10_000, 10_000), (0, 0))))
    assert h.total == 200 and h.count(Outcome.flagged("timeout")) == 0


@needs_cpus
@pytest.mark.parametrize("which", ["gc", "gccgo", "race"])
def test_go_runtime_deadlock_is_the_deadlock_outcome(which, patient):
    """Under -race too (where Go's own check does not fire): deadlock, never timeout. gccgo
    has only Go's own check (about a second an iteration): a generous budget, so that a busy
    machine does not turn its deadlocks into timeouts."""
    b = patient({"gc": "go", "gccgo": "gccgo", "race": "go-race"}[which])
    for prog in (PARK, LOCK_PARK):
        h = b.run(prog, iterations=3)
        assert dict(h.counts) == {Outcome.flagged("deadlock"): 3}, prog.name


@needs_cpus
@pytest.mark.parametrize("name", ["go", "go-race"])
def test_a_thread_spinning_for_ever_is_a_timeout_not_a_deadlock(name):
    """P0 blocks for ever, P1 spins for ever: the harness must not call it a deadlock, and
    live iterations are never deadlocks even when it looks after every millisecond."""
    b = backend_or_skip(name, iteration_budget=1.0, deadlock_after=0.001)
    h = b.run(SPIN_PARK, iterations=2)
    assert dict(h.counts) == {Outcome.flagged("timeout"): 2}
    # every handoff completes: a generous budget, so that a busy machine times out none
    b = backend_or_skip(name, iteration_budget=30.0, deadlock_after=0.001)
    h = b.run(HANDOFF, iterations=2000, schedule=Schedule(delays=((0, 0), (10_000, 10_000))))
    assert dict(h.counts) == {Outcome.make({(0, "r0"): 1}, {}): 2000}


@needs_cpus
def test_panics_are_the_panic_outcome(gc):
    h = gc.run(NEG_WG, iterations=50)
    assert dict(h.counts) == {Outcome.flagged("panic"): 50}
    assert h.info["panics"] == {"sync: negative WaitGroup counter": 50}
    # a panic that leaves the other goroutine blocked for ever ends the process; it restarts
    h = gc.run(PANIC_BLOCKS, iterations=2)
    assert dict(h.counts) == {Outcome.flagged("panic"): 2}
    assert h.info["restarts"] >= 1


@needs_cpus
@pytest.mark.parametrize("which", ["gc", "gccgo"])
@pytest.mark.parametrize("prog", [UNLOCK_RELEASED, RUNLOCK_RELEASED], ids=lambda p: p.name)
def test_unlock_of_a_mutex_another_goroutine_released_is_the_panic_outcome(which, prog, request):
    # Go's fatal error ends the process (it cannot be recovered); the run restarts it
    h = request.getfixturevalue(which).run(prog, iterations=2)
    assert dict(h.counts) == {Outcome.flagged("panic"): 2}, which
    assert h.info["panics"] == {MESSAGES[prog.name]: 2}, which


@needs_cpus
def test_cli_run_with_a_go_backend(gc, capsys):
    assert main(["run", str(find_scenario("MP+unbuffered")), "--backend", "go",
                 "--iterations", "200"]) == 0
    out = capsys.readouterr().out
    assert f"on {gc.name}" in out and "0 runs ended in an outcome go forbids" in out


# ---------------------------------------------------------------- the race detector


@needs_cpus
def test_race_detector_reports_the_models_races(race):
    prog = next(p for p in GO_SCENARIOS if p.name == "Ready+plain")
    h = race.run(prog, iterations=200)
    model = get_model("go").allowed(prog)
    races = race_comparison(h, model).to_json()
    assert len(races["predicted"]) == 2
    assert races["missed"] == [] and races["unexpected"] == []
    assert any("race reported and predicted" in line for line in judge(h, model))


@needs_cpus
def test_race_detector_reports_a_plain_store_racing_with_an_atomic_load_as_the_model_does(race):
    prog = next(p for p in GO_SCENARIOS if p.name == "Atomic+load-plain-store")
    h = race.run(prog, iterations=200)
    races = race_comparison(h, get_model("go").allowed(prog)).to_json()
    assert races["predicted"] == [["P0 `r0 = atomic.Load(&a)` (line 12)", "P1 `a = 1` (line 15)"]]
    assert races["missed"] == [] and races["unexpected"] == []
    for name in ("Publish+chan", "Publish+atomic-flag"):     # initialised, then published
        prog = next(p for p in GO_SCENARIOS if p.name == name)
        races = race_comparison(race.run(prog, iterations=200),
                                get_model("go").allowed(prog)).to_json()
        assert races["reported"] == [] and races["predicted"] == [], name


@needs_cpus
def test_race_detector_quiet_on_race_free_programs_and_channel_races_named(race):
    h = race.run(ALL_OPS, iterations=100)
    races = race_comparison(h, get_model("go").allowed(ALL_OPS)).to_json()
    assert races["reported"] == [] and races["predicted"] == []
    h = race.run(SEND_CLOSE, iterations=100)
    races = race_comparison(h, get_model("go").allowed(SEND_CLOSE)).to_json()
    assert races["unexpected"] == [] and races["predicted"] == []
    assert races["channel"] == [["P0 `c <- 1` (line 4)", "P1 `close(c)` (line 6)"]]


def test_model_races_name_the_lines_of_the_program_asked_about():
    """Two parses of one program differ only in their lines: each gets its own races' lines."""
    from_file = next(p for p in GO_SCENARIOS if p.name == "Ready+plain")
    [bare] = parse("litmus Ready+plain\nvar data, ready int\nP0:\n  data = 1\n  ready = 1\n"
                   "P1:\n  for ready == 0 {}\n  r0 = data\n")
    go = get_model("go")
    assert go.allowed(from_file).races and go.allowed(bare).races
    assert {(r.first.line, r.second.line) for r in go.allowed(bare).races} == {(4, 8), (5, 7)}
    assert {(r.first.line, r.second.line) for r in go.allowed(from_file).races} == {(10, 14), (11, 13)}


@needs_cpus
def test_bench_go_rows_and_fuzz_rate(gc):
    from stressmm.bench_go import bench_rates, fuzz_rate
    rows = bench_rates(seconds=0.2, names=("go",))
    assert {(p, b) for p, b, _, _ in rows} == {("SB", "native"), ("MP", "native"),
                                              ("SB", gc.name), ("MP", gc.name)}
    assert all(rate > 0 for _, _, rate, _ in rows)
    r = fuzz_rate("go", examples=3, iterations=200, seed=11)    # a campaign, as `fuzz` runs it
    assert r["programs"] == 3 and r["runs"] >= 200 and r["found"] is None
    assert r["failure"] is None and r["per_minute"] > 0 and r["seed"] == 11


@pytest.mark.parametrize("which", ["go", "gccgo"])
def test_generated_code_always_compiles(which, tmp_path):
    """Random programs of every kind, many to one file: the Go compiler accepts the file."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from stressmm import strategies as mst
    if available(which):
        pytest.skip(available(which))
    tc = TOOLCHAINS["gc" if which == "go" else "gccgo"]
    kinds = ("load", "store", "rmw", "fence", "await")
    programs = st.one_of(mst.programs(threads=(1, 4), ops=(1, 5), kinds=kinds, sync=True),
                         mst.cycles(threads=(2, 4), atomic="mixed"),
                         mst.go_programs(threads=(2, 3), ops=(1, 4)))

    @settings(max_examples=1, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(programs, min_size=30, max_size=30))
    def compiles(progs):
        build(tc, tc.default_flags, generate(progs).source, "test", cache=tmp_path)

    compiles()


def test_detector_reports_on_sync_objects_are_documented_differences():
    """A WaitGroup Add/Wait report and a send/close report are listed apart, not as
    unexpected; a report on two plain accesses the model predicts is matched."""
    from stressmm.go_judge import compare
    from stressmm.runtime.go.races import reported_ops
    [prog] = parse('''litmus WG+chan
var y int
waitgroup wg
chan c 1
P0:
  wg.Add(1)
  y = 1
  wg.Done()
  c <- 1
P1:
  wg.Wait()
  r0 = y
  close(c)
''')
    test = generate([prog]).tests[0]
    line = {(t, i): ln for ln, t, i in test.lines}

    def report(a, b):
        return (f"WARNING: DATA RACE\nWrite at 0x1 by goroutine 7:\n  main.f()\n"
                f"      /b/main.go:{line[a]} +0x1\nPrevious read at 0x1 by goroutine 8:\n"
                f"  main.g()\n      /b/main.go:{line[b]} +0x2\n==================\n")

    text = report((0, 0), (1, 0)) + report((0, 3), (1, 2)) + report((0, 1), (1, 1))
    res = compare(prog, *reported_ops(test, [text]), get_model("go").allowed(prog).races)
    assert [[str(a), str(b)] for a, b in res.waitgroup] == [["P0 `wg.Add(1)` (line 6)",
                                                             "P1 `wg.Wait()` (line 11)"]]
    assert [[str(a), str(b)] for a, b in res.channel] == [["P0 `c <- 1` (line 9)",
                                                           "P1 `close(c)` (line 13)"]]
    assert res.unexpected == frozenset() and res.missed == frozenset()
    assert res.reported & res.predicted


@needs_cpus
def test_race_runs_end_once_every_expected_race_was_reported(race):
    """A campaign's go-race run ends early once the detector reported every race the go
    model predicts (after a tenth of the runs); with a race not reported it runs them all."""
    from stressmm.go_fuzz import campaign_backend, model_race_pairs
    prog = next(p for p in GO_SCENARIOS if p.name == "Ready+plain")
    quick = campaign_backend(race)
    assert quick is not race and quick.spec == race.spec == "go-race"
    assert campaign_backend(make_backend("go")).race is False      # other backends: as they are
    h = quick.run(prog, iterations=10_000)
    assert 1_000 <= h.total < 10_000 and h.info["race_runs"] == h.total
    assert "every race expected was reported" in h.info["race_early"]
    assert race_comparison(h, get_model("go").allowed(prog)).missed == frozenset()
    # a pair the detector never reports (P1's two ops): every iteration runs
    never = race.stopping_early(lambda p: model_race_pairs(p) + (((1, 0), (1, 1)),))
    h = never.run(prog, iterations=1_200)
    assert h.total == 1_200 and "race_early" not in h.info
    h = quick.run(ALL_OPS, iterations=300)       # race-free: nothing to wait for, all runs
    assert h.total == 300 and "race_early" not in h.info


def test_a_race_report_cut_short_is_not_read():
    from stressmm.runtime.go.races import ReportReader, parse_reports
    whole = ("==================\nWARNING: DATA RACE\nWrite at 0x1 by goroutine 7:\n"
             "      /b/main.go:7 +0x1\nPrevious read at 0x1 by goroutine 8:\n"
             "      /b/main.go:9 +0x2\n==================\n")
    cut = whole[:whole.rindex("Previous")]
    assert parse_reports(whole) == [((7,), (9,))] and parse_reports(cut) == []
    reader = ReportReader()
    lines = (whole + whole).splitlines(keepends=True)
    assert [r for k in range(0, len(lines), 3) for r in reader.feed(lines[k:k + 3])] == \
        [((7,), (9,))] * 2
