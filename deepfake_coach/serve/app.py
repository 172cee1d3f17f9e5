"""The inference service: `create_app(settings)` gives the FastAPI app that `dfcoach serve` runs.

Routes: `GET /health`, `POST /inference/analyze-frame` (multipart field `image`),
`GET /` (an upload page) and FastAPI's `/docs`. The model is loaded once, when
the server starts; when it cannot be, the server runs anyway and every route
says why, so the person can read the problem in a browser. Pictures are decoded
in worker threads and judged by one judging thread, several requests' pictures
in one batch (serve/batching.py), so the event loop keeps answering `/health`
while predictions run. Every error is JSON: `{"error": ..., "hint": ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from deepfake_coach import __version__
from deepfake_coach.inference import Verdict
from deepfake_coach.serve.batching import BatchJudge
from deepfake_coach.serve.limits import BodySizeLimit
from deepfake_coach.serve.memory import DecodeBudget, release_memory, return_large_blocks
from deepfake_coach.serve.settings import ModelUnavailable, ServeSettings

log = logging.getLogger("uvicorn.error")  # uvicorn's own log, so these lines show beside its startup lines
# Pillow's format names; MPO is how it reads the JPEGs of many phones and cameras (a JPEG with extra frames)
SUPPORTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP"}
SUPPORTED_NAMES = "JPEG, PNG, WebP, BMP"
ROUTES_HINT = "The service answers GET /health, POST /inference/analyze-frame (form field image), GET / and GET /docs."


class ApiError(Exception):
    """An answer the client must read: HTTP status, what went wrong, what to do."""

    def __init__(self, status: int, error: str, hint: str):
        super().__init__(error)
        self.status, self.error, self.hint = status, error, hint


class Analysis(BaseModel):
    # What to read first: a verdict on a picture with no face, or one the model was never taught to
    # judge, is said to be worth little before the verdict itself.
    face_found: bool = Field(description="Whether a face was found. When not, the whole picture was judged, which "
                                         "is far less reliable: the model learned from faces.")
    warning: str | None = Field(description="Why this verdict is worth little, when it is (no face found; a picture "
                                            "unlike the ones the model learned from); null otherwise.")
    label: str = Field(description="real or fake")
    fake_probability: float = Field(description="The model's probability that the picture is fake (0 to 1).")
    confidence: float = Field(description="How sure the model is of its label (0.5 to 1).")
    threshold: float = Field(description="The fake probability from which the model calls a picture fake: "
                                         "the one training chose on the validation images, 0.5 for older models.")
    model: str = Field(description="The model architecture that judged the picture.")
    face_cropped: bool = Field(description="Whether the picture was cropped to its face before judging (the same as face_found).")
    inference_ms: float = Field(description="Time spent decoding and judging the picture, in milliseconds.")


class ErrorBody(BaseModel):
    error: str
    hint: str


class ModelState:
    """The detector loaded at startup, or why there is none."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.detector = None
        self.judge: BatchJudge | None = None  # runs the model on the pictures of concurrent requests together
        self.problem: ModelUnavailable | None = None

    def load(self) -> None:
        try:
            self.detector, self.problem = self.settings.load_detector(), None
        except ModelUnavailable as problem:
            self.detector, self.problem = None, problem
            return
        self.judge = BatchJudge(self.detector)

    def close(self) -> None:
        if self.judge is not None:
            self.judge.close()
            self.judge = None

    def _why_not_loaded(self) -> ModelUnavailable:
        return self.problem or ModelUnavailable("The model is still loading.", hint="Try again in a moment.")

    def require(self):
        if self.detector is None:
            problem = self._why_not_loaded()
            raise ApiError(503, problem.message, problem.hint or "")
        return self.detector

    def health(self) -> tuple[int, dict]:
        settings, detector = self.settings, self.detector
        body = {
            "status": "ok" if detector else "unavailable",
            "model_loaded": detector is not None,
            "model_type": settings.model_type,
            "model": detector.model_name if detector else settings.custom_model_type,
            "model_path": str(settings.resolved_model_path()) if settings.model_path else None,
            "device": str(detector.device) if detector else settings.device,
            "image_size": detector.image_size if detector else None,
            "threshold": detector.threshold if detector else None,
            "threshold_source": detector.threshold_source if detector else None,
            "trained_on": detector.trained_on if detector else None,
            "env_file": str(settings.env_file),
            "dfcoach_version": __version__,
        }
        if detector is None:
            problem = self._why_not_loaded()
            body.update(problem=problem.message, fix=problem.hint)
        return (200 if detector else 503), body


NO_FACE_WARNING = ("No face found: the whole picture was judged, and the model learned from faces, so this verdict "
                   "is little more than a guess. Send a picture in which a face is clearly visible.")


def _picture_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the picture's header (nothing decoded)."""
    from deepfake_coach.images import UnreadablePicture, read_header

    try:
        header = read_header(data)
    except UnreadablePicture:  # it was decoded to be judged, so this does not happen; if it did: size unknown
        return None
    return header.width, header.height


def _curl(request: Request) -> str:
    """The curl command that sends a picture to this very service, for hints."""
    return f'curl -X POST -F "image=@photo.jpg" {request.base_url}inference/analyze-frame'


def _unreadable_status(kind: str) -> int:
    """413 for pictures with too many pixels (refused from the header); 415 for another format; 400 for
    empty, damaged or non-pictures."""
    from deepfake_coach import images

    return {images.TOO_LARGE: 413, images.UNSUPPORTED: 415, images.OUT_OF_MEMORY: 503}.get(kind, 400)


DECODES = DecodeBudget()
# Shorter side kept for the face search: a face filling a fifth of it (the smallest the search looks
# for) is still 256 px, the model's input, so no face is enlarged on the way to the model.
SEARCH_SIDE = 1280
LARGE_PICTURE = 4_000_000  # pixels; after one this large, free memory goes back to the system


def prepare_upload(detector, data: bytes, curl: str):
    """Decode one upload, turn it upright and crop it to its face: the uint8 square the model judges,
    and whether a face was cropped (runs in a worker thread). The picture is decoded reduced to the
    face search's size (deepfake_coach.images), whatever its size up to the pixel limit."""
    from deepfake_coach import images
    from deepfake_coach.data.faces import FRAME_SEARCH, crop_largest_face

    with DECODES.reserve(_decode_bytes(data)):
        large = False
        try:
            with images.open_picture(data, SEARCH_SIDE, formats=SUPPORTED_FORMATS) as picture:
                large = picture.header.pixels >= LARGE_PICTURE
                # The picture turned upright (EXIF), then cropped to its largest face when one is found,
                # as the video frames of a dataset are: a face filling the frame is what the model knows.
                subject, face_cropped = crop_largest_face(picture.image, **FRAME_SEARCH)
                return detector.prepare(subject), face_cropped
        except images.UnreadablePicture as error:
            if error.kind == images.UNSUPPORTED:
                raise ApiError(415, f"{error.reason[0].upper()}{error.reason[1:]}.",
                               f"Send a {SUPPORTED_NAMES} picture (save or export it in one of those formats first).") from None
            hint = {
                images.TOO_LARGE: "Make it smaller and send it again: a face needs far fewer pixels "
                                  "(2,000 on the longer side are plenty).",
                images.OUT_OF_MEMORY: "The service is short of memory right now: try again in a moment, or send a smaller picture.",
            }.get(error.kind, f"Send a JPEG, PNG, WebP or BMP picture, for example: {curl}")
            raise ApiError(_unreadable_status(error.kind), error.message, hint) from None
        finally:
            if large:
                release_memory()


def _decode_bytes(data: bytes) -> int:
    """The memory decoding this upload takes, from its header (0 when it is no picture: `open_picture`
    then says why, and a picture over the pixel limit is refused before any decoding)."""
    from deepfake_coach import images

    try:
        header = images.read_header(data)
    except images.UnreadablePicture:
        return 0
    return images.decode_bytes(header, SEARCH_SIDE) if header.pixels <= images.MAX_PIXELS else 0


def _megabytes(size: int) -> str:
    return f"{round(size / 1024 / 1024, 2):g} MB" if size >= 10 * 1024 else f"{size:,} bytes"


def _too_large_body(max_bytes: int) -> dict:
    return {
        "error": f"The upload is larger than the {_megabytes(max_bytes)} the service accepts.",
        "hint": "Send a smaller picture (a face needs far fewer pixels), or start the service with a larger --max-upload-mb.",
    }


def upload_page() -> str:
    return resources.files("deepfake_coach.serve").joinpath("page.html").read_text(encoding="utf-8")


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service for `settings` (default: the keys in ./.env). The model loads when the server starts."""
    settings = settings or ServeSettings.from_env_file()
    state = ModelState(settings)
    app = FastAPI(
        title="dfcoach deepfake detector",
        version=__version__,
        description="Judges whether a face picture is real or fake, with the model you trained with dfcoach.",
        lifespan=_lifespan(state),
    )
    app.state.model = state
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes, too_large=_too_large_body)
    _add_error_handlers(app)
    _add_routes(app, state)
    return app


def _lifespan(state: ModelState):
    """The server's lifespan: the model loaded (and said so in the log) at startup, its judging thread stopped at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        return_large_blocks()
        state.load()
        _log_loaded(state)
        try:
            yield
        finally:
            state.close()

    return lifespan


def _log_loaded(state: ModelState) -> None:
    if state.detector is not None:
        detector = state.detector
        log.info("Model loaded: %s (%d px) from %s; a picture is called fake from a fake probability of %g",
                 detector.model_name, detector.image_size, detector.path, detector.threshold)
    else:
        log.warning("The model is not loaded: %s Fix: %s (the service answers 503 until then)", state.problem.message, state.problem.hint)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON `{"error": ..., "hint": ...}`: ours, FastAPI's for a malformed request, and HTTP ones (404, 405...)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.error, "hint": error.hint}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = sorted({str(problem["loc"][-1]) for problem in error.errors() if problem.get("loc")}) or ["the request"]
        return JSONResponse(
            {"error": f"The request is not what the service expects ({', '.join(fields)}): image must be a picture file, not text.",
             "hint": f"Send the picture as a file in the form field image: {_curl(request)}"},
            status_code=400,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        hint = ROUTES_HINT if error.status_code in (404, 405) else f"Send the picture as the form field image: {_curl(request)}"
        return JSONResponse({"error": str(error.detail), "hint": hint}, status_code=error.status_code, headers=error.headers)


def _add_routes(app: FastAPI, state: ModelState) -> None:
    """GET /health, POST /inference/analyze-frame and GET / (the upload page)."""

    @app.get("/health", summary="Whether the model is loaded, and which one")
    async def health() -> JSONResponse:
        status, body = state.health()
        return JSONResponse(body, status_code=status)

    errors = {status: {"model": ErrorBody} for status in (400, 413, 415, 503)}

    @app.post("/inference/analyze-frame", response_model=Analysis, responses=errors, summary="Judge one picture: real or fake")
    async def analyze_frame(
        request: Request,
        image: UploadFile | None = File(None, description="The picture: JPEG, PNG, WebP or BMP."),
    ) -> dict:
        return await _analyze(state, request, image)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return upload_page()


async def _analyze(state: ModelState, request: Request, image: UploadFile | None) -> dict:
    """One picture judged: the `Analysis` of POST /inference/analyze-frame, as a dict."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(
            415, f"The request body is {content_type or 'not labelled'}, not a multipart form.",
            f"Send the picture as the form field image: {_curl(request)}",
        )
    if image is None:
        raise ApiError(400, "The request has no field named image.", f"Send the picture as the form field image: {_curl(request)}")
    detector = state.require()
    data = await image.read()
    started = time.perf_counter()
    pixels, face_cropped = await run_in_threadpool(prepare_upload, detector, data, _curl(request))
    verdict = Verdict(await asyncio.wrap_future(state.judge.submit(pixels)), detector.threshold)
    warnings = ([] if face_cropped else [NO_FACE_WARNING]) + [w for w in [detector.outside_training(_picture_size(data))] if w]
    return Analysis(
        face_found=face_cropped,
        warning=" ".join(warnings) or None,
        label=verdict.label,
        fake_probability=verdict.fake_probability,
        confidence=verdict.confidence,
        threshold=verdict.threshold,
        model=detector.model_name,
        face_cropped=face_cropped,
        inference_ms=round((time.perf_counter() - started) * 1000, 2),
    ).model_dump()
