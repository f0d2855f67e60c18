"""The bundled scenario library: classic litmus tests (classic/) and Go synchronisation
idioms (go/), one test per .litmus file; list them with `stressmm.syntax.scenario_paths()`."""
