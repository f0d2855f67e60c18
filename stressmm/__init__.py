"""stressmm: property-based stress testing of memory models.

Random litmus programs run millions of times on real threads; every outcome is checked against
a reference model (sc, tso, ...), and a forbidden one is shrunk to a minimal counterexample.
"""
__version__ = "0.1.0"
