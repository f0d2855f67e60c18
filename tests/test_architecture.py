"""The parts depend on each other one way (docs/architecture.md): every module's imports,
including those inside functions, point down the layers. The docs name every module."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module may import modules of lower layers and of its own part.
LAYERS = [
    {"program", "schedule", "_native", "interrupt"},
    {"syntax", "outcome", "contracts"},
    {"models", "runtime", "strategies", "herd_c"},
    {"check", "judge"},
    {"fuzz", "report", "go_judge"},
    {"go_fuzz"},
    {"campaign", "bench_models", "bench_native", "bench_impl", "reports"},
    {"bench_fuzz", "bench_go"},
    {"cli", "pytest_plugin", "__init__"},
    {"__main__"},
]
LAYER = {part: n for n, parts in enumerate(LAYERS) for part in parts}

# Inside models/, lowest first: the search and relation algebra, the machines, the shared
# interface, the shared explainer, the builders, go's explainer, then the model files (a
# model's rules), which nothing but the package imports: a builder or an explainer gets the
# rules from the model object it is given.
MODEL_LAYERS = [
    {"explorer", "graph"},
    {"machine"},
    {"base"},
    {"explain"},
    {"build", "go_build"},
    {"go_explain"},
    {"go", "rc11", "sc", "tso"},
    {"__init__"},
]
MODEL_LAYER = {name: n for n, names in enumerate(MODEL_LAYERS) for name in names}


def modules():
    """(part, path) of every Python module of the package and the strategies."""
    for path in sorted((ROOT / "stressmm").rglob("*.py")):
        rel = path.relative_to(ROOT / "stressmm").parts
        yield (rel[0][:-3] if len(rel) == 1 else rel[0]), path
    for path in sorted((ROOT / "strategies").rglob("*.py")):
        yield "strategies", path


def imported_parts(path):
    """The stressmm parts a module imports, wherever the import statement is."""
    if path.is_relative_to(ROOT / "strategies"):
        package = ["stressmm", "strategies", *path.relative_to(ROOT / "strategies").parts[:-1]]
    else:
        package = ["stressmm", *path.relative_to(ROOT / "stressmm").parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name.split(".") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            # `from . import x` and `from stressmm import strategies` name parts in the aliases
            targets = ([module + [a.name] for a in node.names] if len(module) == 1
                       else [module])
        else:
            continue
        for target in targets:
            if target[0] == "stressmm" and len(target) > 1:
                yield target[1]


@pytest.mark.parametrize("part,path", list(modules()), ids=lambda v: str(v).split("/")[-1])
def test_imports_point_down_the_layers(part, path):
    for used in imported_parts(path):
        if used == part or used == "__version__":
            continue
        assert used in LAYER, f"{path}: imports stressmm.{used}, which no layer lists"
        assert LAYER[used] < LAYER[part], (
            f"{path} ({part}, layer {LAYER[part]}) imports stressmm.{used} (layer {LAYER[used]}):"
            f" dependencies must point down (docs/architecture.md)")


def models_imported(path):
    """The files of models/ that a file of models/ imports (`from .x import`, anywhere)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            yield from ([node.module.split(".")[0]] if node.module
                        else [a.name for a in node.names])


@pytest.mark.parametrize("path", sorted((ROOT / "stressmm" / "models").glob("*.py")),
                         ids=lambda p: p.name)
def test_inside_models_the_rules_sit_on_top_of_the_shared_builders_and_explainers(path):
    me = path.stem
    assert me in MODEL_LAYER, f"{path.name} is in no layer of MODEL_LAYERS"
    for used in models_imported(path):
        assert used in MODEL_LAYER, f"{path.name} imports models/{used}.py, in no layer"
        assert MODEL_LAYER[used] < MODEL_LAYER[me], (
            f"{path.name} imports {used}.py: inside models/, imports point down MODEL_LAYERS "
            f"(docs/architecture.md)")


def test_the_architecture_doc_names_every_module_and_the_readme_links_it():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for part, path in modules():
        if path.name in ("__init__.py", "__main__.py", "_knobs.py"):
            continue
        assert path.name in doc, f"docs/architecture.md does not say where {path.name} fits"
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()


def test_the_docs_cite_only_files_in_the_repository():
    import re

    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for cited in re.findall(r"\b([A-Za-z_][A-Za-z_-]*\.md)\b", doc.read_text()):
            assert list(ROOT.rglob(cited)), f"{doc.name} cites {cited}, which is not in the repository"


def test_every_package_is_installed():
    """pyproject lists its packages by hand: a package missing there is missing from a wheel
    (and so from every user's install), though the editable install of the tests has it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("stressmm", *p.parent.relative_to(ROOT / "stressmm").parts))
             for p in (ROOT / "stressmm").rglob("__init__.py")}
    found |= {".".join(("stressmm.strategies", *p.parent.relative_to(ROOT / "strategies").parts))
              for p in (ROOT / "strategies").rglob("__init__.py")}
    assert found - listed == set()
