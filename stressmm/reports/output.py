"""The files `--report` and `--junit` name: checked when the command line is read (before any
work), written once the results are complete, after they were printed, so a failed write loses
nothing.

    >>> import argparse
    >>> ap = argparse.ArgumentParser()
    >>> add_options(ap)
    >>> ap.parse_args([]).report is None
    True
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

__all__ = ["writable_path", "add_options", "finish", "write_outputs"]


def writable_path(text: str) -> str:
    """An argparse type: `text` names a file this process can create or overwrite (its folder
    exists; it is not a folder). Nothing is left behind by the check.

        >>> writable_path("/")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /: is a directory, not a file: name a file, e.g. /report.html
    """
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: is a directory, not a file: name a file, e.g. {p / 'report.html'}")
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text}: the folder {parent} does not exist (create it first)")
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text}: cannot write here ({e.strerror or e})")
    if not existed:
        try:
            p.unlink()
        except OSError:
            pass
    return text


def add_options(parser, what: str = "the results") -> None:
    """`--report FILE` (HTML) and `--junit FILE` (JUnit XML) on a subcommand."""
    parser.add_argument("--report", type=writable_path, metavar="FILE",
                        help=f"write {what} as one self-contained HTML page")
    parser.add_argument("--junit", type=writable_path, metavar="FILE",
                        help=f"write {what} as JUnit XML for CI")


def write_outputs(doc: dict, report: Optional[str], junit: Optional[str]) -> list:
    """Write the HTML report and the JUnit file that were asked for; returns the error messages
    of the writes that failed (each write is tried, whatever the other did)."""
    from . import html, junit as junit_mod

    errors = []
    for path, render, what in ((report, html.render, "report"), (junit, junit_mod.render, "JUnit file")):
        if not path:
            continue
        tmp = Path(f"{path}.tmp{os.getpid()}")
        try:
            text = render(doc)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as e:
            errors.append(f"could not write the {what} {path}: {e.strerror or e}; "
                          f"the results above are complete")
            try:
                tmp.unlink()
            except OSError:
                pass
    return errors


def finish(args, doc: dict, status: int) -> int:
    """The last step of a command: write the files asked for with `--report` / `--junit`.
    Returns `status`, or 2 when a file could not be written (the message says which; the
    results were printed before)."""
    errors = write_outputs(doc, getattr(args, "report", None), getattr(args, "junit", None))
    for msg in errors:
        print(f"stressmm: error: {msg}", file=sys.stderr)
    return 2 if errors else status
