"""The code's shape: data flows one way, so no module imports another that imports it back, and
the builder, command line, report and benchmarks never branch on a particular game."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "gangames"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every gangames module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("gangames")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_two_modules_import_each_other():
    edges = graph()
    mutual = sorted({tuple(sorted((a, b))) for a, targets in edges.items() for b in targets if a in edges.get(b, ())})
    assert mutual == []


def test_the_check_finds_a_mutual_import(tmp_path, monkeypatch):
    """The check above can fail: two modules that import each other are found."""
    package = tmp_path / "gangames"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from gangames import b\n")
    (package / "b.py").write_text("def f():\n    from gangames.a import x\n")
    monkeypatch.setattr(__import__(__name__), "SRC", package)
    edges = graph()
    assert "gangames.b" in edges["gangames.a"] and "gangames.a" in edges["gangames.b"]


GAME_NAMES = ("robust-w", "auction", "independent", "wgan-gp", "gan-gp", "dragan-ns", "minimax", "lsgan", "hinge")


@pytest.mark.parametrize("path", ["src/gangames/build.py", "src/gangames/cli.py", "src/gangames/api.py",
                                  *[str(p.relative_to(ROOT)) for p in (SRC / "reporting").glob("*.py")],
                                  *[str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("*.py")]])
def test_no_branch_on_a_game_name(path):
    """A game's name may appear as a default or in help text, never compared with a game (an
    expression that mentions ``game``: ``cfg.game.name == "robust-w"``, ``"auction" in games``)."""
    tree = ast.parse((ROOT / path).read_text())
    branches = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if not any("game" in ast.unparse(side) for side in sides):
                continue
            for side in sides:
                values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                branches += [v.value for v in values if isinstance(v, ast.Constant) and v.value in GAME_NAMES]
    assert branches == [], f"{path} compares against game names {branches}"
