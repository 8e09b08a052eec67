"""Compile templates once in a Jinja2 sandbox, render them, and validate them at config load.

Only the business's template bodies are ever compiled. Everything about the call — above all
the caller ID name, which anybody can set — reaches a template as a plain value, so text such
as ``{{7*7}}`` in a name is printed literally. The sandbox (immutable builtins, no default
globals, capped ``*`` and ``**``) and a static check of each template's syntax tree (unknown
variables, ``_private`` attributes) turn mistakes and escape attempts into a ``ConfigError``
naming the key, e.g. ``templates.busy.variants[1].body: undefined variable 'bookng_link'``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from asterisk_textback.errors import ConfigError
from asterisk_textback.templates.context import MessageContext, first_name, sample_context
from asterisk_textback.templates.footer import needs_footer, with_footer
from asterisk_textback.templates.segments import (
    SegmentInfo,
    count_segments,
    smart_encode,
    to_gsm7,
)
from asterisk_textback.templates.settings import TemplatesSettings, VariantSettings
from asterisk_textback.templates.variants import assign_variant

#: Names a template may use; see :meth:`MessageContext.variables`.
VARIABLES: Final = frozenset(sample_context().variables())
MAX_SEQUENCE: Final = 2000  # longest string or list `*` may build
MAX_EXPONENT: Final = 64
MAX_RENDERED_CHARS: Final = 1600  # 10 GSM-7 parts; carriers refuse longer anyway

_BLANKS = re.compile(r"[ \t]+")
_EXTRA_LINES = re.compile(r"\n{3,}")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` capped so a template cannot exhaust memory or CPU."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse huge repetitions and exponents, then apply the operator."""
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right!r} is too large (max {MAX_EXPONENT})")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE
                ):
                    raise SecurityError(f"repetition longer than {MAX_SEQUENCE} is refused")
        return super().call_binop(context, operator, left, right)


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False)
    # No range/dict/cycler/joiner/lipsum/namespace: nothing a text needs, less to attack.
    env.globals.clear()
    env.filters["first_name"] = first_name
    return env


def _variant_key(template: str, index: int) -> str:
    return f"templates.{template}.variants[{index}].body"


def _static_check(env: _Sandbox, source: str) -> tuple[nodes.Template, list[str]]:
    """Parse ``source``; list unknown variables and private attribute access anywhere in it."""
    tree = env.parse(source)
    problems: list[str] = []
    for name in sorted(meta.find_undeclared_variables(tree) - VARIABLES):
        hint = difflib.get_close_matches(name, sorted(VARIABLES), n=1)
        problems.append(
            f"undefined variable {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )
    if any(tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))):
        problems.append("extends, include and import are not allowed: a text is one template")
    if any(n.name == "self" for n in tree.find_all(nodes.Name)):
        problems.append("unsafe: 'self' (block references) is not available")
    private: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr: object = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value
        if isinstance(attr, str) and attr.startswith("_"):
            private.add(attr)
    if private:
        # Caught here even in branches the sample data does not take; the sandbox would
        # refuse them at render time anyway.
        names = ", ".join(repr(a) for a in sorted(private))
        problems.append(f"unsafe: access to private attribute {names} is refused")
    return tree, problems


def _describe(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"unsafe: {exc}"
    if isinstance(exc, UndefinedError):
        match = re.fullmatch(r"'(\w+)' is undefined", str(exc))
        return f"undefined variable {match.group(1)!r}" if match else f"undefined: {exc}"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.message}"
    return f"cannot render: {type(exc).__name__}: {exc}"


def _tidy(text: str) -> str:
    """Collapse runs of blanks and blank lines left by template tags; strip the ends."""
    lines = [_BLANKS.sub(" ", line).strip() for line in text.splitlines()]
    return _EXTRA_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True, slots=True)
class RenderedText:
    """A rendered text ready to send, with its variant and SMS size."""

    template: str
    variant: str
    hook: str | None
    cta: str | None
    body: str
    #: Whether the opt-out footer was appended.
    footer: bool
    info: SegmentInfo

    @property
    def encoding(self) -> str:
        """``"GSM-7"`` or ``"UCS-2"``."""
        return self.info.encoding

    @property
    def segments(self) -> int:
        """How many SMS parts the text takes."""
        return self.info.segments


@dataclass(frozen=True, slots=True)
class _Compiled:
    variant: VariantSettings
    key: str
    template: Template


class Renderer:
    """The templates of one configuration, compiled once; renders texts for calls."""

    def __init__(self, settings: TemplatesSettings) -> None:
        """Compile every variant; raise ConfigError listing every broken one by key."""
        self._settings = settings
        self._env = _environment()
        compiled: dict[str, tuple[_Compiled, ...]] = {}
        errors: list[str] = []
        for name, spec in settings.templates.items():
            variants: list[_Compiled] = []
            for index, variant in enumerate(spec.variants):
                key = _variant_key(name, index)
                try:
                    tree, problems = _static_check(self._env, variant.body)
                except TemplateError as exc:
                    errors.append(f"{key}: {_describe(exc)}")
                    continue
                errors.extend(f"{key}: {problem}" for problem in problems)
                if not problems:
                    variants.append(_Compiled(variant, key, self._env.from_string(tree)))
            compiled[name] = tuple(variants)
        if errors:
            raise ConfigError("; ".join(errors))
        self._compiled = compiled

    @property
    def settings(self) -> TemplatesSettings:
        """The settings these templates were compiled from."""
        return self._settings

    def __contains__(self, template: object) -> bool:
        """True when a template of that name exists."""
        return template in self._compiled

    def names(self) -> tuple[str, ...]:
        """The template names, in configuration order."""
        return tuple(self._compiled)

    def _variants(self, template: str) -> tuple[_Compiled, ...]:
        try:
            return self._compiled[template]
        except KeyError:
            raise ConfigError(f"templates.{template}: no such template") from None

    def variant_for(self, template: str, caller: str) -> VariantSettings:
        """The variant of ``template`` that ``caller`` (E.164) is assigned, deterministically."""
        variants = [c.variant for c in self._variants(template)]
        return assign_variant(self._settings.experiment_name(template), caller, variants)

    def render(
        self,
        template: str,
        context: MessageContext,
        *,
        first_contact: bool,
        variant: str | None = None,
    ) -> RenderedText:
        """Render ``template`` for the caller in ``context`` (or the named ``variant``)."""
        candidates = self._variants(template)
        chosen = variant or self.variant_for(template, context.caller_number).name
        try:
            compiled = next(c for c in candidates if c.variant.name == chosen)
        except StopIteration:
            raise ConfigError(f"templates.{template}: no variant named {chosen!r}") from None
        text = self._render(template, compiled, context, first_contact)
        if text.segments <= self._settings.max_segments or not context.caller_name:
            return text
        # The caller chose the name: it must not make the text longer than the business
        # allowed ("Zoë" turns a whole text into UCS-2). Spell it in GSM-7 when that is
        # faithful, else leave it out (validate() proved every text fits without a name).
        name = to_gsm7(context.caller_name)
        if name is not None and name != context.caller_name:
            spelled = self._render(
                template, compiled, replace(context, caller_name=name), first_contact
            )
            if spelled.segments <= self._settings.max_segments:
                return spelled
        return self._render(template, compiled, replace(context, caller_name=""), first_contact)

    def _render(
        self, template: str, compiled: _Compiled, context: MessageContext, first_contact: bool
    ) -> RenderedText:
        try:
            body = _tidy(compiled.template.render(context.variables()))
        except Exception as exc:
            # Whatever a template does wrong (a filter on the wrong type, a sandbox refusal)
            # is the configuration's fault; name the key instead of leaking a Jinja error.
            raise ConfigError(f"{compiled.key}: {_describe(exc)}") from exc
        if not body:
            raise ConfigError(f"{compiled.key}: renders to an empty text")
        if len(body) > MAX_RENDERED_CHARS:
            raise ConfigError(
                f"{compiled.key}: renders to {len(body)} characters (max {MAX_RENDERED_CHARS})"
            )
        footer = needs_footer(self._settings, first_contact=first_contact)
        text = with_footer(body, self._settings, first_contact=first_contact)
        if self._settings.smart_encoding:
            text = smart_encode(text)
        return RenderedText(
            template=template,
            variant=compiled.variant.name,
            hook=compiled.variant.hook,
            cta=compiled.variant.cta,
            body=text,
            footer=footer,
            info=count_segments(text),
        )


def validate(settings: TemplatesSettings, sample: MessageContext | None = None) -> Renderer:
    """Compile and render every variant with sample data; raise ConfigError naming each key."""
    # Worst case of what we will send: a first contact (footer on, when we add it), rendered
    # with the sample caller's name and without one; each must fit max_segments.
    renderer = Renderer(settings)
    sample = sample or sample_context()
    errors: list[str] = []
    for name, spec in settings.templates.items():
        for index, variant in enumerate(spec.variants):
            key = _variant_key(name, index)
            worst: RenderedText | None = None
            try:
                for ctx in (sample, replace(sample, caller_name="")):
                    text = renderer.render(name, ctx, first_contact=True, variant=variant.name)
                    if worst is None or text.segments > worst.segments:
                        worst = text
            except ConfigError as exc:
                errors.append(str(exc))
                continue
            if worst is not None and worst.segments > settings.max_segments:
                unit = "septets" if worst.encoding == "GSM-7" else "UTF-16 units"
                errors.append(
                    f"{key}: renders to {worst.segments} segments (max {settings.max_segments}):"
                    f" {worst.encoding}, {worst.info.units} {unit}"
                    + (" with the opt-out footer" if worst.footer else "")
                )
    if errors:
        raise ConfigError("; ".join(errors))
    return renderer
