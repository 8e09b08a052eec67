"""Text templates: sandboxed rendering, A/B variants, opt-out footer and SMS segment counts."""

from asterisk_textback.templates.context import (
    MessageContext,
    clean_name,
    context_from_call,
    first_name,
    sample_context,
)
from asterisk_textback.templates.defaults import DEFAULT_FOOTER, DEFAULT_TEMPLATES
from asterisk_textback.templates.footer import needs_footer, with_footer
from asterisk_textback.templates.preview import PreviewRow, format_table, preview_rows
from asterisk_textback.templates.render import VARIABLES, RenderedText, Renderer, validate
from asterisk_textback.templates.segments import SegmentInfo, count_segments, is_gsm7, smart_encode
from asterisk_textback.templates.settings import (
    TemplateSettings,
    TemplatesSettings,
    VariantSettings,
)
from asterisk_textback.templates.variants import assign_variant, bucket, pick_index

__all__ = [
    "DEFAULT_FOOTER",
    "DEFAULT_TEMPLATES",
    "VARIABLES",
    "MessageContext",
    "PreviewRow",
    "RenderedText",
    "Renderer",
    "SegmentInfo",
    "TemplateSettings",
    "TemplatesSettings",
    "VariantSettings",
    "assign_variant",
    "bucket",
    "clean_name",
    "context_from_call",
    "count_segments",
    "first_name",
    "format_table",
    "is_gsm7",
    "needs_footer",
    "pick_index",
    "preview_rows",
    "sample_context",
    "smart_encode",
    "validate",
    "with_footer",
]
