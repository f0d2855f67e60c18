"""JUnit XML, the test-result format CI systems read (Jenkins, GitLab, GitHub actions, ...),
rendered from a results document (see `stressmm.reports.results`): one test case per litmus
test (check, run, replay) or per campaign (fuzz); a forbidden outcome or a failed expectation is
a `<failure>` whose message is the counterexample.

    >>> from stressmm.reports.results import document
    >>> print(render(document("check", [], failed_expectations=0)).splitlines()[1])
    <testsuites name="stressmm check" tests="0" failures="0" errors="0" time="0.000">
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

__all__ = ["render", "test_case_failures"]


def _seconds(x) -> str:
    return f"{float(x or 0):.3f}"


def _classname(test: dict) -> str:
    """`scenarios/classic/SB.litmus` -> `classic.SB`: CI systems group test cases by it."""
    path = Path(test.get("file") or test["name"])
    parts = [p for p in path.with_suffix("").parts[-2:] if p not in ("/", "")]
    return ".".join(parts) or test["name"]


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters: show them as \\xNN."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def test_case_failures(test: dict) -> list:
    """(message, details) for every way `test` failed: each failed expectation, and the
    outcomes the checked model forbids that were observed.

        >>> test_case_failures({"name": "SB", "expectations": [], "program": ""})
        []
    """
    out = []
    failed = [e for e in test.get("expectations", []) if e["holds"] is False]
    for e in failed:
        out.append((f"{test['name']}: expect {e['model']}: {e['verdict']} fails",
                    f"expect {e['model']}: {e['verdict']} does not hold\n\n{test['program']}"))
    if test.get("forbidden"):
        m = test["checked_model"]
        bad = [o for o in test["outcomes"] if o["verdicts"].get(m) == "forbidden"]
        lines = [f"FORBIDDEN by {m}: {test['forbidden']:,} of {test['total']:,} runs of "
                 f"{test['name']}"]
        lines += [f"  {o['text']}: seen {o['count']:,} times" for o in bad]
        lines += ["", test["program"]]
        text = "\n".join(lines)
        out.append((text, text))
    return out


def _suite(parent, name: str, cases: list, elapsed: float) -> None:
    """`cases`: (classname, name, seconds, failures [(message, details)], errors, output)."""
    suite = ET.SubElement(parent, "testsuite", name=name, tests=str(len(cases)),
                          failures=str(sum(1 for c in cases if c[3])),
                          errors=str(sum(1 for c in cases if c[4] and not c[3])),
                          skipped="0", time=_seconds(elapsed))
    for classname, case_name, seconds, failures, errors, output in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=case_name,
                             time=_seconds(seconds))
        for message, details in failures:
            ET.SubElement(case, "failure", message=_clean(message),
                          type="stressmm.ForbiddenOutcome").text = _clean(details)
        for message, details in errors:
            ET.SubElement(case, "error", message=_clean(message),
                          type="stressmm.WorkerFailure").text = _clean(details)
        if output:
            ET.SubElement(case, "system-out").text = _clean(output)


def _test_cases(doc: dict) -> list:
    cases = []
    for t in doc.get("tests", []):
        seconds = t.get("elapsed") or sum(r.get("elapsed", 0) for r in t.get("models", {}).values())
        out = [t["program"]]
        if t.get("total") is not None:
            out.append(f"{t['total']:,} runs on {t.get('backend') or 'native'}:")
            out += [f"  {o['text']}: {o['count']:,}  "
                    + " ".join(f"{m}={v}" for m, v in o["verdicts"].items()) for o in t["outcomes"]]
            out += [f"  {o['text']}: allowed by {', '.join(o['allowed_by'])} but never seen here"
                    for o in t.get("never_seen", [])]
        cases.append((_classname(t), t["name"], seconds, test_case_failures(t), [], "\n".join(out)))
    return cases


def _campaign_case(c: dict) -> tuple:
    cfg = c["config"]
    what = f"mutant {cfg['mutant']}" if cfg["mutant"] else "native runtime"
    failures = []
    for cex in c["counterexamples"]:
        details = cex["report"] + ("\n\nreplay: " + cex["replay"] if cex["replay"] else "")
        details += "\n\nmachine: " + ", ".join(f"{k}={v}" for k, v in cex["machine"].items())
        details += "\nversions: " + ", ".join(f"{k}={v}" for k, v in cex["versions"].items())
        failures.append((cex["report"], details))
    errors = [(f"worker {f['worker']} {f['what']}", f["program_text"])
              for f in c["worker_failures"]]
    out = (f"{c['examples']:,} programs, {c['runs']:,} runs in {c['elapsed']:.1f} s "
           f"({c['runs_per_second']:.0f} runs/s) on {c['workers']} worker(s), CPUs {c['cpus']}")
    return ("stressmm.fuzz", f"campaign: {what} judged by {cfg['model']}", c["elapsed"],
            failures, errors, out)


def render(doc: dict) -> str:
    """The JUnit XML text of a results document."""
    root = ET.Element("testsuites", name=f"stressmm {doc['command']}")
    cases = _test_cases(doc)
    if doc.get("campaign") is not None:
        cases.append(_campaign_case(doc["campaign"]))
    elapsed = sum(c[2] for c in cases)
    _suite(root, f"stressmm {doc['command']}", cases, elapsed)
    suite = root[0]
    for key in ("tests", "failures", "errors"):
        root.set(key, suite.get(key))
    root.set("time", _seconds(elapsed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
