"""The package exports a complete ``__all__``, sorted as ruff (isort style) sorts it."""

from __future__ import annotations

import asterisk_textback.templates as templates


def _isort_key(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions (ruff RUF022 / isort "order by type").
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_resolvable() -> None:
    assert templates.__all__ == sorted(templates.__all__, key=_isort_key)
    for name in templates.__all__:
        assert getattr(templates, name) is not None


def test_all_lists_every_public_name() -> None:
    public = {n for n in vars(templates) if not n.startswith("_")}
    modules = {
        "compose",
        "context",
        "defaults",
        "footer",
        "preview",
        "render",
        "segments",
        "settings",
    }
    assert public - modules - {"variants", "annotations"} == set(templates.__all__)
