"""The inference service, tested over HTTP against a real uvicorn server on a free loopback port."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from deepfake_coach.serve import ServeSettings, create_app
from deepfake_coach.serve.runner import BackgroundServer

from conftest import flat_png, image_bytes, png_header, write_model

ANALYZE = "/inference/analyze-frame"


def deployed_env(folder: Path, model_name: str = "custom_cnn") -> Path:
    model = write_model(folder / "models" / f"best_model_{model_name}_20250101_120000.pth", model_name=model_name)
    env = folder / ".env"
    env.write_text(f"# my service\nMODEL_TYPE=custom\nMODEL_PATH=./models/{model.name}\nCUSTOM_MODEL_TYPE={model_name}\n")
    return env


def picture(fmt: str, size: tuple[int, int] = (64, 48), seed: int = 1, **save_options) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    if fmt == "MPO":  # only a second frame makes Pillow read it back as MPO rather than JPEG
        save_options.update(save_all=True, append_images=[image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    image.save(buffer, format=fmt, **save_options)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).format == fmt
    return data


def upload(client: httpx.Client, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> httpx.Response:
    return client.post(ANALYZE, files={"image": (name, data, content_type)})


def png_fake_probability(client: httpx.Client, image: Image.Image, **save_options) -> float:
    """The service's fake probability for `image` sent as a PNG (save_options: exif=..., say)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save_options)
    answer = upload(client, buffer.getvalue(), "photo.png", "image/png")
    assert answer.status_code == 200, answer.text
    return answer.json()["fake_probability"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One real server for the module, on a free loopback port, with a deployed model."""
    env = deployed_env(tmp_path_factory.mktemp("project"))
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            yield client


def test_health_describes_the_model(service):
    answer = service.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["model_type"] == "custom" and body["model"] == "custom_cnn"
    assert body["model_path"].endswith("models/best_model_custom_cnn_20250101_120000.pth")
    assert body["device"] == "cpu" and body["image_size"] == 32
    assert body["threshold"] == 0.5 and body["threshold_source"] == "default"
    assert body["dfcoach_version"]


@pytest.mark.parametrize("fmt, content_type", [
    ("JPEG", "image/jpeg"), ("MPO", "image/jpeg"),  # MPO: a camera's JPEG with extra frames, as Pillow reads many phone photos
    ("PNG", "image/png"), ("WEBP", "image/webp"), ("BMP", "image/bmp"),
])
def test_a_picture_gets_a_verdict(service, fmt, content_type):
    answer = upload(service, picture(fmt), f"face.{fmt.lower()}", content_type)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["face_found", "warning", "label", "fake_probability", "confidence", "threshold", "model", "face_cropped", "inference_ms"]
    assert body["label"] in ("real", "fake") and body["model"] == "custom_cnn"
    assert 0.0 <= body["fake_probability"] <= 1.0
    assert body["confidence"] == pytest.approx(max(body["fake_probability"], 1 - body["fake_probability"]))
    assert body["threshold"] == 0.5  # a model file without a threshold of its own
    assert (body["label"] == "fake") == (body["fake_probability"] >= 0.5)
    assert body["inference_ms"] > 0


def test_a_face_is_cropped_before_judging_and_the_answer_says_so(service):
    from video_files import FACE_SEEDS, demo_face, no_face_frame

    from deepfake_coach.data.faces import FRAME_SEARCH, crop_largest_face
    from deepfake_coach.inference import Detector

    framed = np.full((256, 256, 3), 90, dtype=np.uint8)
    framed[64:192, 64:192] = demo_face(FACE_SEEDS[0])  # a face in the middle of a larger frame
    buffer = io.BytesIO()
    Image.fromarray(framed).save(buffer, format="PNG")
    body = upload(service, buffer.getvalue(), "frame.png", "image/png").json()
    assert body["face_cropped"] is True
    detector = Detector.load(Path(service.get("/health").json()["model_path"]))
    face, _ = crop_largest_face(Image.fromarray(framed), **FRAME_SEARCH)
    assert body["fake_probability"] == pytest.approx(detector.judge(face).fake_probability, abs=1e-6)

    buffer = io.BytesIO()
    Image.fromarray(no_face_frame()).save(buffer, format="PNG")
    body = upload(service, buffer.getvalue(), "sky.png", "image/png").json()
    assert body["face_cropped"] is False
    # "no face found" is the answer's headline: the first thing the JSON says, and the page's title
    assert list(body)[:2] == ["face_found", "warning"] and body["face_found"] is False
    assert body["warning"].startswith("No face found: the whole picture was judged")
    assert 'body.face_found ? verdict : "No face found"' in service.get("/").text


def test_a_demo_model_warns_that_a_photo_is_outside_what_it_learned(tmp_path):
    from video_files import FACE_SEEDS, demo_face

    model = write_model(tmp_path / "models" / "best_model_custom_cnn_20250101_120000.pth",
                        dataset={"name": "tiny_demo", "kind": "demo", "picture_size": [128, 128]})
    env = tmp_path / ".env"
    env.write_text(f"MODEL_TYPE=custom\nMODEL_PATH=./models/{model.name}\nCUSTOM_MODEL_TYPE=custom_cnn\n")
    photo = np.full((256, 256, 3), 90, dtype=np.uint8)  # not the demo's 128 px: a picture from elsewhere
    photo[64:192, 64:192] = demo_face(FACE_SEEDS[0])
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="PNG")
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            assert client.get("/health").json()["trained_on"] == {"name": "tiny_demo", "kind": "demo", "picture_size": [128, 128]}
            body = upload(client, buffer.getvalue()).json()
    assert body["face_found"] is True and body["warning"].startswith("This model learned from dfcoach's drawn demo faces")


def test_the_verdict_is_the_detectors_own(service, tmp_path):
    """With no face to crop, the service judges a picture exactly as `dfcoach predict` would."""
    from deepfake_coach.inference import Detector, open_image

    data = picture("JPEG", seed=7)
    detector = Detector.load(Path(service.get("/health").json()["model_path"]))
    expected = detector.judge(open_image(data, detector.image_size)).fake_probability
    assert upload(service, data).json()["fake_probability"] == pytest.approx(expected, abs=1e-6)


def test_concurrent_requests_each_get_their_own_verdict(service):
    """Pictures sent at the same time are judged in shared batches; each answer is its own picture's."""
    from concurrent.futures import ThreadPoolExecutor

    pictures = [picture("JPEG", seed=100 + i) for i in range(8)]
    one_at_a_time = [upload(service, data).json()["fake_probability"] for data in pictures]
    with ThreadPoolExecutor(8) as pool:
        together = [answer.json()["fake_probability"] for answer in pool.map(lambda data: upload(service, data), pictures * 3)]
    assert together == pytest.approx(one_at_a_time * 3, abs=1e-5)
    assert len(set(round(p, 6) for p in one_at_a_time)) > 1  # the pictures really differ


def test_exif_orientation_is_honoured(service):
    """A phone stores a portrait photo sideways with an EXIF orientation: the model must see it upright."""
    upright = Image.open(io.BytesIO(picture("PNG", size=(48, 72), seed=3))).convert("RGB")
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"

    tagged = png_fake_probability(service, stored_sideways, exif=exif)
    assert tagged == pytest.approx(png_fake_probability(service, upright), abs=1e-6)
    assert tagged != pytest.approx(png_fake_probability(service, stored_sideways), abs=1e-6)


def assert_error(answer: httpx.Response, status: int, *words: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "hint"} and body["hint"]
    for word in words:
        assert word in body["error"], body
    return body


def test_no_image_field(service):
    body = assert_error(service.post(ANALYZE, files={"picture": ("photo.jpg", picture("JPEG"), "image/jpeg")}), 400, "no field named image")
    assert 'curl -X POST -F "image=@' in body["hint"]
    assert_error(service.post(ANALYZE, files={"note": (None, "hello")}), 400, "no field named image")


def test_image_sent_as_text_instead_of_a_file(service):
    assert_error(service.post(ANALYZE, files={"image": (None, "photo.jpg")}), 400, "picture file, not text")
    assert_error(service.post(ANALYZE, data={"image": "photo.jpg"}), 400, "picture file, not text")


def test_body_that_is_not_a_form(service):
    assert_error(service.post(ANALYZE, content=picture("JPEG"), headers={"content-type": "image/jpeg"}), 415, "not a multipart form")
    assert_error(service.post(ANALYZE, json={"image": "aGVsbG8="}), 415, "not a multipart form")


@pytest.mark.parametrize("data, status, words", [
    (b"", 400, ["empty"]),
    (b"Dear diary, today I trained a model.", 400, ["damaged or not a picture"]),
    (image_bytes(1)[:300], 400, ["damaged or not a picture", "cut short"]),
    (picture("JPEG", size=(640, 480))[:4000], 400, ["damaged or not a picture", "JPEG", "cut short"]),
    (png_header(20_000, 10_000), 413, ["too large (20,000 x 10,000 pixels: more than the 150 megapixels dfcoach reads)"]),
])
def test_unreadable_uploads(service, data, status, words):
    assert_error(upload(service, data), status, *words)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_144_megapixel_picture_is_judged_and_a_larger_one_refused_in_plain_words(service):
    """Over Pillow's own warning limit, under dfcoach's: reduced as it is decoded, then judged."""
    answer = upload(service, flat_png(12_000, 12_000), "huge.png", "image/png")
    assert answer.status_code == 200, answer.text
    assert answer.json()["face_cropped"] is False
    body = assert_error(upload(service, png_header(15_000, 15_000), "bomb.png", "image/png"), 413,
                        "too large (15,000 x 15,000 pixels: more than the 150 megapixels dfcoach reads)")
    assert "smaller" in body["hint"]


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_unsupported_formats(service, fmt):
    body = assert_error(upload(service, picture(fmt), f"photo.{fmt.lower()}", f"image/{fmt.lower()}"), 415, f"{fmt} pictures are not supported")
    assert "JPEG, PNG, WebP, BMP" in body["hint"]


def test_a_body_over_the_limit_is_refused(service):
    huge = b"\xff" * (10 * 1024 * 1024 + 1)
    body = assert_error(upload(service, huge), 413, "larger than the 10 MB")
    assert "--max-upload-mb" in body["hint"]


def test_the_upload_limit_is_a_setting(tmp_path):
    settings = ServeSettings.from_env_file(deployed_env(tmp_path), environ={}, max_upload_bytes=int(0.5 * 1024 * 1024))
    with BackgroundServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
        assert upload(client, picture("JPEG")).status_code == 200
        assert_error(upload(client, picture("BMP", size=(512, 512))), 413, "larger than the 0.5 MB")


def test_a_chunked_body_over_the_limit_is_refused(service):
    """A chunked upload declares no length; the limit is counted as it streams in."""
    def chunks():
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
        for _ in range(11):
            yield b"\0" * (1024 * 1024)

    answer = service.post(ANALYZE, content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert_error(answer, 413, "larger than the 10 MB")


def test_the_service_keeps_serving_after_bad_requests(service):
    for data in (b"", b"junk", png_header(20_000, 10_000), image_bytes(2)[:200]):
        upload(service, data)
    assert service.get("/health").status_code == 200
    assert upload(service, picture("JPEG")).status_code == 200


def test_unknown_route_says_which_routes_exist(service):
    body = assert_error(service.get("/predict"), 404, "Not Found")
    assert "/inference/analyze-frame" in body["hint"]


def test_upload_page_works_without_internet(service):
    answer = service.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert 'type="file"' in page and "drop" in page.lower()
    assert 'fetch("inference/analyze-frame"' in page and 'form.append("image"' in page
    assert "http://" not in page and "https://" not in page  # no CDN: nothing is loaded from elsewhere


def test_openapi_docs(service):
    assert service.get("/docs").status_code == 200
    schema = service.get("/openapi.json").json()
    operation = schema["paths"][ANALYZE]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "400", "413", "415", "503"} <= set(operation["responses"])
    assert "/health" in schema["paths"]


def test_without_a_model_the_service_starts_and_says_why(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# nothing deployed yet\nPORT=5000\n")
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            health = client.get("/health")
            assert health.status_code == 503
            body = health.json()
            assert body["status"] == "unavailable" and body["model_loaded"] is False
            assert "has no MODEL_PATH" in body["problem"] and "dfcoach deploy" in body["fix"]
            assert_error(upload(client, picture("JPEG")), 503, "has no MODEL_PATH")
            assert client.get("/").status_code == 200  # the page still opens, and shows the problem


@pytest.mark.parametrize("env_text, words", [
    ("MODEL_TYPE=custom\nMODEL_PATH=./models/gone.pth\n", "there is no file there"),
    ("MODEL_TYPE=efficientnet\nMODEL_PATH=./models/m.pth\n", "MODEL_TYPE is 'efficientnet'"),
    ("MODEL_PATH=./models/m.pth\nCUSTOM_MODEL_TYPE=resnet18\n", "CUSTOM_MODEL_TYPE is 'resnet18'"),
    ("MODEL_PATH=./models/broken.pth\n", "not a readable model file"),
])
def test_each_wrong_setting_is_named(tmp_path, env_text, words):
    write_model(tmp_path / "models" / "m.pth")
    (tmp_path / "models" / "broken.pth").write_bytes(b"PK\x03\x04 half a model")
    env = tmp_path / ".env"
    env.write_text(env_text)
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        health = httpx.get(server.url + "/health", timeout=60, trust_env=False)
    assert health.status_code == 503 and words in health.json()["problem"], health.json()


def test_health_answers_while_a_prediction_runs(tmp_path):
    """Inference runs in a worker thread: the event loop keeps answering while the model is busy."""
    app = create_app(ServeSettings.from_env_file(deployed_env(tmp_path), environ={}))
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
        detector = app.state.model.detector
        judging, release = threading.Event(), threading.Event()
        real_judge = detector.fake_probabilities

        def slow_judge(pixels):
            judging.set()
            release.wait(60)
            return real_judge(pixels)

        detector.fake_probabilities = slow_judge
        answers = []
        request = threading.Thread(target=lambda: answers.append(upload(client, picture("JPEG"))))
        request.start()
        try:
            assert judging.wait(60), "the prediction never started"
            assert client.get("/health", timeout=30).status_code == 200  # would time out if the loop were blocked
        finally:
            release.set()
            request.join(60)
        assert answers and answers[0].status_code == 200


def test_the_shell_fills_only_keys_the_file_lacks(tmp_path):
    env = deployed_env(tmp_path)
    settings = ServeSettings.from_env_file(env, environ={"MODEL_PATH": "/stale/model.pth", "CUSTOM_MODEL_TYPE": "meso4"})
    assert settings.model_path.startswith("./models/") and settings.custom_model_type == "custom_cnn"
    without_file = ServeSettings.from_env_file(tmp_path / "missing.env", environ={"MODEL_PATH": "/srv/model.pth"})
    assert without_file.resolved_model_path() == Path("/srv/model.pth")


def test_the_listening_socket_says_it_is_tcp():
    """asyncio disables Nagle's algorithm only on sockets created as IPPROTO_TCP; without it every answer on a
    kept-alive connection waits for the client's delayed ACK (about 40 ms)."""
    import socket

    from deepfake_coach.serve.runner import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
