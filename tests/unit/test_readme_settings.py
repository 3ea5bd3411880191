"""Every setting is documented in the README, with its current default."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings_doc import END, START, markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_variable_with_its_default() -> None:
    text = README.read_text()
    assert START in text and END in text
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == markdown(), "run: .venv/bin/python -m pipeline.settings_doc"
