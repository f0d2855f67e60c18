"""The HTML report: one self-contained page (styles inline, no scripts, no network) rendered
from a results document (see `stressmm.reports.results`) with Jinja2, every value escaped.

    >>> from stressmm.reports.results import document
    >>> page = render(document("check", [], failed_expectations=0))
    >>> page.startswith("<!DOCTYPE html>") and "<script" not in page
    True
"""
from __future__ import annotations

from typing import Optional

__all__ = ["render"]


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("stressmm.reports", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else str(n)
    env.filters["rate"] = _rate
    env.filters["duration"] = _duration
    return env


def _rate(x) -> str:
    from ..report import fmt_rate

    return fmt_rate(float(x or 0))


def _duration(seconds: Optional[float]) -> str:
    """`83.4` -> `1:23.4` (minutes:seconds) or `4.20 s` below a minute."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{int(seconds) // 60}:{seconds % 60:04.1f}"


def _bar_width(count: int, biggest: int) -> float:
    """The bar of `count` as a percentage of the longest bar; any observed outcome gets a
    visible sliver, however rare (the rare ones are the interesting ones)."""
    if count <= 0 or biggest <= 0:
        return 0.0
    return max(0.75, 100.0 * count / biggest)


def render(doc: dict) -> str:
    """The report page for a results document."""
    from ..models import MODELS

    tests = doc.get("tests", [])
    models = list(dict.fromkeys(
        list(MODELS) + [m for t in tests for m in t.get("models", {})]))
    failed = [i for i, t in enumerate(tests)
              if t.get("forbidden") or any(e["holds"] is False for e in t.get("expectations", []))]
    return _environment().get_template("report.html").render(
        doc=doc, tests=tests, models=models, failed=failed, bar_width=_bar_width,
        campaign=doc.get("campaign"))
