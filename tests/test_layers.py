"""The package's shape: the import-linter contracts of pyproject.toml hold (layers; chapters independent of one
another), no module imports another module's private name, and no module grows past the size one reader holds."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sat_lib"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name of what an ``ImportFrom`` imports from (``from .x import y`` resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports() -> list[str]:
    """``from a.b import _c`` where ``_c`` is a name inside module ``a.b``, not a private submodule ``a.b._c``."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _absolute(module, path, node)
            if not source.startswith("sat_lib"):
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.startswith("__") and f"{source}.{name}" not in MODULES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {source}.{name}")
    return found


def test_no_module_imports_another_modules_private_name():
    assert private_imports() == []


def test_the_private_name_check_catches_one(monkeypatch):
    bad = PACKAGE / "_layers_probe_tmp.py"
    monkeypatch.setitem(MODULES, "sat_lib._layers_probe_tmp", bad)
    try:
        bad.write_text("from sat_lib.attacks import _flat_norm\nfrom sat_lib.corruptions import _noise\n")
        found = [f for f in private_imports() if "_layers_probe_tmp" in f]
    finally:
        bad.unlink()
    assert found == ["sat_lib/_layers_probe_tmp.py:1 imports sat_lib.attacks._flat_norm"]


def test_no_module_is_over_the_size_limit():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_import_contracts_hold(capsys):
    cli = pytest.importorskip("importlinter.cli")
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_every_chapter_module_is_in_the_independence_contract():
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (independent,) = [c for c in contracts if c["type"] == "independence"]
    chapters = {f"sat_lib.experiments.{p.stem}" for p in (PACKAGE / "experiments").glob("*.py")
                if not p.stem.startswith("_")}
    assert chapters == set(independent["modules"])
