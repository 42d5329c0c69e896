"""Spooling an uploaded file to disk in the data directory, straight from the request stream.

A multipart/form-data body is parsed as it arrives (python-multipart's streaming parser): the file part is
written to `<data_dir>/imports/` chunk by chunk, small form fields are kept in memory (each capped), so a
multi-gigabyte upload never sits in memory.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 1 << 20


class UploadError(ValueError):
    """An upload that cannot be accepted; `status` and `code` for the API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class Upload:
    """A spooled upload: the file on disk, its name and size, and the other form fields."""

    path: Path | None
    file_name: str | None
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        """Delete the spooled file (and a transcoded copy next to it)."""
        if self.path is not None:
            for candidate in self.path.parent.glob(self.path.name + "*"):
                candidate.unlink(missing_ok=True)


def spool_dir(data_dir: Path) -> Path:
    """Where uploads are spooled."""
    path = data_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_suffix(name: str | None) -> str:
    if not name:
        return ""
    match = re.search(r"(\.[A-Za-z0-9]{1,8}){1,2}$", name)
    return match.group(0).lower() if match else ""


class _Collector:
    def __init__(self, directory: Path, max_bytes: int, file_field: str) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.file_field = file_field
        self.headers: dict[str, str] = {}
        self._header_name = b""
        self._header_value = b""
        self.current_name: str | None = None
        self.current_file: IO[bytes] | None = None
        self.current_value = bytearray()
        self.upload = Upload(None, None, 0)
        self.error: UploadError | None = None

    def on_part_begin(self) -> None:
        self.headers = {}
        self.current_name = None
        self.current_value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._header_name.decode("latin-1").lower()] = self._header_value.decode(
            "utf-8", "replace"
        )
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self.current_name = name
        if name == self.file_field:
            if self.upload.path is not None:
                self.error = UploadError(400, "invalid_request", "send exactly one file in the 'file' field")
                return
            file_name = params.get(b"filename", b"").decode("utf-8", "replace") or None
            path = self.directory / f"upload_{secrets.token_hex(8)}{_safe_suffix(file_name)}"
            self.upload.path = path
            self.upload.file_name = Path(file_name).name if file_name else None
            self.current_file = path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self.current_file is not None:
            chunk = memoryview(data)[start:end]  # written without a copy
            self.upload.size += len(chunk)
            if self.upload.size > self.max_bytes:
                self.error = UploadError(
                    413,
                    "payload_too_large",
                    f"the file is larger than the import limit of {self.max_bytes} bytes",
                )
                return
            self.current_file.write(chunk)
        else:
            self.current_value += data[start:end]
            if len(self.current_value) > MAX_FIELD_BYTES:
                self.error = UploadError(
                    413,
                    "payload_too_large",
                    f"form field {self.current_name!r} is over {MAX_FIELD_BYTES} bytes",
                )

    def on_part_end(self) -> None:
        if self.current_file is not None:
            self.current_file.close()
            self.current_file = None
        elif self.current_name:
            self.upload.fields[self.current_name] = self.current_value.decode("utf-8", "replace")

    def close(self) -> None:
        if self.current_file is not None:
            self.current_file.close()
            self.current_file = None


async def spool_multipart(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    directory: Path,
    *,
    max_bytes: int,
    file_field: str = "file",
) -> Upload:
    """Parse a multipart/form-data stream, spooling the file field to `directory`; UploadError if invalid."""
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(
            415,
            "unsupported_media_type",
            "send the file as multipart/form-data with the file in a 'file' field",
        )
    collector = _Collector(directory, max_bytes, file_field)
    callbacks: Any = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        async for chunk in stream:
            parser.write(chunk)
            if collector.error is not None:
                break
        else:
            parser.finalize()
    except Exception as exc:  # python-multipart raises its own errors for malformed bodies
        collector.close()
        collector.upload.discard()
        raise UploadError(400, "invalid_request", f"the multipart body cannot be parsed: {exc}") from None
    collector.close()
    if collector.error is not None:
        collector.upload.discard()
        raise collector.error
    if collector.upload.path is None:
        raise UploadError(400, "invalid_request", "the request has no file: send it in a 'file' form field")
    return collector.upload
