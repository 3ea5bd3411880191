"""The configuration table of the README, made from the settings classes themselves.

``python -m pipeline.settings_doc`` prints it; a test checks the README lists every
variable, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from pipeline.settings import _GROUPS


def env_vars() -> list[tuple[str, str]]:
    """(variable, default) for every setting, in group order."""
    rows = []
    for group in _GROUPS.values():
        for name, field in group.model_fields.items():
            default = field.get_default(call_default_factory=True)
            if default is None or isinstance(default, SecretStr):
                shown = "unset"
            elif isinstance(default, tuple):
                shown = ",".join(default) or "empty"
            else:
                shown = str(getattr(default, "value", default))
            rows.append((group.env_name(name), shown))
    return rows


def markdown() -> str:
    lines = ["| variable | default |", "|---|---|"]
    lines += [f"| `{name}` | `{default}` |" for name, default in env_vars()]
    return "\n".join(lines)


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def update_readme(path: Path) -> bool:
    """Rewrite the table between the markers; True when it changed."""
    text = path.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{markdown()}\n{END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":  # pragma: no cover
    readme = Path(__file__).resolve().parent.parent / "README.md"
    print("updated" if update_readme(readme) else "up to date")  # noqa: T201
