"""docs/configuration.md lists every setting with its current default and rule."""

from __future__ import annotations

from pipeline.settings import _GROUPS
from pipeline.settings_doc import DOC, env_vars, markdown


def test_configuration_doc_is_what_the_settings_generate() -> None:
    assert DOC.read_text() == markdown(), "run: .venv/bin/python -m pipeline.settings_doc"


def test_every_variable_is_listed_once() -> None:
    names = [name for name, _ in env_vars()]
    assert len(names) == len(set(names)) == sum(len(g.model_fields) for g in _GROUPS.values())
    text = markdown()
    assert all(f"| `{name}` |" in text for name in names)
    assert "| `REDIS_NAMESPACE` | `cs` |" in text
