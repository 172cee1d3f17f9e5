"""Download a Kaggle dataset's zip: with a progress bar, resuming a partial download, reusing a finished one.

The bytes arrive in `NAME.zip.part`; `NAME.zip.part.json` records which remote file
they belong to (its ETag or Last-Modified, and its size), so a later run appends
only to bytes of the same file (an HTTP Range request with If-Range). The zip takes
its final name only when complete, so a zip with that name is always whole.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import requests

from deepfake_coach.errors import CoachError, Interrupted
from deepfake_coach.kaggle.api import ARCHIVE_HINT, KaggleOffline, kaggle_client, plain_failures, session_of, signed_in
from deepfake_coach.kaggle.credentials import FoundCredentials, KaggleAuth
from deepfake_coach.io.progress import NO_PROGRESS, Progress

CHUNK = 256 * 1024  # a dropped connection loses at most the chunk being read
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 60.0


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    reused: bool = False  # a complete zip was already there; nothing was downloaded
    resumed_from: int = 0  # bytes kept from an earlier, interrupted download


def zip_path(download_dir: Path, ref: str) -> Path:
    return Path(download_dir) / f"{ref.split('/')[-1]}.zip"


def download_dataset_zip(
    ref: str,
    download_dir: Path,
    found: FoundCredentials,
    auth: KaggleAuth,
    progress: Progress = NO_PROGRESS,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
) -> Downloaded:
    """`download_dir/<slug>.zip` for the Kaggle dataset `ref` ("owner/slug")."""
    from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

    target = zip_path(download_dir, ref)
    if target.is_file() and zipfile.is_zipfile(target):
        return Downloaded(target, target.stat().st_size, reused=True)
    partial, marker = _partial_paths(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CoachError(f"Could not create {target.parent}: {error.strerror}.", hint="Choose another folder with --download-dir.") from None
    request = ApiDownloadDatasetRequest()
    request.owner_slug, request.dataset_slug = ref.split("/")
    action = f"downloading {target.name}"
    with plain_failures(found, action, timeout, auth), kaggle_client(signed_in(auth, timeout), timeout) as client:
        response = client.datasets.dataset_api_client.download_dataset(request)  # streamed, redirects followed
        size = _int(response.headers.get("Content-Length"))
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        have = partial.stat().st_size if partial.is_file() else 0
        offset = 0
        if have and _same_remote_file(marker, validator, size) and response.headers.get("Accept-Ranges") == "bytes":
            if have == size:  # a run stopped after the last byte, before the rename
                response.close()
                return _finish(partial, marker, target, resumed_from=have)
            response.close()
            response = _resume_request(client, response, have, validator)
            offset = have if response.status_code == 206 else 0
        _check_space(target.parent, (size or 0) - offset)
        _write_marker(marker, validator, size)
        _stream(response, partial, offset, size, target.name, progress)
    return _finish(partial, marker, target, resumed_from=offset)


def _partial_paths(target: Path) -> tuple[Path, Path]:
    return target.with_name(target.name + ".part"), target.with_name(target.name + ".part.json")


def _resume_request(client, first: requests.Response, offset: int, validator: str) -> requests.Response:
    """Ask for the bytes from `offset` on, the way the first request was made (same URL, method,
    headers), so a signed storage URL or Kaggle's own endpoint both work."""
    sent = first.request
    headers = {k: v for k, v in sent.headers.items() if k.lower() != "content-length"}
    headers["Range"] = f"bytes={offset}-"
    headers["If-Range"] = validator  # a changed file comes back whole (200), never appended to
    body = sent.body if sent.method != "GET" else None
    response = session_of(client).request(sent.method, first.url, headers=headers, data=body, stream=True)
    response.raise_for_status()
    return response


def _stream(response: requests.Response, partial: Path, offset: int, size: int | None, name: str, progress: Progress) -> None:
    written = offset
    try:
        with open(partial, "ab" if offset else "wb") as out, progress.task(f"Downloading {name}", total=size, unit="bytes") as task:
            task.advance(offset)
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
                written += len(chunk)
                task.advance(len(chunk))
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped by you after {_mb(written)} of {_mb(size)}; the part downloaded is kept in {partial}.",
            hint="Run the same command again: the download continues where it stopped.",
        ) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        raise _stopped_early(written, size, partial) from None
    except OSError as error:
        if error.errno == 28:
            raise CoachError(f"The disk filled up while downloading {name}.", hint=f"Free some space and run the same command again (it continues from {_mb(written)}).") from None
        raise
    finally:
        response.close()
    if size is not None and written != size:
        raise _stopped_early(written, size, partial)


def _stopped_early(written: int, size: int | None, partial: Path) -> KaggleOffline:
    return KaggleOffline(
        f"The download stopped after {_mb(written)} of {_mb(size)}: the connection to Kaggle was lost.",
        hint=f"Run the same command again: it continues where it stopped (the part is kept in {partial}), {ARCHIVE_HINT}",
    )


def _finish(partial: Path, marker: Path, target: Path, resumed_from: int) -> Downloaded:
    os.replace(partial, target)
    marker.unlink(missing_ok=True)
    return Downloaded(target, target.stat().st_size, resumed_from=resumed_from)


def _same_remote_file(marker: Path, validator: str | None, size: int | None) -> bool:
    if not validator or not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("validator") == validator and recorded.get("size") == size


def _write_marker(marker: Path, validator: str | None, size: int | None) -> None:
    marker.write_text(json.dumps({"validator": validator, "size": size}))


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CoachError(
            f"The download needs {_mb(needed)} and {folder} has {_mb(free)} free.",
            hint="Free some space, or choose another folder with --download-dir.",
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _mb(size: int | None) -> str:
    from rich.filesize import decimal

    return "an unknown size" if size is None else decimal(size)
