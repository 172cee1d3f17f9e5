"""Stand-ins for what cannot exist in a test: Kaggle's servers, and the 140k zip (made small, same layout).

`KaggleStandIn` is a real HTTP server on loopback that answers the API calls
kagglesdk makes (IntrospectToken, GetDatasetMetadata, DownloadDataset, with the
redirect to storage Kaggle uses) and serves the zip with Range support. The real
kagglesdk client talks to it: `KAGGLE_API_ENVIRONMENT=TEST` selects kagglesdk's
test endpoint, which the fixture points at this server's free port (kagglesdk
fixes it at localhost:7777, which may be taken).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import image_bytes

GOOD_TOKEN = "KGAT_good0123456789abcdef"
EXPIRED_TOKEN = "KGAT_expired0123456789ab"
GOOD_USER, GOOD_KEY = "ana", "0123456789abcdef0123456789abcdef"
REFUSED_USER = "unverified"
ROOT = "real_vs_fake/real-vs-fake"
SMALL_COUNTS = {"train": 8, "valid": 4, "test": 3}  # per class


def make_140k_zip(path: Path, counts: dict[str, int] | None = None, size: int = 40, extra: dict[str, bytes] | None = None) -> Path:
    """A zip in the real layout: real_vs_fake/real-vs-fake/{train,valid,test}/{real,fake}/*.jpg and the three CSVs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _140k_files(counts or SMALL_COUNTS, size).items():
            archive.writestr(name, data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def make_140k_folder(root: Path, counts: dict[str, int] | None = None, size: int = 40) -> Path:
    """The same, already unzipped."""
    for name, data in _140k_files(counts or SMALL_COUNTS, size).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _140k_files(counts: dict[str, int], size: int) -> dict[str, bytes]:
    files, seed = {}, 0
    for split, n in counts.items():
        rows = []
        for label, code in (("real", 1), ("fake", 0)):
            for i in range(n):
                seed += 1
                name = f"{i:05d}.jpg" if label == "real" else f"{chr(65 + i % 26)}{i:04d}FAKE.jpg"
                files[f"{ROOT}/{split}/{label}/{name}"] = image_bytes(seed, size)
                rows.append((len(rows), f"{label}/{name}", name.removesuffix(".jpg"), code, label, f"{split}/{label}/{name}"))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["index", "original_path", "id", "label", "label_str", "path"])
        writer.writerows(rows)
        files[f"{split}.csv"] = buffer.getvalue().encode()
    return files


class KaggleStandIn:
    """Kaggle's API and storage, as much as dfcoach uses, on a free loopback port."""

    def __init__(self, archive: bytes = b""):
        self.archive = archive
        self.etag = '"v1"'
        self.status_override: int | None = None  # answer every API call with this status
        self.echo_status: int | None = None  # answer every API call with this status and a message quoting the credentials sent
        self.introspected_username: str | None = None  # the username a good token's IntrospectToken answers with
        self.drop_after: int | None = None  # cut the next full download after this many bytes
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def api_calls(self) -> list[str]:
        return [path.rsplit("/", 1)[-1] for method, path, _ in self.requests if path.startswith("/api/")]

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                stand_in.requests.append(("POST", self.path, self.headers.get("Range")))
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if stand_in.status_override:
                    return self._send(stand_in.status_override, b"Service Unavailable", "text/plain")
                if stand_in.echo_status:  # a careless server: the credentials back, raw, decoded and as JSON
                    auth = self.headers.get("Authorization", "")
                    decoded = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth.startswith("Basic ") else ""
                    said = (f"Rejected {auth} for {decoded} (token {body.get('token', '')}); "
                            f"{json.dumps({'username': decoded.partition(':')[0], 'key': decoded.partition(':')[2]})}. Please verify your phone number")
                    return self._json(stand_in.echo_status, {"code": stand_in.echo_status, "message": said})
                method = self.path.rsplit("/", 1)[-1]
                if method == "IntrospectToken":
                    if body.get("token") == GOOD_TOKEN:
                        return self._json(200, {"active": True, "username": stand_in.introspected_username or GOOD_USER})
                    if body.get("token") == EXPIRED_TOKEN:
                        return self._json(200, {"active": False})
                    return self._json(401, {"code": 401, "message": "Unauthenticated"})
                who = self._who()
                if who == REFUSED_USER:
                    return self._json(403, {"code": 403, "message": "Please verify your phone number"})
                if who != GOOD_USER:
                    return self._json(401, {"code": 401, "message": "Unauthenticated"})
                if method == "GetDatasetMetadata":
                    return self._json(200, {"info": {"datasetSlug": body.get("datasetSlug", "")}})
                if method == "DownloadDataset":
                    self.send_response(302)
                    self.send_header("Location", f"{stand_in.url}/storage/140k-real-and-fake-faces.zip")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._json(404, {"code": 404, "message": "Not found"})

            def do_GET(self):
                stand_in.requests.append(("GET", self.path, self.headers.get("Range")))
                data, start = stand_in.archive, 0
                wanted = self.headers.get("Range")
                if wanted and self.headers.get("If-Range", stand_in.etag) == stand_in.etag:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", stand_in.etag)
                self.end_headers()
                body = data[start:]
                if stand_in.drop_after is not None and start == 0:
                    body, stand_in.drop_after = body[: stand_in.drop_after], None
                    self.close_connection = True
                self.wfile.write(body)

            def _who(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Bearer "):
                    return GOOD_USER if auth.removeprefix("Bearer ") == GOOD_TOKEN else None
                if auth.startswith("Basic "):
                    user, _, key = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
                    if user == REFUSED_USER or (user, key) == (GOOD_USER, GOOD_KEY):
                        return user
                return None

            def _json(self, status: int, payload: dict):
                self._send(status, json.dumps(payload).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def point_kaggle_at(monkeypatch, url: str) -> None:
    """Make kagglesdk's TEST environment talk to `url`."""
    from kagglesdk import kaggle_env

    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.TEST, url)


def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused at once, as offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A person's home folder with no Kaggle credentials, and no KAGGLE_* variables; the cwd is a project folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in list(__import__("os").environ):
        if name.startswith("KAGGLE_"):
            monkeypatch.delenv(name)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return home


@pytest.fixture
def kaggle(home, monkeypatch):
    """The Kaggle stand-in, serving a small 140k zip, with kagglesdk pointed at it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _140k_files(SMALL_COUNTS, 40).items():
            archive.writestr(name, data)
        # Bulk that does not compress, so the zip spans several download chunks (for the resume test).
        archive.writestr("real_vs_fake/README.bin", random.Random(0).randbytes(1_200_000), zipfile.ZIP_STORED)
    with KaggleStandIn(buffer.getvalue()) as stand_in:
        point_kaggle_at(monkeypatch, stand_in.url)
        yield stand_in


def write_kaggle_json(home: Path, username: str = GOOD_USER, key: str = GOOD_KEY, mode: int = 0o600) -> Path:
    path = home / ".kaggle" / "kaggle.json"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(json.dumps({"username": username, "key": key}))
    path.chmod(mode)
    return path


def write_access_token(home: Path, token: str = GOOD_TOKEN, mode: int = 0o600) -> Path:
    path = home / ".kaggle" / "access_token"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(mode)
    return path
