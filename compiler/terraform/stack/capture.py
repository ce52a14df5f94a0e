"""Where the runtime writes capture records, and the learning loop's runtime variables.

A builder (not a view): the container (container.py) and experiment.tf both need these.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Template, Value
from runtime import emf

from . import common

CAPTURE_BUCKET = "${local.name}-capture-${local.account_id}"
CAPTURE_PREFIX = "capture/"


def capture_uri() -> Template:
    return Template(f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}")


def runtime_variant(spec: ResolvedSpec, variant: str) -> str:
    """The variant name one service's runtime reports (its header, capture records and the
    EMF ``Variant`` dimension its queue-depth scaling reads): what ``environment`` sets as
    SERVESPEC_VARIANT, else the runtime's default."""
    return variant if _names_variant(spec, variant) else emf.DEFAULT_VARIANT


def _names_variant(spec: ResolvedSpec, variant: str) -> bool:
    return bool(spec.variants and variant)


def environment(spec: ResolvedSpec, variant: str) -> dict[str, Value]:
    """Variables for the runtime of one variant (empty name: the DR stack's single service)."""
    values: dict[str, Value] = {}
    if _names_variant(spec, variant):
        values["SERVESPEC_VARIANT"] = variant
        # Names only: a weight shift must not change (and restart) every task definition.
        values["SERVESPEC_VARIANTS"] = ",".join(v.name for v in spec.variants)
    capture = spec.observability.capture
    if capture.enabled:
        values["SERVESPEC_CAPTURE_URI"] = capture_uri()
        values["SERVESPEC_CAPTURE_SAMPLE_PERCENT"] = str(capture.sample_percent)
        values["SERVESPEC_CAPTURE_KEEP_TEXT"] = "true" if capture.keep_text else "false"
        # The alias ARN is known before the key exists (container definitions stay literal).
        values["SERVESPEC_CAPTURE_KMS_KEY_ID"] = common.arn(
            "kms", "alias/${local.name}", spec.region
        )
    return values
