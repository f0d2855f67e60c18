"""Opening a report in a real headless browser (Chromium) and reading what a person sees."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless browser tests need Chromium (Debian: apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
         "--no-first-run", "--disable-extensions", "--disable-background-networking"]

# Run inside the page after layout: the text a person sees (innerText skips what CSS hides)
# and, per test and counterexample, every table row with its cells and the drawn bar's width.
PROBE = """<script>
(function () {
  function rows(box) {
    return Array.from(box.querySelectorAll("table.histogram tr:not(.explanations), table.outcomes tr:not(.explanations)")).map(function (tr) {
      var bar = tr.querySelector(".bar");
      return {cells: Array.from(tr.cells).map(function (c) { return c.innerText.trim(); }),
              never: tr.classList.contains("never"),
              bar: bar ? bar.getBoundingClientRect().width : null};
    });
  }
  // the collapsed explanations under the outcome rows: their summary, and what shows of them
  function explanations(box) {
    return Array.from(box.querySelectorAll("details.explanation")).map(function (d) {
      return {summary: d.querySelector("summary").innerText.trim(), open: d.open,
              shown: d.innerText.trim(), text: d.textContent};
    });
  }
  var out = {text: document.body.innerText, tests: {}, counterexamples: []};
  document.querySelectorAll("section.test").forEach(function (s) {
    var name = s.querySelector("h2").innerText.replace(" FAILED", "").trim(), key = name;
    for (var n = 2; key in out.tests; n++) key = name + " #" + n;   // two files, one test name
    out.tests[key] = {rows: rows(s), text: s.innerText, explanations: explanations(s)};
  });
  document.querySelectorAll(".counterexample").forEach(function (c) {
    var bar = c.querySelector(".bar");
    out.counterexamples.push({text: c.innerText, bar: bar ? bar.getBoundingClientRect().width : null});
  });
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
</script>"""


class _ProbeReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.probe = None

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.probe = dict(attrs).get("data-probe")


def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def what_a_person_sees(report: Path, tmp_path: Path) -> dict:
    """Load `report` in headless Chromium (a copy with PROBE added) and return what it shows."""
    probed = tmp_path / f"probed-{report.name}"
    probed.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    proc = _chromium("--dump-dom", "--virtual-time-budget=5000", probed.as_uri())
    reader = _ProbeReader()
    reader.feed(proc.stdout)
    assert reader.probe, f"Chromium showed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(reader.probe)


def screenshot(report: Path, png: Path, height: int = 2400) -> Path:
    """A screenshot of the top of `report`, as a person opening it would see it."""
    proc = _chromium(f"--screenshot={png}", f"--window-size=1300,{height}", report.as_uri())
    assert png.exists() and png.stat().st_size > 10_000, proc.stderr[-2000:]
    return png
