"""Running the service with uvicorn: in the foreground for `dfcoach serve`, or in a background
thread on a free loopback port for `dfcoach deploy --check`, the tests and the benchmark."""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time
from pathlib import Path

from deepfake_coach.errors import CoachError
from deepfake_coach.serve.settings import ServeSettings

STARTUP_TIMEOUT_S = 120  # loading a large model on a slow laptop takes a while
_ENV_FILE_VARIABLE = "DFCOACH_SERVE_ENV_FILE"  # how worker processes learn their settings
_MAX_UPLOAD_VARIABLE = "DFCOACH_SERVE_MAX_UPLOAD_BYTES"
_THREADS_VARIABLE = "DFCOACH_SERVE_TORCH_THREADS"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now (as uvicorn would, reusing a port left in TIME_WAIT)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":  # on Windows SO_REUSEADDR would let two servers share the port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port_after(port: int, host: str = "127.0.0.1") -> int:
    """The first free port above `port`, for a hint that must work as printed (5001 may be taken too)."""
    for candidate in range(port + 1, min(port + 200, 65536)):
        if port_is_free(candidate, host):
            return candidate
    return port + 1


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a plain-words error when the port is taken or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off only on sockets that say they are TCP,
    # and with it on, every answer on a kept-alive connection waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise CoachError(
                f"Port {port} on {host} is already in use (another service, or a dfcoach serve still running).",
                hint=f"Stop the other program, or choose another port: --port {free_port_after(port, host)}",
            ) from None
        if error.errno in (errno.EACCES, errno.EPERM):
            raise CoachError(f"This user may not open port {port}.", hint="Use a port above 1024, for example --port 5000") from None
        raise CoachError(f"Cannot listen on {host}:{port}: {error.strerror}.", hint="Use --host 127.0.0.1 (this computer only).") from None
    sock.listen(2048)
    return sock


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def _uvicorn_config(app, log_level: str = "warning", **options):
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5, **options)


class BackgroundServer:
    """A real uvicorn server in a thread, on `port` (0: a free one) of loopback; a context manager.

        with BackgroundServer(create_app(settings)) as server:
            httpx.get(server.url + "/health")
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.socket = bind(host, port)
        self.port = self.socket.getsockname()[1]
        self.url = url_of(host, self.port)
        self.server = uvicorn.Server(_uvicorn_config(app))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, name="dfcoach-serve", daemon=True)

    def start(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            self.stop()
            raise CoachError("The service did not start.", hint="Run `dfcoach serve` to see what it prints.")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=30)
        self.socket.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def use_threads(torch_threads: int) -> None:
    """Threads for one serving process: `torch_threads` for the model's arithmetic, and one for each
    face search, since the service already searches several uploads at once in its own threads
    (OpenCV's own threads on top of those cost a quarter to a half more CPU for the same faces)."""
    import cv2
    import torch

    torch.set_num_threads(torch_threads)
    cv2.setNumThreads(1)


def run_foreground(settings: ServeSettings, listening: socket.socket, workers: int = 1, threads: int | None = None) -> None:
    """Serve on the socket from `bind` until Ctrl-C. With several workers, each process loads the model for itself."""
    import uvicorn

    from deepfake_coach.serve.app import create_app

    if workers <= 1:
        use_threads(threads or os.cpu_count() or 1)
        uvicorn.Server(_uvicorn_config(create_app(settings), log_level="info")).run(sockets=[listening])
        return
    host, port = listening.getsockname()[:2]
    listening.close()  # uvicorn's supervisor binds the port itself and shares it with the workers
    os.environ[_ENV_FILE_VARIABLE] = str(Path(settings.env_file).absolute())
    os.environ[_MAX_UPLOAD_VARIABLE] = str(settings.max_upload_bytes)
    os.environ[_THREADS_VARIABLE] = str(threads or max(1, (os.cpu_count() or 1) // workers))  # workers share the cores
    uvicorn.run(
        "deepfake_coach.serve.runner:app_from_environment", factory=True, host=host, port=port,
        workers=workers, log_level="info", lifespan="on", timeout_graceful_shutdown=5,
    )


def app_from_environment():
    """The app of one worker process of `dfcoach serve --workers N`."""
    from deepfake_coach.serve.app import create_app

    use_threads(int(os.environ.get(_THREADS_VARIABLE, "1")))
    settings = ServeSettings.from_env_file(Path(os.environ.get(_ENV_FILE_VARIABLE, ".env")))
    return create_app(settings.with_options(max_upload_bytes=int(os.environ.get(_MAX_UPLOAD_VARIABLE, settings.max_upload_bytes))))
