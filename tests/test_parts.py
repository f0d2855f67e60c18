"""A program's runs made in parts (`run_in_parts`), as campaign workers make them: nothing lost
or repeated between parts, and a worker that keeps saying it is alive while the machine is
overloaded."""
import os
import pickle

import pytest

from stressmm.fuzz import FIRST_PART_RUNS, ForbiddenOutcome, check_program, run_in_parts
from stressmm.models import get_model
from stressmm.outcome import Histogram, Outcome
from stressmm.runtime import ThreadsNotStarted, attach_histogram, partial_histogram
from stressmm.schedule import Schedule
from stressmm.syntax import parse

SB = parse("litmus SB\nvar x, y atomic int\nP0:\n  atomic.Store(&x, 1)\n  r0 = atomic.Load(&y)\n"
           "P1:\n  atomic.Store(&y, 1)\n  r1 = atomic.Load(&x)\n")[0]
BOTH_ZERO = Outcome.make({(0, "r0"): 0, (1, "r1"): 0}, {"x": 1, "y": 1})   # sc forbids it


class Scripted:
    """Call n (1, 2, ...) does `script[n - 1]`: "ok" (an outcome sc allows, every run),
    "forbidden" (BOTH_ZERO once, the rest allowed), "late" (ThreadsNotStarted), "ctrl-c"
    (KeyboardInterrupt after 7 runs, which travel with it), "ctrl-c-bare" (no runs with it).
    Records each call's schedule."""

    name = "scripted"

    def __init__(self, *script):
        self.script, self.calls = script, []

    def run(self, program, iterations, schedule):
        self.calls.append(schedule)
        what = self.script[min(len(self.calls), len(self.script)) - 1]
        allowed = min(get_model("sc").allowed(program).outcomes)
        if what == "late":
            raise ThreadsNotStarted(f"{program.name}: a program thread did not reach the "
                                    "barrier within 20 s")
        if what == "ctrl-c-bare":
            raise KeyboardInterrupt()
        if what == "ctrl-c":
            stop = KeyboardInterrupt()
            attach_histogram(stop, Histogram(program, {allowed: 7}))
            raise stop
        if what == "forbidden":
            return Histogram(program, {BOTH_ZERO: 1, allowed: iterations - 1})
        return Histogram(program, {allowed: iterations})


def test_a_later_part_that_cannot_start_keeps_what_the_parts_before_it_showed():
    # The first part saw a forbidden outcome; the second could not start its threads: the
    # finding stands (it used to go with the abandoned part, and the program was run again).
    hist = run_in_parts(Scripted("forbidden", "late"), SB, iterations=5000,
                        schedule=Schedule(), mutant=None, on_part=lambda h: None,
                        part_seconds=0.0)
    assert hist.counts[BOTH_ZERO] == 1 and hist.total == FIRST_PART_RUNS
    # Without a finding, the runs done are judged and say why they are fewer than asked.
    hist = check_program(SB, Schedule(), backend=Scripted("ok", "ok", "late"), model="sc",
                         iterations=5000, on_part=lambda h: None, part_seconds=0.0)
    assert hist.total == FIRST_PART_RUNS + 1
    assert "could not start in time" in hist.info["capped"]
    # A first part that cannot start is the caller's to try again (run_started).
    with pytest.raises(ThreadsNotStarted):
        check_program(SB, Schedule(), backend=Scripted("late"), model="sc", iterations=5000,
                      on_part=lambda h: None)


def test_a_campaign_program_stops_at_the_first_part_that_shows_a_forbidden_outcome():
    # the finding is made: the thousands of runs left would only delay the report (and every
    # step of shrinking, each a program that shows it again)
    backend = Scripted("ok", "forbidden", "ok")
    with pytest.raises(ForbiddenOutcome) as found:
        check_program(SB, Schedule(), backend=backend, model="sc", iterations=20_000,
                      on_part=lambda h: None, part_seconds=0.0)
    assert len(backend.calls) == 2
    assert found.value.counterexample.count == 1
    assert found.value.counterexample.total == FIRST_PART_RUNS + 1
    # a program that shows nothing forbidden runs every iteration asked
    assert check_program(SB, Schedule(), backend=Scripted("ok"), model="sc", iterations=2000,
                         on_part=lambda h: None, part_seconds=0.0).total == 2000


def test_ctrl_c_in_a_later_part_carries_the_runs_of_every_part():
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_in_parts(Scripted("ok", "ok", "ctrl-c"), SB, iterations=5000, schedule=Schedule(),
                     mutant=None, on_part=lambda h: None, part_seconds=0.0)
    assert partial_histogram(stopped.value).total == FIRST_PART_RUNS + 1 + 7
    with pytest.raises(KeyboardInterrupt) as stopped:   # no runs attached: the parts done still
        run_in_parts(Scripted("ok", "ctrl-c-bare"), SB, iterations=5000,
                     schedule=Schedule(), mutant=None, on_part=lambda h: None, part_seconds=0.0)
    assert partial_histogram(stopped.value).total == FIRST_PART_RUNS


def test_parts_of_parts_never_run_the_same_delays_twice():
    # A backend may split each part it is given into parts of its own with `Schedule.part`
    # (the C-ABI worker splits runs of more than 1,000): part m's part k must not draw the
    # delays of part m + k, as it did when a part's seed was the schedule's plus a multiple.
    s = Schedule(seed=3)
    seeds = [s.seed] + [s.part(m).part(k).seed for m in range(1, 40) for k in range(40)]
    assert len(set(seeds)) == len(seeds)
    backend = Scripted("ok")
    run_in_parts(backend, SB, iterations=FIRST_PART_RUNS + 40, schedule=s, mutant=None,
                 on_part=lambda h: None, part_seconds=0.0)
    assert [c.seed for c in backend.calls] == [s.part(n).seed for n in range(41)]


class Pipe(list):
    """A worker's pipe to its campaign: keeps a copy of each message, as pickling does."""

    def send(self, message):
        self.append(pickle.loads(pickle.dumps(message)))


def worker_messages(cfg, examples, monkeypatch):
    """The messages one campaign worker sends, run in this process, copied as they are sent."""
    import test_campaign

    monkeypatch.setattr(test_campaign, "Messages", Pipe)
    return test_campaign.run_worker(cfg, examples)


BACKENDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "campaign_backends.py")


def test_a_worker_says_it_is_alive_between_two_tries_of_a_program_that_cannot_start(monkeypatch):
    # Each try may wait out a start barrier (20 s native, 30 s pythreads): without a word
    # between the two, the campaign took twice that silence for a hang.
    from stressmm.campaign import CampaignConfig

    cfg = CampaignConfig(examples=1, iterations=50, corpus=None, threads=1,
                         backend=f"{BACKENDS}:NeverStarts")
    kinds = [m[0] for m in worker_messages(cfg, 1, monkeypatch)]
    assert kinds[-1] == "done" and kinds.count("program") == 1
    assert "beat" in kinds[kinds.index("program"):]


def test_a_worker_counts_the_runs_of_each_part_as_it_reports_them(monkeypatch):
    # A worker killed as hung in a program's later part keeps the runs of its parts before.
    from stressmm.campaign import CampaignConfig

    cfg = CampaignConfig(examples=1, iterations=4 * FIRST_PART_RUNS, corpus=None, threads=1,
                         backend=f"{BACKENDS}:Slow")   # 1 s in all
    out = worker_messages(cfg, 1, monkeypatch)
    after = out[[m[0] for m in out].index("program"):]
    beats = [m[2]["runs"] for m in after if m[0] == "beat"]
    assert beats and beats[0] >= FIRST_PART_RUNS
    assert out[-1][0] == "done" and out[-1][2]["runs"] == 4 * FIRST_PART_RUNS


def test_a_hang_threshold_below_a_start_barrier_is_warned_about():
    from stressmm.campaign import CampaignConfig

    assert CampaignConfig().hang_note() == ""
    note = CampaignConfig(hang_seconds=10).hang_note()
    assert "reported as a hung worker" in note and "give hang_seconds of 60 or more" in note
