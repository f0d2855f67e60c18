"""stressmm: property-based stress testing of memory models.

Random litmus programs run millions of times on real threads; every outcome is checked against
a reference model (sc, tso, ...), and a forbidden one is shrunk to a minimal counterexample.

    stressmm.run(program, iterations=1_000_000)          # the native runtime -> Histogram
    stressmm.check_program(program, schedule, backend=b)  # raises ForbiddenOutcome
"""
__version__ = "0.1.0"
__all__ = ["run", "check_program", "__version__"]


def __getattr__(name):
    # Imported on first use, so that `import stressmm.program` stays light and cycle-free.
    if name == "run":
        from .runtime.native import run
        return run
    if name == "check_program":
        from .fuzz import check_program
        return check_program
    raise AttributeError(f"module 'stressmm' has no attribute {name!r}")
