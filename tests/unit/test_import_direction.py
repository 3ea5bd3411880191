"""Imports point one way: serve -> pipeline, embedding -> vectors, never back.

Read from the source (every ``import`` and ``from ... import``, lazy ones inside
functions included), so a new import against the direction fails here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _offenders(package: str, forbidden: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        bad = [m for m in _imports(path) if m == forbidden or m.startswith(forbidden + ".")]
        out += [f"{rel}: {m}" for m in bad]
    return out


def test_pipeline_never_imports_serve() -> None:
    assert _offenders("pipeline", "serve") == []


def test_vectors_never_import_embedding() -> None:
    assert _offenders("pipeline/vectors", "pipeline.embedding") == []


def test_the_check_sees_an_offending_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from serve.app import build_deps\n")
    assert _imports(module) == {"serve.app"}
