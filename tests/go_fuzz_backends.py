"""Go backends with a planted bug, loaded by spec (`path/to/go_fuzz_backends.py:factory`) in the
campaign tests of tests/test_go_fuzz.py: a campaign must find each bug and report it.

Each keeps `spec` equal to the spec it is loaded by (this file's absolute path), so campaign
workers see it as the Go backend it is (batched builds, the race detector's findings)."""
import re
from pathlib import Path

from stressmm.runtime.go import GoBackend, make_backend

HERE = str(Path(__file__).resolve())


def _like(base: GoBackend, cls, name: str, note: str):
    planted = object.__new__(cls)
    planted.__dict__.update(base.__dict__)
    planted.spec = f"{HERE}:{name}"
    planted.name = f"{base.name} ({note})"
    return planted


class PlantedLoadBug(GoBackend):
    """gc, but every plain load into a register reads one more than memory holds: a read
    sees a value no write wrote, which the go model forbids."""

    def source(self, generated) -> str:
        return re.sub(r"^(\s+r\d+ = s\.\w+)(\s+//)", r"\1 + 1\2", generated.source, flags=re.M)


class BrokenCodegen(GoBackend):
    """gc, but the generated code does not compile: campaigns must report the compiler's
    message with the program, never skip it."""

    def source(self, generated) -> str:
        return generated.source + "\nfunc broken() { undefinedName() }\n"


class BlindDetector(GoBackend):
    """A race detector that never reports: gc built without -race, judged as go-race. Every
    race the go model predicts is missed."""


def planted_load_bug() -> PlantedLoadBug:
    return _like(make_backend("go", iteration_budget=10.0), PlantedLoadBug, "planted_load_bug",
                 "planted: plain loads read one more")


def broken_codegen() -> BrokenCodegen:
    return _like(make_backend("go"), BrokenCodegen, "broken_codegen",
                 "planted: code that does not compile")


def blind_detector() -> BlindDetector:
    planted = _like(make_backend("go", iteration_budget=10.0), BlindDetector, "blind_detector",
                    "planted: a race detector that never reports")
    planted.race = True
    return planted
