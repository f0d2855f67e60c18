"""The bundled scenario library: every file parses, round-trips, is named after its file,
cites where its verdicts come from, and claims the published SC / x86-TSO verdicts."""
from __future__ import annotations

import pytest

from stressmm.outcome import witnesses
from stressmm.syntax import parse, parse_file, print_program, scenario_paths

PATHS = scenario_paths()
IDS = [f"{p.parent.name}/{p.stem}" for p in PATHS]

# The published verdicts of the weak outcome each classic test asks about (see the comments
# in each file for the source): every weak outcome is forbidden under SC; under x86-TSO only
# SB and R are allowed.
CLASSIC = {
    "SB": "allowed", "R": "allowed",
    "MP": "forbidden", "LB": "forbidden", "IRIW": "forbidden", "2+2W": "forbidden",
    "S": "forbidden", "WRC": "forbidden", "CoRR": "forbidden", "CoWW": "forbidden",
    "SB+mfences": "forbidden", "SB+sc": "forbidden", "MP+lock": "forbidden",
}
GO = {"Ready+plain", "Ready+atomic", "MP+close", "MP+unbuffered", "MP+unbuffered-recv",
      "Ready+mutex", "Ready+rwmutex", "MP+once", "MP+waitgroup", "Close+twice",
      "Deadlock+lockorder", "MP+buffered", "Chan+kC", "Close+zero", "SB+atomics",
      "Atomic+lost-update", "Atomic+add", "TOCTOU+atomic", "TOCTOU+cas", "WG+reuse",
      "Deadlock+rwmutex-writer", "Counter+lock", "MP+unlock-elsewhere", "Deadlock+rlock-twice",
      "RLock+twice", "Atomic+load-plain-store", "Publish+chan", "Publish+atomic-flag"}
C11 = {"SB", "SB+rel-acq", "SB+sc", "SB+fences", "MP", "MP+rel-acq", "MP+fences", "MP+plain",
       "LB", "IRIW+acq", "IRIW+sc", "IRIW+fences", "2+2W", "2+2W+sc", "WRC", "WRC+rlx", "R",
       "R+sc", "S", "S+rlx", "Counter+fetch-add", "MP+acq+na", "MP+rlx+na"}
SOURCES = ("Intel SDM", "x86-TSO", "Herding cats", "The Go Memory Model",
           "The Go Programming Language Specification", "System Deadlocks",
           "Repairing Sequential Consistency in C/C++11", "Lahav et al.",
           "Go sync package documentation")


def the_program(path):
    programs = parse_file(path)
    assert len(programs) == 1, f"{path}: one test per file"
    return programs[0]


def verdict(program, model_name):
    return {e.verdict for e in program.expects if e.model == model_name}


def test_the_library_holds_the_required_scenarios():
    by_folder = {}
    for p in PATHS:
        by_folder.setdefault(p.parent.name, set()).add(p.stem)
    assert by_folder["classic"] == set(CLASSIC)
    assert by_folder["go"] == GO
    assert by_folder["c11"] == C11


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_scenario_parses_and_round_trips(path):
    program = the_program(path)
    assert program.name == path.stem
    assert program.description
    text = print_program(program)
    assert parse(text) == [program]
    assert print_program(parse(text)[0]) == text


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_scenario_says_where_its_verdicts_come_from(path):
    comments = " ".join(line.lstrip("# ") for line in path.read_text().splitlines()
                        if line.startswith("#"))
    assert "Verdicts:" in comments, f"{path}: add a `# Verdicts: ...` comment"
    assert any(source in comments for source in SOURCES), f"{path}: cite the source by name"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_scenario_states_sc_and_tso_verdicts_for_its_condition(path):
    program = the_program(path)
    assert program.condition is not None
    for model in ("sc", "tso"):
        assert verdict(program, model) & {"allowed", "forbidden"}, f"{path}: expect {model}"


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_classic_verdicts_are_the_published_ones(name):
    [path] = [p for p in PATHS if p.parent.name == "classic" and p.stem == name]
    program = the_program(path)
    assert verdict(program, "sc") == {"forbidden"}
    assert verdict(program, "tso") == {CLASSIC[name]}


def test_classic_tests_need_final_memory_where_one_thread_alone_cannot_tell():
    finals = {p.stem: print_program(the_program(p)) for p in PATHS if p.parent.name == "classic"}
    assert "exists (x == 1 && y == 1)" in finals["2+2W"]
    assert "exists (x == 1)" in finals["CoWW"]
    assert "exists (y == 2 && P1:r0 == 0)" in finals["R"]
    assert "exists (x == 2 && P1:r0 == 1)" in finals["S"]
    assert "exists (P1:r0 == 1 && P1:r1 == 0)" in finals["CoRR"]


try:
    from stressmm.models import get_model
except ImportError:  # pragma: no cover - the models are built in parallel
    get_model = None


@pytest.mark.skipif(get_model is None, reason="stressmm.models is not available")
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_sc_tso_and_c11_models_agree_with_the_expect_lines(path):
    program = the_program(path)
    for e in program.expects:
        if e.model not in ("sc", "tso", "c11"):
            continue
        outcomes = get_model(e.model).allowed(program).outcomes
        if e.verdict in ("allowed", "forbidden"):
            seen = any(witnesses(program.condition, o) for o in outcomes)
            assert seen == (e.verdict == "allowed"), f"{path.stem}: {e.model} {e.verdict}"
        elif e.verdict == "deadlock":
            assert any("deadlock" in o.flags for o in outcomes), f"{path.stem}: {e.model}"
        else:
            races = get_model(e.model).allowed(program).races
            assert bool(races) == (e.verdict == "race"), f"{path.stem}: {e.model} {e.verdict}"
