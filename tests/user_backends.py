"""Backends as users write them, loaded by spec (`path/to/user_backends.py:Name`) in tests."""
from stressmm.models import get_model
from stressmm.outcome import Histogram, Outcome


def _sc(program):
    return sorted(get_model("sc").allowed(program).outcomes)


class RegistersOnly:
    """Reports registers only, as litmus7 prints them: incomplete outcomes."""

    name = "registers-only"

    def run(self, program, iterations, schedule):
        counts = {Outcome(o.regs, (), o.flags): 1 for o in _sc(program)}
        return Histogram(program, counts, backend=self.name)


class ReturnsDict:
    """Returns a plain dict instead of a Histogram."""

    def run(self, program, iterations, schedule):
        return {o: 1 for o in _sc(program)}


class AlwaysTSO:
    """Every outcome x86-TSO allows, once each: SB shows its weak outcome on every run."""

    name = "always-tso"

    def run(self, program, iterations, schedule, mutant=None):
        outcomes = sorted(get_model("tso").allowed(program).outcomes)
        return Histogram(program, {o: max(1, iterations // len(outcomes)) for o in outcomes},
                         backend=self.name)


def make_always_tso():
    """A factory, as `module:factory` specs may name."""
    return AlwaysTSO()


NOT_A_BACKEND = 42


class AlwaysPanics:
    """Every run panics: forbidden for any program without Go primitives."""

    name = "always-panics"

    def run(self, program, iterations, schedule):
        return Histogram(program, {Outcome.flagged("panic"): iterations}, backend=self.name)
