"""Read capture records (JSON Lines) from files, directories or s3:// prefixes.

A record that is not a JSON object with a known ``type`` is an error naming its file and
line: a report computed over silently skipped lines would be a wrong report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

Record = dict[str, Any]
TYPES = ("request", "feedback")


class RecordError(ValueError):
    """A capture source is missing or holds a line that is not a capture record."""


def read_records(sources: Iterable[str], endpoint_url: str | None = None) -> list[Record]:
    records: list[Record] = []
    for source in sources:
        for name, text in _texts(source, endpoint_url):
            records.extend(parse_lines(name, text))
    return records


def parse_lines(name: str, text: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RecordError(f"{name}:{number}: not JSON: {exc}") from None
        if not isinstance(record, dict) or record.get("type") not in TYPES:
            raise RecordError(f"{name}:{number}: not a capture record (type request|feedback)")
        if not isinstance(record.get("id"), str):
            raise RecordError(f"{name}:{number}: id: missing or not a string")
        yield record


def _texts(source: str, endpoint_url: str | None) -> Iterator[tuple[str, str]]:
    if source.startswith("s3://"):
        yield from _s3_texts(source, endpoint_url)
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
    elif path.is_file():
        files = [path]
    else:
        raise RecordError(f"{source}: no such file or directory")
    for file in files:
        yield str(file), file.read_text(encoding="utf-8")


def _s3_texts(uri: str, endpoint_url: str | None) -> Iterator[tuple[str, str]]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        for key in keys:
            if key.endswith(".jsonl"):
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
                yield f"s3://{bucket}/{key}", body.decode("utf-8")
    except (BotoCoreError, ClientError) as exc:
        raise RecordError(f"{uri}: {exc}") from None
