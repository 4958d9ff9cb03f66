"""/predict_csv's upload, streamed to disk: BentoML's own file input reads a whole upload
into memory and names its temporary file after the client's (a long name is a 500).

Starlette's form parser streams the multipart body (a file part spools to disk past
1 MB); the part is copied under a generated name, and the other fields are checked
against their choices. The guard in front bounds the body's size and time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from juice.adapters.asgi_guard import JSON, MULTIPART, BodyRefused, error_response

FILE = "file"
_COPY_BYTES = 1 << 20


@dataclass(frozen=True)
class Upload:
    path: Path  # the file, under a generated name
    options: dict[str, str]  # each option field's value (its first choice when not sent)


async def receive_upload(
    request: Request, folder: Path, choices: dict[str, tuple[str, ...]]
) -> Upload:
    """The upload's `file` saved in `folder`, and its option fields; BodyRefused (a 400
    that names the field) for anything else: no file, two files, unknown fields, a file
    sent as text, a value not among its choices, a malformed body. (The guard's bounds
    raise BodyRefused while the body streams in, too.)"""
    fields = {FILE, *choices}
    try:
        form = await request.form(max_files=1, max_fields=len(choices))
    except (MultiPartException, HTTPException) as error:  # Starlette raises the latter
        why = error.message if isinstance(error, MultiPartException) else error.detail
        raise _refused(FILE, f"{_usage(choices)} ({why})") from None
    try:
        files = form.getlist(FILE)
        unknown = sorted(set(form.keys()) - fields)
        if unknown:
            raise _refused(unknown[0], f"is not a field of this upload; {_usage(choices)}")
        if len(files) != 1 or not isinstance(files[0], UploadFile):
            raise _refused(FILE, _usage(choices))
        options = {}
        for name, allowed in choices.items():
            value = form.get(name, allowed[0])
            if value not in allowed:
                raise _refused(name, f"must be one of {', '.join(allowed)}")
            options[name] = str(value)
        path = folder / "upload.csv"
        with path.open("wb") as copy:
            shutil.copyfileobj(files[0].file, copy, _COPY_BYTES)
    finally:
        await form.close()
    return Upload(path, options)


def file_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """A file's bytes in chunks, then closed: a response streamed from disk."""
    with stream:
        while chunk := stream.read(_COPY_BYTES):
            yield chunk


def _usage(choices: dict[str, tuple[str, ...]]) -> str:
    others = ", ".join(f"`{name}`" for name in choices)
    return f"send the export as one file field `{FILE}` of a {MULTIPART} body" + (
        f" (other fields: {others})" if others else ""
    )


def _refused(field: str, rule: str) -> BodyRefused:
    return BodyRefused(error_response(400, field, rule))


def upload_openapi(summary: str, description: str, choices: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI path item of an upload route (BentoML documents only its own APIs)."""
    properties: dict[str, Any] = {FILE: {"type": "string", "format": "binary"}}
    properties |= {
        name: {"type": "string", "enum": list(allowed), "default": allowed[0]}
        for name, allowed in choices.items()
    }
    error = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/InvalidArgument"}}}}
    return {
        "post": {
            "summary": summary,
            "description": description,
            "operationId": "predict_csv",
            "requestBody": {
                "required": True,
                "content": {
                    MULTIPART: {
                        "schema": {"type": "object", "properties": properties, "required": [FILE]}
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "The rows with probability,will_buy",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "400": {"description": "Bad Request", **error},
            },
        }
    }
