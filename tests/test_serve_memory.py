"""The service's memory stays bounded: large pictures are decoded a few at a time and shrunk at once.

The peak and settled figures themselves are measured by benchmarks/serve_load.py (--burst); these tests
check the mechanisms, through a real uvicorn server on a loopback port."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from deepfake_coach.data import faces
from deepfake_coach.serve import ServeSettings, app as service_app, create_app
from deepfake_coach.serve.memory import DecodeBudget
from deepfake_coach.serve.runner import BackgroundServer
from test_serve import deployed_env, png_fake_probability, upload


def png(width: int, height: int, seed: int = 0, **options) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((width, height), Image.NEAREST).save(buffer, format="PNG", **options)
    return buffer.getvalue()


@pytest.fixture
def service(tmp_path):
    env = deployed_env(tmp_path)
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=120, trust_env=False) as client:
            yield client


def _count_concurrent_face_searches(monkeypatch) -> dict:
    """Records how many face searches (which run on decoded pixels) overlap; each takes 0.2 s longer."""
    real, seen = faces.crop_largest_face, {"now": 0, "most": 0, "sizes": []}
    lock = threading.Lock()

    def slow(image, **search):
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
            seen["sizes"].append(image.size)
        time.sleep(0.2)
        try:
            return real(image, **search)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(faces, "crop_largest_face", slow)
    return seen


def test_large_pictures_are_decoded_one_at_a_time_and_small_ones_together(service, monkeypatch):
    seen = _count_concurrent_face_searches(monkeypatch)
    big = png(2400, 1600)  # 3.8 megapixels, 11.5 MB of pixels
    monkeypatch.setattr(service_app, "DECODES", DecodeBudget(budget=12 * 1024 * 1024))  # room for one of them
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: upload(service, big, "big.png", "image/png"), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert seen["most"] == 1
    seen["most"] = 0
    small = png(64, 64)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: upload(service, small, "small.png", "image/png"), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert seen["most"] > 1  # small pictures do not wait for each other


def test_a_large_picture_is_shrunk_before_the_face_search_and_stays_upright(service, monkeypatch):
    """Reduced to a shorter side of 1,280 to 2,560 px, which still leaves the smallest face searched for
    at least the model's 256 px."""
    seen = _count_concurrent_face_searches(monkeypatch)
    upright = Image.open(io.BytesIO(png(2600, 3900, seed=3))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"

    sideways_tagged = png_fake_probability(service, upright.transpose(Image.Transpose.ROTATE_90), exif=exif)
    assert sideways_tagged == pytest.approx(png_fake_probability(service, upright), abs=1e-6)
    assert max(min(size) for size in seen["sizes"]) < 2 * service_app.SEARCH_SIDE  # 2,600 px brought down to 1,300


def test_the_budget_admits_what_fits_and_one_picture_larger_than_it():
    budget = DecodeBudget(budget=100)
    with budget.reserve(60):
        entered = threading.Event()

        def second():
            with budget.reserve(60):
                entered.set()

        worker = threading.Thread(target=second)
        worker.start()
        assert not entered.wait(0.2)  # 60 + 60 > 100: it waits
    assert entered.wait(5)  # and goes once the first is done
    worker.join()
    with budget.reserve(500):  # larger than the whole budget: it runs, alone
        assert budget.in_use == 500
    assert budget.in_use == 0 and budget.running == 0
