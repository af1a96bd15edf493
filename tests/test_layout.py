"""The package's layout: no import circle, every import pointing down the wings' order
(colorgan.WINGS), and function-local imports only for heavy optional libraries. Read from
the source with ast (nothing is imported), so it runs in a blink."""

import ast
from pathlib import Path


import colorgan

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "colorgan"
# Libraries a module may import inside a function, each with a comment saying why: optional
# or heavy ones that most runs never touch.
LAZY_OK = {"av", "ai_edge_litert", "google.colab", "tensorflow_datasets", "matplotlib",
           "numpy._core", "numpy.core", "selenium"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(colorgan module imported, line, inside a function) for every import in `path`."""
    tree = ast.parse(path.read_text())
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from colorgan.x import y`: y is a module when such a file exists, else a name in x
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        for name in names:
            if name == "colorgan" or name.startswith("colorgan."):
                found.append((name, node.lineno, id(node) in local))
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {name for name, _, _ in imports(p, known) if name != "colorgan"}
            for m, p in mods.items()}


def wing(module: str) -> str:
    """colorgan.serve.graph -> "serve"; ground modules (colorgan.fileio) -> "ground"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or parts[-1] in colorgan.WINGS else "ground"


RANK = {"ground": 0, **{w: i + 1 for i, w in enumerate(colorgan.WINGS)}}


def test_every_wing_is_a_folder_with_a_docstring_and_every_folder_a_wing():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert folders == set(colorgan.WINGS)
    for name in colorgan.WINGS:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and doc.startswith(f"{name}:"), name


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle (a -> b -> ... -> a) in the module graph, or None."""
    on_path, done = [], set()

    def visit(module):
        if module in on_path:
            return on_path[on_path.index(module):] + [module]
        if module in done:
            return None
        on_path.append(module)
        for dep in sorted(edges.get(module, ())):
            circle = visit(dep)
            if circle:
                return circle
        on_path.pop()
        done.add(module)
        return None

    for module in sorted(edges):
        circle = visit(module)
        if circle:
            return circle
    return None


def against_order(edges: dict[str, set[str]]) -> list[str]:
    """Every import that goes up the order ground < WINGS[0] < WINGS[1] < ..."""
    return [f"{m} ({wing(m)}) imports {dep} ({wing(dep)})"
            for m, deps in sorted(edges.items()) for dep in sorted(deps)
            if RANK[wing(dep)] > RANK[wing(m)]]


def test_no_import_circle():
    edges = graph()
    assert len(edges) > 40
    circle = find_circle(edges)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_imports_only_point_down_the_wings():
    against = against_order(graph())
    assert not against, "imports against the order " + " < ".join(RANK) + ":\n" + "\n".join(against)


def test_the_checks_see_a_circle_and_an_import_up_the_order():
    edges = {"colorgan.serve.graph": {"colorgan.models.networks", "colorgan.fileio"},
             "colorgan.models.networks": {"colorgan.models.layers"},
             "colorgan.models.layers": set(), "colorgan.fileio": set()}
    assert find_circle(edges) is None and against_order(edges) == []
    up = {**edges, "colorgan.models.layers": {"colorgan.serve.graph"}}
    assert find_circle(up) == ["colorgan.models.layers", "colorgan.serve.graph",
                               "colorgan.models.networks", "colorgan.models.layers"]
    assert against_order(up) == ["colorgan.models.layers (models) imports colorgan.serve.graph (serve)"]
    ground_up = {"colorgan.fileio": {"colorgan.data.decode"}, "colorgan.data.decode": set()}
    assert against_order(ground_up) == ["colorgan.fileio (ground) imports colorgan.data.decode (data)"]


def test_function_local_imports_are_only_heavy_optional_libraries_with_a_reason():
    known = set(modules())
    bad = []
    for module, path in modules().items():
        lines = path.read_text().splitlines()
        for name, line, local in imports(path, known):
            if local:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {name} imported inside a function")
        tree = ast.parse(path.read_text())
        for f in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(f):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    if name.startswith("colorgan"):
                        continue  # reported above
                    if not any(name == ok or name.startswith(ok + ".") for ok in LAZY_OK):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} inside a function")
                    elif "#" not in lines[node.lineno - 1] and "#" not in lines[node.lineno - 2]:
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} without a comment why")
    assert not bad, "\n".join(bad)


def test_every_agreement_test_named_in_conftest_exists():
    import conftest
    tests = Path(__file__).resolve().parent
    for entry in conftest.AGREEMENT:
        module, name = entry.split("::")
        assert f"\ndef {name}(" in (tests / module).read_text(), entry
