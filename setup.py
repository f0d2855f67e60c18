"""Build of the C extension stressmm._native (the rest of the metadata is in pyproject.toml)."""
import runpy
from pathlib import Path

from setuptools import Extension, setup

SOURCES = runpy.run_path("stressmm/runtime/native_sources.py")
DIGEST = SOURCES["source_digest"](Path(__file__).resolve().parent)

setup(
    ext_modules=[
        Extension(
            "stressmm._native",
            sources=[SOURCES["MAIN"]],
            depends=list(SOURCES["DEPENDS"]),
            define_macros=[("MM_SOURCE_DIGEST", '"%s"' % (DIGEST or ""))],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            extra_link_args=["-pthread"],
        )
    ]
)
