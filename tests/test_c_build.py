"""The C sources build warning-free, and run clean under AddressSanitizer and UBSan."""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "stressmm" / "_native" / "module.c"
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")


def _includes():
    return ["-I" + sysconfig.get_paths()["include"], "-I" + str(MODULE.parent)]


@needs_gcc
def test_module_compiles_with_all_warnings_as_errors():
    cmd = [GCC, "-Wall", "-Wextra", "-Werror", "-std=gnu11", "-fsyntax-only", *_includes(),
           str(MODULE)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _libasan():
    out = subprocess.run([GCC, "-print-file-name=libasan.so"], capture_output=True, text=True)
    path = out.stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


SANITIZED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])            # the sanitized build of stressmm._native
    import _native
    import stressmm
    sys.modules["stressmm._native"] = _native
    stressmm._native = _native
    from stressmm.program import Program, Var, Thread, Store, Load, Rmw, RmwOp, Await, Order
    from stressmm.runtime.native import run
    from stressmm.schedule import Schedule
    R = Order.RELAXED
    sb = Program("SB", (Var("x", atomic=True), Var("y", atomic=True)), (
        Thread((Store("x", 1, R), Load("r0", "y", R))),
        Thread((Store("y", 1, R), Load("r1", "x", R)))))
    for layout in ("spread", "packed"):
        h = run(sb, iterations=20000, schedule=Schedule(layout=layout, batch=37, delays=((0, 3),)))
        assert h.total == 20000, h.total
    many = Program("many", (Var("x", atomic=True),), (Thread(tuple(
        Rmw(f"r{i}", "x", RmwOp.ADD, i, order=R) for i in range(40))),))
    assert run(many, iterations=5000).total == 5000
    stuck = Program("stuck", (Var("x", atomic=True),), (Thread((Await("x", 1, R),)),))
    assert run(stuck, iterations=3).total == 3
    from stressmm.program import (Chan, Close, Mutex, Once, OnceDo, Recv, Send, Lock, Unlock,
                                  WaitGroup, WgAdd, WgDone, WgWait)
    from stressmm.outcome import Outcome
    go = Program("go", (Var("d"), Chan("u", 0), Chan("b", 3), Mutex("m"), Once("o"),
                        WaitGroup("wg")), (
        Thread((Store("d", 1), WgAdd("wg", 1), Send("u", 1), Send("b", 2), OnceDo("o", (
            Store("d", 2),)), Lock("m"), Unlock("m"), WgWait("wg"), Close("b"))),
        Thread((Recv("u", "r0"), Load("r1", "d"), Recv("b", "r2", "ok"), Lock("m"),
                Unlock("m"), OnceDo("o", (Store("d", 3),)), WgDone("wg")))))
    for layout in ("spread", "packed"):
        h = run(go, iterations=20000, schedule=Schedule(layout=layout, batch=37))
        assert h.total == 20000, h.total
    flagged = Program("flagged", (Chan("c", 0),), (Thread((Close("c"), Close("c"))),
                                                   Thread((Send("c", 1),))))
    assert run(flagged, iterations=2000).total == 2000
    dead = Program("dead", (Chan("c", 0),), (Thread((Recv("c"),)), Thread((Recv("c"),))))
    h = run(dead, iterations=500)   # timeout only if a thread was descheduled for long
    assert set(h.counts) <= {Outcome.flagged("deadlock"), Outcome.flagged("timeout")}, h.counts
    c = _native.AtomicCell(1)
    assert c.compare_exchange(1, 2, "acq_rel") == (True, 1)
    print("sanitized run ok")
""")


@needs_gcc
@pytest.mark.skipif(sys.platform != "linux", reason="the sanitizer run is set up for Linux")
def test_sanitized_build_runs_clean(tmp_path):
    libasan = _libasan()
    if libasan is None:
        pytest.skip("gcc has no AddressSanitizer runtime (libasan.so) here")
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    target = tmp_path / f"_native{ext}"
    build = [GCC, "-shared", "-fPIC", "-O1", "-g", "-std=gnu11", "-pthread",
             "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
             "-fno-omit-frame-pointer", *_includes(), str(MODULE), "-o", str(target)]
    done = subprocess.run(build, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    env = dict(os.environ, LD_PRELOAD=libasan,
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SANITIZED_RUN, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sanitized run ok" in done.stdout


def test_the_extension_in_use_was_built_from_the_sources_beside_it():
    # an editable install whose C files changed since `pip install -e .` must not run old code
    from stressmm import _native
    from stressmm.runtime.native_sources import source_digest

    assert _native.SOURCE_DIGEST == source_digest(ROOT), "rebuild with `pip install -e .`"


def test_a_change_to_the_c_sources_makes_the_old_extension_an_error_that_says_how_to_rebuild(
        tmp_path):
    from stressmm.runtime.native_sources import DEPENDS, MAIN, source_digest, stale_build

    for rel in (MAIN,) + DEPENDS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    built = source_digest(tmp_path)
    assert stale_build(built, tmp_path) is None
    with open(tmp_path / "stressmm/_native/sync.c", "a") as f:
        f.write("/* edited */\n")
    why = stale_build(built, tmp_path)
    assert why is not None and f"pip install -e {tmp_path}" in why and built in why
    (tmp_path / "stressmm/_native/impl.c").unlink()   # no sources beside it: an installed wheel
    assert stale_build(built, tmp_path) is None
