"""Build of the C extension stressmm._native (the rest of the metadata is in pyproject.toml)."""
from setuptools import Extension, setup

NATIVE_SOURCES = ["stressmm/_native/module.c"]

setup(
    ext_modules=[
        Extension(
            "stressmm._native",
            sources=NATIVE_SOURCES,
            depends=["stressmm/_native/stressmm.h", "stressmm/_native/atomic_cell.c",
                     "stressmm/_native/executor.c", "stressmm/_native/sync.c",
                     "stressmm/_native/impl.c", "stressmm/include/stressmm_impl.h"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            extra_link_args=["-pthread"],
        )
    ]
)
