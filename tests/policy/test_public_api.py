"""The package's public names: sorted, complete, importable, documented."""

from __future__ import annotations

import inspect

import asterisk_textback.policy as policy


def test_all_is_sorted_and_importable() -> None:
    assert policy.__all__ == sorted(policy.__all__, key=lambda n: (not n.isupper(), n))
    for name in policy.__all__:
        assert hasattr(policy, name), name


def test_every_public_class_and_function_has_a_docstring() -> None:
    for name in policy.__all__:
        obj = getattr(policy, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), name
