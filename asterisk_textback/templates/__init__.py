"""Text templates: sandboxed rendering, A/B variants, opt-out footer and SMS segment counts."""

# Re-exports stop at modules without jinja2: ``render`` and ``preview`` are imported from
# where they are defined, so that reading ``templates.settings`` (config) stays light.

from asterisk_textback.templates.context import (
    MessageContext,
    clean_name,
    context_from_call,
    first_name,
    sample_context,
)
from asterisk_textback.templates.defaults import DEFAULT_FOOTER, DEFAULT_TEMPLATES
from asterisk_textback.templates.footer import needs_footer, with_footer
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
    "MessageContext",
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
    "is_gsm7",
    "needs_footer",
    "pick_index",
    "sample_context",
    "smart_encode",
    "with_footer",
]
