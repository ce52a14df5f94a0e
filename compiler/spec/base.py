"""What every spec section shares: the strict base model and the constrained scalar types."""

from __future__ import annotations

import difflib
import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .regions import REGIONS


class Strict(BaseModel):
    """Base of every spec section: unknown keys are errors and values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _known_region(value: str) -> str:
    if value not in REGIONS:
        close = difflib.get_close_matches(value, list(REGIONS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (see `servespec schema`)"
        raise ValueError(f"'{value}' is not an AWS region{hint}")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a CIDR block: {exc}") from None
    return value


Region = Annotated[
    str, AfterValidator(_known_region), Field(json_schema_extra={"enum": sorted(REGIONS)})
]
Cidr = Annotated[str, AfterValidator(_cidr)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", min_length=2, max_length=24)]
EnvName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$", min_length=2, max_length=12)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


GitHubHandle = Annotated[
    str, Field(pattern=r"^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
]
