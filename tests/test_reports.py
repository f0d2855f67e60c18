"""What people and CI read: the HTML report (opened in headless Chromium), JUnit XML (validated
against the schema CI systems use), the versioned JSON document, progress, and the output files'
bad-input rules."""
import io
import json
import os
import platform
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import needs_chromium, screenshot, what_a_person_sees

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SB = SCENARIOS / "classic" / "SB.litmus"
XSD = Path(__file__).parent / "data" / "junit-ci.xsd"


def two_cpus():
    return len(os.sched_getaffinity(0)) >= 2


needs_two_cpus = pytest.mark.skipif(not two_cpus(), reason="needs 2 CPUs to run 2 pinned threads")


def stressmm(*args, cwd=None, timeout=400):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout, stdin=subprocess.DEVNULL)


def valid_junit(path: Path):
    """The parsed JUnit file, after validating it against the CI schema."""
    import xmlschema

    xmlschema.XMLSchema(str(XSD)).validate(str(path))  # raises with the first violation
    import xml.etree.ElementTree as ET

    return ET.parse(path).getroot()


class _Assets(HTMLParser):
    """Everything in a page that would load from elsewhere or run code."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.found.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.found.append(f"{tag} {name}={value}")

    def handle_data(self, data):
        if "url(" in data or "@import" in data:
            self.found.append(data.strip()[:60])


def assert_self_contained(page: str):
    assets = _Assets()
    assets.feed(page)
    assert assets.found == [], assets.found


def small_scenarios():
    """The bundled scenario files whose programs fit this machine's CPUs (pinned threads)."""
    from stressmm.syntax import parse_file

    cpus = len(os.sched_getaffinity(0))
    return [p for p in sorted(SCENARIOS.rglob("*.litmus"))
            if all(len(prog.threads) <= cpus for prog in parse_file(str(p)))]


# ---------------------------------------------------------------- a run over the scenarios


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    files = small_scenarios()
    proc = stressmm("run", *files, "--iterations", "5000", "--report", out / "run.html",
                    "--junit", out / "run.xml")
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    return out, proc, files


@needs_two_cpus
@needs_chromium
def test_run_report_in_a_browser(scenario_run, tmp_path):
    out, proc, files = scenario_run
    page = (out / "run.html").read_text()
    assert_self_contained(page)
    seen = what_a_person_sees(out / "run.html", tmp_path)
    from stressmm.models import MODELS

    assert len(seen["tests"]) == len(files) == page.count('<section class="test')
    def classic(name):   # scenarios/c11 has tests of the same names
        return next(t for k, t in seen["tests"].items()
                    if k.split(" #")[0] == name and f"classic/{name}.litmus" in t["text"])

    sb = classic("SB")
    header, *rows = sb["rows"]
    # every model's verdict beside every outcome, under a column named after the model
    assert header["cells"][:4] == ["outcome", "histogram", "count", "%"]
    assert header["cells"][4:4 + len(MODELS)] == list(MODELS)
    observed = [r for r in rows if not r["never"]]
    assert observed and all(r["bar"] > 0 for r in observed)        # a visible bar per outcome
    counts = [int(r["cells"][2].replace(",", "")) for r in observed]
    assert sum(counts) == 5000
    biggest = max(observed, key=lambda r: int(r["cells"][2].replace(",", "")))
    assert all(r["bar"] <= biggest["bar"] + 0.5 for r in observed)  # the longest bar is the mode
    sc, tso = 4 + list(MODELS).index("sc"), 4 + list(MODELS).index("tso")
    weak = [r for r in rows if r["cells"][0] == "P0:r0=0 P1:r1=0"]
    assert len(weak) == 1 and weak[0]["cells"][tso] == "allowed"
    assert weak[0]["cells"][sc] in ("FORBIDDEN", "forbidden")  # FORBIDDEN when seen here
    # the data races of the go model, with both ops and their lines
    assert "Data races (go)" in sb["text"]
    # false safety on x86: MP's reordered outcome is allowed by go (plain ops race) and never
    # produced by a TSO machine: the report marks it
    mp = classic("MP")
    reordered = [r for r in mp["rows"] if r["cells"][0] == "P1:r0=1 P1:r1=0"]
    assert len(reordered) == 1
    if platform.machine() in ("x86_64", "AMD64", "i686"):
        assert reordered[0]["never"] and reordered[0]["cells"][1] == "allowed but never seen here"
        assert reordered[0]["cells"][4 + list(MODELS).index("go")] == "allowed"
    png = screenshot(out / "run.html", tmp_path / "run-report.png")
    print(f"screenshot: {png}")


@needs_two_cpus
def test_run_junit_is_valid_with_one_case_per_test(scenario_run):
    out, proc, files = scenario_run
    root = valid_junit(out / "run.xml")
    cases = list(root.iter("testcase"))
    from stressmm.syntax import parse_file

    assert len(cases) == sum(len(parse_file(str(f))) for f in files)
    failed = [c for c in cases if c.find("failure") is not None]
    assert int(root.get("failures")) == len(failed)
    assert (proc.returncode == 1) == bool(failed)
    for c in failed:  # the message names the forbidden outcome and the program
        assert "FORBIDDEN by tso" in c.find("failure").get("message")


# ---------------------------------------------------------------- a campaign that finds a bug


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz")
    proc = stressmm("fuzz", "--mutant", "sc-store-no-fence", "--minutes", "3", "--seed", "1",
                    "--corpus", out / "corpus", "--json", "--report", out / "fuzz.html",
                    "--junit", out / "fuzz.xml", cwd=out, timeout=600)
    return out, proc


@needs_two_cpus
@needs_chromium
def test_campaign_report_in_a_browser(campaign, tmp_path):
    out, proc = campaign
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    [cex] = doc["campaign"]["counterexamples"]
    page = (out / "fuzz.html").read_text()
    assert_self_contained(page)
    seen = what_a_person_sees(out / "fuzz.html", tmp_path)
    text = seen["text"]
    assert "1 counterexample(s), 0 worker failure(s)" in text
    for figure in ("programs", "runs", "runs/s", "time"):
        assert figure in text
    [shown] = seen["counterexamples"]
    assert f"Counterexample 1: {cex['outcome_text']}" in shown["text"]
    assert f"Seen {cex['count']:,} times in {cex['total']:,} runs" in shown["text"]
    assert "FORBIDDEN" in shown["text"] and shown["bar"] > 0
    from stressmm.models import MODELS

    assert set(cex["model_verdicts"]) == set(MODELS)       # every model's verdict, not only two
    assert cex["model_verdicts"][cex["model"]] == "forbidden"
    for m in MODELS:
        assert f"\t{m}\t" in shown["text"] or f"\t{m}\n" in shown["text"]
    assert cex["why"] and cex["why"] in shown["text"]                      # the rule broken
    assert f"stressmm replay {cex['saved']}" in shown["text"]             # how to replay it
    assert cex["machine"]["cpu"] in shown["text"] and cex["versions"]["stressmm"] in shown["text"]
    assert "atomic.Store(&x, 1)" in shown["text"] or "x = 1" in shown["text"]  # the program
    png = screenshot(out / "fuzz.html", tmp_path / "campaign-report.png", height=1600)
    print(f"screenshot: {png}")


@needs_two_cpus
def test_campaign_junit_has_the_counterexample(campaign):
    out, proc = campaign
    doc = json.loads(proc.stdout)
    [cex] = doc["campaign"]["counterexamples"]
    root = valid_junit(out / "fuzz.xml")
    [case] = root.iter("testcase")
    [failure] = case.findall("failure")
    assert failure.get("message") == cex["report"]
    assert f"replay: stressmm replay {cex['saved']}" in failure.text
    assert root.get("failures") == "1"
    # how far the campaign got before the first detection: programs and runs, not only seconds
    figures = doc["campaign"]
    assert 1 <= figures["first_detection_programs"] <= figures["examples"]
    assert 1 <= figures["first_detection_runs"] <= figures["runs"]


@needs_two_cpus
def test_replay_json_and_report(campaign, tmp_path):
    out, proc = campaign
    [cex] = json.loads(proc.stdout)["campaign"]["counterexamples"]
    rp = stressmm("replay", cex["saved"], "--json", "--iterations", "20000",
                  "--report", tmp_path / "replay.html", "--junit", tmp_path / "replay.xml")
    assert rp.returncode in (0, 1), rp.stderr
    doc = json.loads(rp.stdout)
    assert doc["version"] == 1 and doc["command"] == "replay"
    [test] = doc["tests"]
    assert test["recorded"]["text"] == cex["outcome_text"]
    assert test["total"] == 20000
    assert (rp.returncode == 1) == (test["forbidden"] > 0)
    assert "Recorded outcome" in (tmp_path / "replay.html").read_text()
    [case] = valid_junit(tmp_path / "replay.xml").iter("testcase")
    assert (case.find("failure") is not None) == (rp.returncode == 1)


# ---------------------------------------------------------------- check (no hardware)


def test_check_report_junit_and_json_tell_the_same_facts(tmp_path):
    wrong = tmp_path / "wrong.litmus"
    wrong.write_text(SB.read_text().replace("tso: allowed", "tso: forbidden"))
    html, xml = tmp_path / "check.html", tmp_path / "check.xml"
    proc = stressmm("check", SB, wrong, "--json", "--report", html, "--junit", xml)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["version"] == 1 and doc["command"] == "check"
    ok, bad = doc["tests"]
    assert [e["holds"] for e in bad["expectations"] if e["model"] == "tso"] == [False]
    weak = [o for o in ok["outcomes"] if o["exists"]]
    assert [o["verdicts"]["sc"] for o in weak] == ["forbidden"]
    assert [o["verdicts"]["tso"] for o in weak] == ["allowed"]
    root = valid_junit(xml)
    cases = list(root.iter("testcase"))
    assert [c.find("failure") is None for c in cases] == [True, False]
    assert "expect tso: forbidden fails" in cases[1].find("failure").get("message")
    page = html.read_text()
    assert_self_contained(page)
    assert "2 test(s): 1 failed" in page and "FAIL</span> expect tso: forbidden" in page


def test_report_escapes_what_the_program_says(tmp_path):
    evil = tmp_path / "evil.litmus"
    evil.write_text(SB.read_text().replace('"store buffering', '"<script>alert(1)</script> & co'))
    assert "<script>" in evil.read_text()
    proc = stressmm("check", evil, "--report", tmp_path / "r.html", "--junit", tmp_path / "r.xml")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "r.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    valid_junit(tmp_path / "r.xml")


@needs_chromium
def test_check_report_in_a_browser(tmp_path):
    html = tmp_path / "check.html"
    proc = stressmm("check", SCENARIOS / "classic", "--report", html)
    assert proc.returncode == 0, proc.stderr
    seen = what_a_person_sees(html, tmp_path)
    from stressmm.models import MODELS

    header, *rows = seen["tests"]["SB"]["rows"]
    assert header["cells"][:1 + len(MODELS)] == ["outcome"] + list(MODELS)
    [weak] = [r for r in rows if r["cells"][0] == "P0:r0=0 P1:r1=0"]
    assert weak["cells"][1 + list(MODELS).index("sc")] == "FORBIDDEN"
    assert weak["cells"][1 + list(MODELS).index("tso")] == "allowed"
    # the weak outcome comes with a witness execution, collapsed: its summary shows, its
    # steps do not until the reader opens it
    [witness] = seen["tests"]["SB"]["explanations"]
    assert witness["summary"] == "an execution tso allows that ends in P0:r0=0 P1:r1=0 x=1 y=1"
    assert not witness["open"] and "store buffer" in witness["text"]
    assert "store buffer" not in witness["shown"]


def details_of(page: str) -> list:
    """Every <details> of a page: (summary text, open or not, the text inside)."""
    class Details(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.depth = [], 0

        def handle_starttag(self, tag, attrs):
            if tag == "details":
                self.found.append({"open": "open" in dict(attrs), "summary": "", "text": ""})
                self.depth += 1
            elif tag == "summary":
                self.part = "summary"
            elif tag == "pre":
                self.part = "text"

        def handle_endtag(self, tag):
            if tag == "details":
                self.depth -= 1
            if tag in ("summary", "pre"):
                self.part = None

        def handle_data(self, data):
            if self.depth and getattr(self, "part", None):
                self.found[-1][self.part] += data

    d = Details()
    d.feed(page)
    return d.found


def test_report_explains_what_was_forbidden_and_what_was_weak(tmp_path):
    # SB's store-buffering outcome, seen on every run (a backend that does what x86-TSO
    # allows), judged by sc: a forbidden outcome that was observed, and a weak one
    from stressmm.check import explain_outcome
    from stressmm.syntax import parse_file

    html = tmp_path / "run.html"
    backend = f"{Path(__file__).parent / 'user_backends.py'}:AlwaysTSO"
    proc = stressmm("run", SB, "--backend", backend, "--model", "sc", "--iterations", "100",
                    "--report", html)
    assert proc.returncode == 1, proc.stderr
    page = html.read_text()
    assert_self_contained(page)
    found = {d["summary"]: d for d in details_of(page)}
    weak = "P0:r0=0 P1:r1=0 x=1 y=1"
    why, witness = found[f"why sc forbids {weak}"], found[f"an execution tso allows that ends in {weak}"]
    assert not why["open"] and not witness["open"]          # collapsed by default
    # the words of the explainer of `stressmm check --explain`
    [sb] = parse_file(str(SB))
    outcome = next(o for o in get_model_outcomes(sb, "tso") if str(o) == weak)
    assert why["text"] == explain_outcome(sb, outcome, "sc").text
    assert "-fr->" in why["text"]                           # the cycle of the rule broken
    assert witness["text"] == explain_outcome(sb, outcome, "tso").text
    # outcomes sequential consistency allows need no explanation
    assert len(found) == 2


def get_model_outcomes(program, model):
    from stressmm.models import get_model

    return get_model(model).allowed(program).outcomes


# ---------------------------------------------------------------- bad input and failed writes


@pytest.mark.parametrize("command", [["check", SB], ["run", SB, "--iterations", "1000"],
                                     ["fuzz", "--examples", "1"], ["replay", SB]])
@pytest.mark.parametrize("option", ["--report", "--junit"])
def test_bad_output_paths_are_usage_errors_before_any_work(command, option, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for bad, says in ((tmp_path, "is a directory"),
                      (tmp_path / "missing" / "out.html", "does not exist"),
                      (a_file / "out.html", "is a file, not a folder")):
        proc = stressmm(*command, option, bad, timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"argument {option}: {bad}" in proc.stderr and says in proc.stderr
        assert proc.stdout == ""   # nothing ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing left behind


def test_a_failed_write_at_the_end_loses_no_results(tmp_path, monkeypatch, capsys):
    """The folder of --report goes away during the work: the results are printed all the same,
    the error names the file, and the exit status is 2."""
    import shutil

    import stressmm.check
    from stressmm.cli import main

    folder = tmp_path / "out"
    folder.mkdir()
    real = stressmm.check.check

    def check_then_lose_the_folder(*a, **kw):
        shutil.rmtree(folder, ignore_errors=True)
        return real(*a, **kw)

    monkeypatch.setattr(stressmm.check, "check", check_then_lose_the_folder)
    status = main(["check", str(SB), "--report", str(folder / "r.html"),
                   "--junit", str(tmp_path / "ok.xml")])
    out, err = capsys.readouterr()
    assert status == 2
    assert "1 tests, " in out and "expect tso: allowed" in out      # the results, printed
    assert f"could not write the report {folder / 'r.html'}" in err
    valid_junit(tmp_path / "ok.xml")                                 # the other file is written


# ---------------------------------------------------------------- progress


def test_plain_progress_lines_when_not_a_terminal():
    from stressmm.reports.progress import over

    ticks = iter(range(100))
    log = io.StringIO()
    assert list(over("abcd", "run", "tests", stream=log, every=2, clock=lambda: next(ticks))) == list("abcd")
    assert log.getvalue().splitlines() == ["run: 2/4 tests, 0:02 elapsed", "run: 4/4 tests, 0:04 elapsed"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_live_bar_on_a_terminal(capsys):
    from stressmm.reports.progress import over

    term = _Terminal()
    for item in over(range(3), "check", "tests", stream=term):
        print(f"result {item}")
    assert "check:   0%|" in term.getvalue() and "0/3" in term.getvalue()   # drawn by tqdm
    assert capsys.readouterr().out.splitlines() == ["result 0", "result 1", "result 2"]


def test_campaign_progress_bar_and_lines():
    from stressmm.campaign import CampaignResult
    from stressmm.reports.progress import CampaignProgress

    res = CampaignResult(examples=7, runs=140_000, elapsed=12.0)
    term = _Terminal()
    bar = CampaignProgress(minutes=1.0, examples=None, stream=term)
    bar(res)
    bar.close()
    assert "fuzz:" in term.getvalue() and "12/60s" in term.getvalue()
    assert "| 12/60s, 140,000 runs (11.7k/s), 0 counterexamples" in term.getvalue()
    log = io.StringIO()
    lines = CampaignProgress(minutes=1.0, examples=None, stream=log, every=10.0)
    lines(res)
    lines(CampaignResult(examples=8, runs=150_000, elapsed=13.0))   # within 10 s: no line
    assert log.getvalue().splitlines() == [
        "examples 7  runs 140,000 (11.7k/s)  elapsed 0:12  counterexamples 0  worker failures 0"]


def test_check_over_many_files_shows_a_bar_on_a_terminal():
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "stressmm", "check", str(SCENARIOS / "classic")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
                            cwd=ROOT)
    os.close(follower)
    shown, deadline = b"", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the command ended and closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=60)[0]
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"check:" in shown and b"tests" in shown and b"%|" in shown   # tqdm's bar
    assert b"SB" in out and b"check:" not in out                        # results on stdout only
