"""Ready objects for the template tests: settings, a compiled renderer, sample data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from asterisk_textback.templates import MessageContext, TemplatesSettings, sample_context
from asterisk_textback.templates.render import Renderer, validate
from tests.dbfixtures import (  # noqa: F401 - fixtures are found by name
    backend,
    db_url,
    engine,
    pg_migrated,
    pg_server,
    session_factory,
    sqlite_migrated,
)

MakeSettings = Callable[..., TemplatesSettings]


def _only(*bodies: str, **options: Any) -> TemplatesSettings:
    variants = [{"name": f"v{i}", "body": body} for i, body in enumerate(bodies)]
    return TemplatesSettings.model_validate(
        {"include_defaults": False, "t": {"variants": variants}, **options}
    )


@pytest.fixture
def make_settings() -> MakeSettings:
    """A factory: settings holding one template ``t`` whose variants have the given bodies."""
    return _only


@pytest.fixture
def settings() -> TemplatesSettings:
    """The built-in defaults."""
    return TemplatesSettings()


@pytest.fixture
def sample() -> MessageContext:
    """The fixed sample caller."""
    return sample_context()


@pytest.fixture
def renderer(settings: TemplatesSettings) -> Renderer:
    """The defaults, validated and compiled."""
    return validate(settings)
