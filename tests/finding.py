"""Hypothesis settings of the tests that search with `find`: what it finds and how far it
shrinks are the facts under test, so only the explain phase is left out. That phase runs the
condition again on variations of the shrunk example to comment a failing test's report
("or any other generated value"), which `find` never prints: it would only cost time (up to
fourteen of fifteen seconds of a search).

    >>> from hypothesis import Phase, find, strategies as st
    >>> Phase.explain in FIND.phases, Phase.shrink in FIND.phases
    (False, True)
    >>> find(st.integers(), lambda n: n > 10, settings=FIND)
    11
"""
from hypothesis import HealthCheck, Phase, settings

NO_EXPLAIN = tuple(p for p in Phase if p is not Phase.explain)

FIND = settings(max_examples=2000, derandomize=True, database=None, deadline=None,
                phases=NO_EXPLAIN)
