"""Bad input of every kind gets a clear message naming the file and what to do; one bad file
among many does not stop the others; odds and ends of the command line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stressmm import cli
from stressmm.runtime import available_cpus

ROOT = Path(__file__).resolve().parent.parent
SB = ROOT / "scenarios" / "classic" / "SB.litmus"
TWO_CPUS = pytest.mark.skipif(len(available_cpus()) < 2,
                              reason="needs 2 CPUs to run two pinned program threads")

ONE_THREAD = "litmus Solo\nvar x int\nP0:\n  x = 1\n  r0 = x\nexists (P0:r0 == 1)\nexpect sc: allowed\n"
TYPO = ("litmus SB\nvar x, y int\nP0:\n  x = 1\n  r0 = y\nP1:\n  y = 1\n  r1 = x\n"
        "exists (P0:r0 == 0 && P1:r1 == 0)\nexpect tso: allowed\nexpect sx: forbidden\n")
HERD = "C SB\n\n{ x=0; y=0; }\n\nP0 (int *x, int *y) {\n  WRITE_ONCE(*x, 1);\n}\n"


def stressmm(*args, input=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "stressmm", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, input=input)


def many_threads(n):
    body = "".join(f"P{i}:\n  r0 = x\n" for i in range(1, n))
    return f"litmus Wide\nvar x int\nP0:\n  x = 1\n{body}"


# ---------------------------------------------------------------- expect lines


def test_a_misspelled_model_in_expect_warns_with_its_line_and_a_suggestion(tmp_path):
    f = tmp_path / "typo.litmus"
    f.write_text(TYPO)
    proc = stressmm("check", f)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {f}:11: expect sx:" in proc.stderr
    assert "did you mean sc?" in proc.stderr


def test_strict_check_fails_on_an_unknown_model(tmp_path):
    f = tmp_path / "typo.litmus"
    f.write_text(TYPO)
    proc = stressmm("check", "--strict", f)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error:" in proc.stderr and "sx" in proc.stderr
    assert "unknown model" in proc.stdout
    assert stressmm("check", "--strict", SB).returncode == 0


# ---------------------------------------------------------------- many files


def test_check_reports_every_bad_file_and_still_checks_the_good_ones(tmp_path):
    (tmp_path / "a_bad.litmus").write_text("litmus A\nP0:\n  x = 1\n")
    (tmp_path / "b_good.litmus").write_text(ONE_THREAD)
    (tmp_path / "c_herd.litmus").write_text(HERD)
    proc = stressmm("check", tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path / 'a_bad.litmus'}:3:3" in proc.stderr
    assert f"{tmp_path / 'c_herd.litmus'}:6:3: stressmm does not read WRITE_ONCE" in proc.stderr
    assert "Solo" in proc.stdout and "1 tests" in proc.stdout


def test_run_refuses_a_program_wider_than_the_machine_before_running_anything(tmp_path):
    wide = tmp_path / "wide.litmus"
    wide.write_text(many_threads(len(available_cpus()) + 1))
    (tmp_path / "good.litmus").write_text(ONE_THREAD)
    (tmp_path / "bad.litmus").write_text("litmus B\nP0:\n  y = 1\n")
    proc = stressmm("run", tmp_path, "--iterations", "1000")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{wide}: Wide has" in proc.stderr and "--oversubscribe" in proc.stderr
    assert "oversubscribe=True" not in proc.stderr
    assert f"{tmp_path / 'bad.litmus'}:3:3" in proc.stderr
    # the errors come first, then the good test runs
    assert "Solo" in proc.stdout and "Wide" not in proc.stdout


# ---------------------------------------------------------------- file formats and paths


def test_a_herd_c_file_with_kernel_macros_names_the_first_one_it_cannot_read(tmp_path):
    f = tmp_path / "SB.litmus"
    f.write_text(HERD)
    proc = stressmm("check", f)
    assert proc.returncode == 2
    assert f"{f}:6:3: stressmm does not read WRITE_ONCE" in proc.stderr


def test_a_litmus7_file_of_another_architecture_gets_a_hint_that_it_is_another_format(tmp_path):
    f = tmp_path / "SB.litmus"
    f.write_text(HERD.replace("C SB", "X86 SB"))
    proc = stressmm("check", f)
    assert proc.returncode == 2
    assert "herd7/litmus7" in proc.stderr and "`litmus SB`" in proc.stderr


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    f = tmp_path / "bom.litmus"
    f.write_bytes(b"\xef\xbb\xbf" + ONE_THREAD.encode())
    proc = stressmm("check", f)
    assert proc.returncode == 0, proc.stderr
    assert "Solo" in proc.stdout


def test_dash_reads_standard_input():
    proc = stressmm("check", "-", input=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr
    assert "Solo" in proc.stdout and "<stdin>" in proc.stdout
    bad = stressmm("check", "-", input="litmus X\nP0:\n  z = 1\n")
    assert bad.returncode == 2 and "<stdin>:3:3" in bad.stderr


def test_process_substitution_paths_are_read(tmp_path):
    f = tmp_path / "solo.litmus"
    f.write_text(ONE_THREAD)
    proc = subprocess.run(["bash", "-c", f'"{sys.executable}" -m stressmm check <(cat "{f}")'],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Solo" in proc.stdout


# ---------------------------------------------------------------- options


def test_version():
    proc = stressmm("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("stressmm ")


@pytest.mark.parametrize("args,fragment", [
    (["fuzz", "--minutes", "0"], "a positive number of minutes"),
    (["run", str(SB), "--seconds", "0"], "a positive number of seconds"),
    (["check", str(SB), "--model", ""], "--model: give at least one model name"),
    (["check", str(SB), "--explain", ""], "--explain: give an outcome"),
    (["check", str(SB), "--explain", "  "], "--explain: give an outcome"),
    (["run", str(SB), "--iterations", "1.5"], "expected a positive integer, got '1.5'"),
])
def test_empty_or_wrong_option_values_are_errors(args, fragment):
    proc = stressmm(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert fragment in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("text,value", [("1e6", 1_000_000), ("1,000", 1000), ("2.5e3", 2500),
                                        ("1_000", 1000)])
def test_iterations_accept_scientific_and_grouped_numbers(text, value):
    args = cli.parser().parse_args(["run", "SB", "--iterations", text])
    assert args.iterations == value


def test_help_describes_paths_files_json_and_bundled_names():
    run_help = stressmm("run", "--help").stdout
    assert "bundled scenario" in run_help and "standard input" in run_help
    assert "stressmm run SB" in " ".join(run_help.split())
    assert "JSON" in run_help
    replay_help = " ".join(stressmm("replay", "--help").stdout.split())
    assert "counterexamples.jsonl" in replay_help and "JSON" in replay_help


def test_the_readme_documents_running_a_bundled_scenario_by_name():
    assert "stressmm run SB MP+close" in (ROOT / "README.md").read_text()


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "stressmm", "check", "-v"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()   # the reader leaves before anything is written, as `| head` does
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err
    assert err == ""


def test_mutants_json():
    proc = stressmm("mutants", "--json")
    assert proc.returncode == 0
    names = {m["name"] for m in json.loads(proc.stdout)["mutants"]}
    assert "sc-store-no-fence" in names


def test_bench_models_and_mutants_runs_both(monkeypatch, capsys):
    import stressmm.bench_fuzz
    import stressmm.bench_models
    import stressmm.bench_native

    ran = []

    def fake(name):
        def print_bench(quick=False, file=None):
            ran.append(name)
            print(f"{name} table", file=file)
            return [{"bench": name, "quick": quick}]
        return print_bench

    monkeypatch.setattr(stressmm.bench_models, "print_bench", fake("models"))
    monkeypatch.setattr(stressmm.bench_fuzz, "print_bench", fake("mutants"))
    monkeypatch.setattr(stressmm.bench_native, "print_bench", fake("native"))
    assert cli.main(["bench", "--models", "--mutants", "--quick", "--json"]) == 0
    out = capsys.readouterr()
    assert ran == ["models", "mutants"]
    assert json.loads(out.out) == {"models": [{"bench": "models", "quick": True}],
                                   "mutants": [{"bench": "mutants", "quick": True}]}
    assert "models table" in out.err and "mutants table" in out.err


def test_the_replay_command_is_shell_quoted():
    assert cli.replay_command("corpus dir/SB+sc-1.litmus") == \
        "stressmm replay 'corpus dir/SB+sc-1.litmus'"
