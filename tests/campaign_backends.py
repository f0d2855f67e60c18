"""Backends that make a campaign worker slow, hung or unable to start its threads, loaded by
spec (`path/to/campaign_backends.py:Name`) in the workers of tests/test_campaign.py."""
import os
import time
from pathlib import Path

from stressmm.models import get_model
from stressmm.outcome import Histogram
from stressmm.runtime import ThreadsNotStarted

SECONDS_PER_RUN = 0.0005    # Slow: 20,000 runs take 10 s
HUNG_ONCE = "STRESSMM_TEST_HUNG_ONCE"   # a file: the first program of a campaign hangs


def sc_histogram(program, iterations, name):
    """`iterations` runs spread over the outcomes sc allows (allowed by every model)."""
    outcomes = sorted(get_model("sc").allowed(program).outcomes)
    counts = {o: iterations // len(outcomes) for o in outcomes}
    counts[outcomes[0]] += iterations - sum(counts.values())
    return Histogram(program, counts, backend=name)


class Slow:
    """Correct, but SECONDS_PER_RUN a run; with $STRESSMM_TEST_HUNG_ONCE naming a file that
    does not exist yet, the first run in the campaign creates it and never returns (a call
    stuck in native code, as far as the worker can tell)."""

    name = "slow"

    def run(self, program, iterations, schedule):
        flag = os.environ.get(HUNG_ONCE)
        if flag and not Path(flag).exists():
            Path(flag).touch()
            time.sleep(600)
        time.sleep(iterations * SECONDS_PER_RUN)
        return sc_histogram(program, iterations, self.name)


class StartsLateEveryOtherRun:
    """Every other run cannot start its threads in time, as on an overloaded machine."""

    name = "starts-late-every-other-run"

    def __init__(self):
        self.calls = 0

    def run(self, program, iterations, schedule):
        self.calls += 1
        if self.calls % 2:
            raise ThreadsNotStarted(f"{program.name}: execute: a program thread did not reach "
                                    f"the barrier within 20 s (machine overloaded, or threads "
                                    f"descheduled); the run was abandoned")
        return sc_histogram(program, iterations, self.name)


class NeverStarts:
    """No run can start its threads in time."""

    name = "never-starts"

    def run(self, program, iterations, schedule):
        raise ThreadsNotStarted(f"{program.name}: a Python thread missed its start barrier "
                                f"for 30 s; the run was abandoned")
