"""The offline demo dataset: synthetic faces whose fakes carry real deepfake artifacts.

Every image is a drawn face (shaded head, eyes, brows, nose, mouth, hair, neck,
shoulders, a background) with an identity of its own: skin tone, face shape,
position, tilt, hair, eyes and background all vary, so no two images look alike
and a detector cannot win by remembering faces.

A fake differs from a real in exactly one way, the way real deepfakes differ:

* ``gan_upsampling``: generators build images by repeated up-sampling; a
  transposed convolution whose taps overlap unevenly leaves a faint
  checkerboard, a peak at the Nyquist frequency of the spectrum.
* ``face_swap``: the inner face (eyes, nose, mouth) comes from another person
  and is blended in with a soft seam; its tone and sharpness do not quite match.
* ``over_smooth``: the generated skin is too clean; it lacks the grain (skin
  texture and sensor noise) the rest of the photo has.

Real and fake images get the same camera finish (lens blur, sensor noise,
sharpening, JPEG at a random quality), so the finish itself tells nothing: a
detector has to find the artifact. Artifact strength is drawn per image, so
some fakes are easy and some subtle, and a small CNN needs a few epochs to
learn them (see benchmarks/tiny_demo_learnability.py).

Each image is drawn from its own random generator seeded by (seed, class,
index), so the files are byte-identical for a seed, whatever the number of
worker processes.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from deepfake_coach.data.layout import CLASSES as LABELS, SPLITS
from deepfake_coach.data.origin import DEMO_COLUMNS
from deepfake_coach.data.sources import DEMO_MIN_IMAGES_PER_CLASS
from deepfake_coach.io.progress import NO_PROGRESS, Progress

ARTIFACT_KINDS: tuple[str, ...] = ("gan_upsampling", "face_swap", "over_smooth")
DEFAULT_IMAGES_PER_CLASS = 500
DEFAULT_SPLIT = (0.7, 0.2, 0.1)
MIN_IMAGES_PER_CLASS = DEMO_MIN_IMAGES_PER_CLASS

MANIFEST_NAME = "manifest.csv"
MANIFEST_HEADER = tuple(DEMO_COLUMNS)  # data.origin recognises the demo by it

# Artifact strength drawn per fake image, as a fraction of each artifact's full
# effect. Tuned with benchmarks/tiny_demo_learnability.py (seeds 0-2): the
# reference CNN is at 64-71% validation accuracy after one epoch and passes 85%
# by epoch 4 or 5. Weaker and it does not get there in five epochs; much
# stronger and the first epoch already solves it, leaving nothing to watch.
STRENGTH_RANGE: dict[str, tuple[float, float]] = {
    "gan_upsampling": (0.7, 1.0),
    "face_swap": (0.6, 1.0),
    "over_smooth": (0.7, 1.0),
}
# Both classes get the same JPEG quality range, so compression is no clue.
JPEG_QUALITY_RANGE = (75, 95)

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel positions, so small moves still change pixels
_ONE = 1 << _SHIFT


# ---------------------------------------------------------------------------
# Identity: everything that makes one person (and one photo) differ from another
# ---------------------------------------------------------------------------

SKIN_TONES = np.array(  # RGB, light to dark; identities interpolate between neighbours
    [(250, 224, 202), (238, 200, 170), (224, 176, 140), (198, 145, 105), (160, 108, 74), (120, 80, 56), (84, 56, 40)],
    dtype=np.float32,
) / 255.0
HAIR_COLOURS = np.array(
    [(20, 16, 14), (45, 30, 22), (80, 52, 32), (120, 80, 45), (165, 110, 60), (200, 160, 100), (230, 205, 150),
     (150, 60, 30), (170, 170, 170), (235, 235, 230), (60, 60, 70), (120, 40, 110), (40, 90, 150)],
    dtype=np.float32,
) / 255.0
IRIS_COLOURS = np.array(
    [(70, 45, 25), (100, 65, 35), (60, 100, 150), (80, 130, 90), (120, 110, 60), (110, 120, 130), (40, 30, 25)],
    dtype=np.float32,
) / 255.0
HAIR_STYLES = ("short", "long", "bun", "curly", "side_part", "bald", "spiky")
BACKGROUNDS = ("gradient", "radial", "stripes", "blotches", "room", "tiles")
# Faces fill a good share of the frame, as in a portrait: the swap and smoothing
# artifacts live on the face, and a small face leaves a small CNN too little to see.
HEAD_HALF_WIDTH = (0.21, 0.31)  # fraction of the image size
BACKGROUND_BLUR = 2.0  # depth of field (pixels at 128 px): the background competes less with the face
# Real skin has texture. It is what an over-smoothed fake loses, so it is coarse
# and strong enough to survive JPEG at quality 75.
PORE_SIZE = 1.1  # grain size, pixels at 128 px
PORE_DEPTH = 0.2  # grain contrast


@dataclass(frozen=True)
class Identity:
    """One person in one photo. Lengths are fractions of the image size, or of the head half-width `a`."""

    cx: float
    cy: float
    a: float  # head half-width
    elong: float  # head half-height / half-width
    angle: float  # head tilt, degrees
    skin: tuple[float, float, float]
    light: tuple[float, float]  # light direction in the image plane
    ambient: float
    hair_style: str
    hair: tuple[float, float, float]
    hairline: float  # where the forehead ends, in units of a
    background: str
    bg_colours: tuple[tuple[float, float, float], ...]
    bg_angle: float
    bg_scale: float
    bg_objects: tuple[tuple[float, ...], ...]  # out-of-focus things behind the person: x, y, w, h, r, g, b
    shirt: tuple[float, float, float]
    exposure: float
    room_light: tuple[float, float]  # brightness change across the photo: direction angle, amount
    texture_seed: int
    # The inner face: what a face swap replaces.
    eye_spacing: float
    eye_y: float
    eye_w: float
    eye_h: float
    iris: tuple[float, float, float]
    iris_r: float
    gaze: tuple[float, float]
    brow_lift: float
    brow_arch: float
    brow_thick: float
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    smile: float
    lip_h: float
    mouth_open: float
    lips: tuple[float, float, float]
    glasses: bool


def _pick(rng: np.random.Generator, table: np.ndarray, jitter: float) -> tuple[float, float, float]:
    colour = table[rng.integers(len(table))] + rng.normal(0.0, jitter, 3)
    return tuple(float(c) for c in np.clip(colour, 0.02, 0.98))


def _skin_tone(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    low = int(t)
    high = min(low + 1, len(SKIN_TONES) - 1)
    tone = SKIN_TONES[low] * (1 - (t - low)) + SKIN_TONES[high] * (t - low)
    return np.clip(tone * rng.uniform(0.92, 1.06) + rng.normal(0, 0.015, 3), 0.05, 0.98)


def _random_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(20, 220), rng.integers(50, 245)]]])
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0] / 255.0
    return tuple(float(c) for c in rgb)


def sample_inner_face(rng: np.random.Generator, skin: np.ndarray) -> dict:
    """Eyes, brows, nose and mouth: the part of a face a face swap replaces."""
    lips = np.clip(skin * np.array([0.95, 0.62, 0.62]) + rng.normal(0, 0.04, 3) + np.array([0.08, 0, 0]), 0.05, 0.95)
    return dict(
        eye_spacing=rng.uniform(0.34, 0.48),
        eye_y=rng.uniform(-0.2, 0.02),
        eye_w=rng.uniform(0.16, 0.24),
        eye_h=rng.uniform(0.07, 0.12),
        iris=_pick(rng, IRIS_COLOURS, 0.04),
        iris_r=rng.uniform(0.55, 0.8),
        gaze=(float(rng.uniform(-0.35, 0.35)), float(rng.uniform(-0.2, 0.2))),
        brow_lift=rng.uniform(0.2, 0.32),
        brow_arch=rng.uniform(-0.02, 0.08),
        brow_thick=rng.uniform(0.035, 0.08),
        nose_y=rng.uniform(0.32, 0.45),
        nose_w=rng.uniform(0.08, 0.14),
        mouth_y=rng.uniform(0.66, 0.84),
        mouth_w=rng.uniform(0.24, 0.38),
        smile=rng.uniform(-0.03, 0.1),
        lip_h=rng.uniform(0.04, 0.08),
        mouth_open=float(rng.uniform(0.0, 0.09)) if rng.random() < 0.35 else 0.0,
        lips=tuple(float(c) for c in lips),
        glasses=bool(rng.random() < 0.15),
    )


def sample_identity(rng: np.random.Generator) -> Identity:
    """A new person, pose and background; varied enough that no two images are near-duplicates."""
    skin = _skin_tone(rng)
    a = rng.uniform(*HEAD_HALF_WIDTH)
    elong = rng.uniform(1.12, 1.45)
    n_colours = 4
    angle = rng.uniform(0, 2 * math.pi)
    return Identity(
        cx=rng.uniform(0.5 - 0.2, 0.5 + 0.2),
        cy=rng.uniform(0.38, 0.6),
        a=a,
        elong=elong,
        angle=rng.uniform(-18, 18),
        skin=tuple(float(c) for c in skin),
        light=(float(math.cos(angle) * 0.6), float(math.sin(angle) * 0.6)),
        ambient=rng.uniform(0.5, 0.7),
        hair_style=HAIR_STYLES[rng.integers(len(HAIR_STYLES))],
        hair=_pick(rng, HAIR_COLOURS, 0.04),
        hairline=rng.uniform(-0.85, -0.55),
        background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))],
        bg_colours=tuple(_random_colour(rng) for _ in range(n_colours)),
        bg_angle=rng.uniform(0, 180),
        bg_scale=rng.uniform(0.08, 0.3),
        bg_objects=tuple((*rng.uniform(0.0, 1.0, 2), *rng.uniform(0.08, 0.35, 2), *_random_colour(rng))
                         for _ in range(rng.integers(1, 4))),
        shirt=_random_colour(rng),
        exposure=rng.uniform(0.8, 1.15),
        room_light=(float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.0, 0.8))),
        texture_seed=int(rng.integers(2**31)),
        **sample_inner_face(rng, skin),
    )


# ---------------------------------------------------------------------------
# Drawing: masks drawn anti-aliased with cv2, composited in float32 RGB
# ---------------------------------------------------------------------------


class _Frame:
    """Maps face coordinates (units of the head half-width, y down) to pixels, with the head's tilt."""

    def __init__(self, identity: Identity, size: int):
        self.size = size
        self.cx = identity.cx * size
        self.cy = identity.cy * size
        self.unit = identity.a * size
        self.angle = identity.angle
        rad = math.radians(identity.angle)
        self._cos, self._sin = math.cos(rad), math.sin(rad)

    def xy(self, u: float, v: float) -> tuple[float, float]:
        x, y = u * self.unit, v * self.unit
        return self.cx + x * self._cos - y * self._sin, self.cy + x * self._sin + y * self._cos

    def fixed(self, u: float, v: float) -> tuple[int, int]:
        x, y = self.xy(u, v)
        return int(round(x * _ONE)), int(round(y * _ONE))

    def length(self, units: float) -> int:
        return max(1, int(round(units * self.unit * _ONE)))

    def pixels(self, units: float) -> int:
        return max(1, int(round(units * self.unit)))


def _blank(size: int) -> np.ndarray:
    return np.zeros((size, size), np.uint8)


def _as_alpha(mask: np.ndarray) -> np.ndarray:
    return mask.astype(np.float32) * (1.0 / 255.0)


def _ellipse(frame: _Frame, u: float, v: float, au: float, av: float, angle: float = 0.0,
             start: float = 0, end: float = 360, thickness: int = -1, mask: np.ndarray | None = None) -> np.ndarray:
    mask = _blank(frame.size) if mask is None else mask
    cv2.ellipse(mask, frame.fixed(u, v), (frame.length(au), frame.length(av)), frame.angle + angle, start, end,
                255, thickness, cv2.LINE_AA, _SHIFT)
    return mask


def _polygon(frame: _Frame, points: Iterable[tuple[float, float]]) -> np.ndarray:
    mask = _blank(frame.size)
    pts = np.array([frame.fixed(u, v) for u, v in points], np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, _SHIFT)
    return mask


def _curve(frame: _Frame, points: Iterable[tuple[float, float]], thickness: float) -> np.ndarray:
    mask = _blank(frame.size)
    pts = np.array([frame.fixed(u, v) for u, v in points], np.int32)
    cv2.polylines(mask, [pts], False, 255, frame.pixels(thickness), cv2.LINE_AA, _SHIFT)
    return mask


def _paint(image: np.ndarray, alpha: np.ndarray, colour) -> None:
    """Alpha-composite `colour` (an RGB triple or an image) over `image`, in place."""
    # Only touch the rows and columns the mask covers: most parts (eyes, nostrils) are small.
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    colour = np.asarray(colour, np.float32)
    if colour.ndim == 3:
        colour = colour[box]
    target = image[box]
    target += alpha[box][..., None] * (colour - target)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    return coords[None, :], coords[:, None]


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise: a few random cells up-sampled smoothly (cheap texture and blotches)."""
    small = rng.standard_normal((cells, cells, channels), dtype=np.float32)
    big = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return big.reshape(size, size, channels)


def draw_background(identity: Identity, size: int, rng: np.random.Generator) -> np.ndarray:
    x, y = _grid(size)
    c = [np.array(col, np.float32) for col in identity.bg_colours]
    theta = math.radians(identity.bg_angle)
    along = (x - 0.5) * math.cos(theta) + (y - 0.5) * math.sin(theta)
    kind = identity.background
    if kind == "gradient":
        t = np.clip(along + 0.5, 0, 1)[..., None]
        image = c[0] * (1 - t) + c[1] * t
    elif kind == "radial":
        r = np.sqrt((x - 0.5 - 0.3 * math.cos(theta)) ** 2 + (y - 0.5 - 0.3 * math.sin(theta)) ** 2)
        t = np.clip(r / 0.9, 0, 1)[..., None]
        image = c[0] * (1 - t) + c[1] * t
    elif kind == "stripes":
        t = (0.5 + 0.5 * np.sin(along * 2 * math.pi / identity.bg_scale))[..., None]
        image = c[0] * (1 - t) + c[1] * t
    elif kind == "blotches":
        t = np.clip(0.5 + 0.4 * _smooth_noise(rng, size, 4, 1), 0, 1)
        u = np.clip(0.5 + 0.4 * _smooth_noise(rng, size, 3, 1), 0, 1)
        image = (c[0] * (1 - t) + c[1] * t) * (1 - u) + c[2] * u
    elif kind == "room":
        horizon = 0.55 + 0.3 * (identity.bg_scale - 0.19)
        floor = (y > horizon + 0.08 * (x - 0.5) * math.cos(theta)).astype(np.float32)[..., None]
        wall_shade = (0.85 + 0.3 * x)[..., None] if theta < math.pi / 2 else (1.15 - 0.3 * x)[..., None]
        image = (c[0] * wall_shade) * (1 - floor) + c[1] * floor
        # A door or window frame on the wall.
        x0 = 0.05 + 0.7 * (identity.bg_angle / 180)
        box = ((x > x0) & (x < x0 + 0.2) & (y > 0.1) & (y < horizon)).astype(np.float32)[..., None]
        image = image * (1 - box) + c[2] * box
    else:  # tiles
        period = identity.bg_scale * 0.8
        tx = np.floor(x / period)
        ty = np.floor(y / period)
        t = ((tx + ty) % 2)[..., None]
        image = c[0] * (1 - t) + c[3] * t
    # Uneven light on the wall: also makes the layout of brightness differ from photo to photo.
    image = image.astype(np.float32) + 0.04 * _smooth_noise(rng, size, 6, 3) + 0.18 * _smooth_noise(rng, size, 3, 1)
    # Portraits are focused on the face: the background is out of focus (and so no competing detail).
    for x0, y0, w, h, *colour in identity.bg_objects:  # a lamp, a plant, a picture on the wall
        inside = ((np.abs(x - x0) < w / 2) & (np.abs(y - y0) < h / 2)).astype(np.float32)[..., None]
        image = image * (1 - inside) + np.array(colour, np.float32) * inside
    if BACKGROUND_BLUR > 0:
        image = cv2.GaussianBlur(image, (0, 0), BACKGROUND_BLUR * size / 128)
    return np.clip(image, 0, 1).astype(np.float32)


def _head_shading(identity: Identity, frame: _Frame) -> np.ndarray:
    """Lambert shading of an ellipsoid head: a lit side, a shadow side, darker rims."""
    size = frame.size
    x, y = np.meshgrid(np.arange(size, dtype=np.float32) + 0.5, np.arange(size, dtype=np.float32) + 0.5)
    dx, dy = x - frame.cx, y - frame.cy
    cos, sin = frame._cos, frame._sin
    u = (dx * cos + dy * sin) / frame.unit
    v = (-dx * sin + dy * cos) / (frame.unit * identity.elong)
    nz = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
    lx, ly = identity.light
    lz = math.sqrt(max(0.0, 1.0 - lx * lx - ly * ly))
    diffuse = np.clip(u * lx + v * ly + nz * lz, 0.0, 1.0)
    return identity.ambient + (1.0 - identity.ambient) * 1.15 * diffuse


def _hair_field(identity: Identity, size: int, rng: np.random.Generator) -> np.ndarray:
    """Hair colour with strands: noise stretched along one direction."""
    strands = cv2.resize(rng.standard_normal((size, max(2, size // 6)), dtype=np.float32), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    if identity.hair_style in ("side_part", "long"):
        strands = strands.T
    shade = 0.85 + 0.18 * strands[..., None]
    return np.clip(np.array(identity.hair, np.float32) * shade + 0.03 * strands[..., None], 0, 1)


def _hair_masks(identity: Identity, frame: _Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(behind the head, on top of the head) alpha masks for the hair style."""
    e = identity.elong
    style = identity.hair_style
    behind = np.zeros((frame.size, frame.size), np.float32)
    if style == "long":
        behind = _as_alpha(_ellipse(frame, 0, 0.35 * e, 1.22, 1.25 * e))
        behind = np.maximum(behind, _as_alpha(_polygon(frame, [(-1.2, 0.3), (1.2, 0.3), (1.3, 1.7 * e), (-1.3, 1.7 * e)])))
    if style == "bald":
        cap = _as_alpha(_ellipse(frame, 0, 0.1, 1.04, 0.55 * e))
        cap *= 1.0 - _as_alpha(_ellipse(frame, 0, -0.05, 0.92, 1.02 * e))
        return behind, cap * 0.9
    top_u = 1.06 if style != "curly" else 1.12
    outer = _as_alpha(_ellipse(frame, 0, -0.06 * e, top_u, 1.04 * e))
    face = _as_alpha(_ellipse(frame, 0, identity.hairline + 1.05 * e + 0.02, 0.97, 1.05 * e))
    cap = np.clip(outer - face, 0, 1)
    if style == "bun":
        cap = np.maximum(cap, _as_alpha(_ellipse(frame, 0, -1.15 * e, 0.42, 0.32)))
    elif style == "curly":
        curls = _blank(frame.size)
        for k in range(14):
            t = math.pi * (0.95 + 1.1 * k / 13)
            _ellipse(frame, 1.05 * math.cos(t), 0.95 * e * math.sin(t) * 1.02, 0.22, 0.22, mask=curls)
        cap = np.maximum(cap, _as_alpha(curls))
    elif style == "side_part":
        side = 1 if rng.random() < 0.5 else -1
        fringe = _polygon(frame, [(-0.95 * side, identity.hairline - 0.1), (0.9 * side, identity.hairline - 0.15),
                                  (0.95 * side, identity.hairline + 0.35), (0.2 * side, identity.hairline + 0.12)])
        cap = np.maximum(cap, _as_alpha(fringe) * _as_alpha(_ellipse(frame, 0, -0.02, 1.02, 1.02 * e)))
    elif style == "spiky":
        spikes = [(-0.95, identity.hairline + 0.2)]
        for k in range(9):
            u = -0.9 + 1.8 * k / 8
            spikes.append((u, -1.05 * e - 0.25 * (k % 2) - 0.05))
        spikes.append((0.95, identity.hairline + 0.2))
        cap = np.maximum(cap, _as_alpha(_polygon(frame, spikes)) * (1 - face))
    return behind, cap


def _draw_eye(image: np.ndarray, identity: Identity, frame: _Frame, side: int) -> None:
    u0, v0 = side * identity.eye_spacing, identity.eye_y
    w, h = identity.eye_w, identity.eye_h
    white = _as_alpha(_ellipse(frame, u0, v0, w, h))
    _paint(image, white, (0.93, 0.92, 0.9))
    r = identity.iris_r * h * 1.25
    gu, gv = identity.gaze
    iris = _as_alpha(_ellipse(frame, u0 + gu * w * 0.5, v0 + gv * h, r, r)) * white
    _paint(image, iris, identity.iris)
    pupil = _as_alpha(_ellipse(frame, u0 + gu * w * 0.5, v0 + gv * h, r * 0.45, r * 0.45)) * white
    _paint(image, pupil, (0.04, 0.03, 0.03))
    glint = _as_alpha(_ellipse(frame, u0 + gu * w * 0.5 + 0.3 * r, v0 + gv * h - 0.3 * r, r * 0.18, r * 0.18)) * white
    _paint(image, glint, (1.0, 1.0, 1.0))
    # The upper lid: a dark arc over the top half of the eye.
    lid = _as_alpha(_ellipse(frame, u0, v0, w, h, start=180, end=360, thickness=frame.pixels(0.025)))
    _paint(image, lid, np.array(identity.skin, np.float32) * 0.3)


def _draw_brows(image: np.ndarray, identity: Identity, frame: _Frame) -> None:
    colour = np.array(identity.hair, np.float32) * 0.75
    for side in (-1, 1):
        u0 = side * identity.eye_spacing
        v0 = identity.eye_y - identity.brow_lift
        points = [(u0 - side * identity.eye_w * 1.05, v0 + 0.05),
                  (u0, v0 - identity.brow_arch),
                  (u0 + side * identity.eye_w * 1.15, v0 + 0.03)]
        _paint(image, _as_alpha(_curve(frame, points, identity.brow_thick)) * 0.9, colour)


def _draw_nose(image: np.ndarray, identity: Identity, frame: _Frame, skin: np.ndarray) -> None:
    shadow = _as_alpha(_curve(frame, [(0.04, identity.eye_y + 0.1), (0.07, identity.nose_y - 0.05),
                                       (identity.nose_w, identity.nose_y + 0.03)], 0.03))
    _paint(image, cv2.GaussianBlur(shadow, (0, 0), max(0.6, frame.unit * 0.03)) * 0.5, skin * 0.6)
    tip = _as_alpha(_ellipse(frame, 0, identity.nose_y + 0.02, identity.nose_w * 1.1, 0.07))
    _paint(image, cv2.GaussianBlur(tip, (0, 0), max(0.6, frame.unit * 0.04)) * 0.3, skin * 0.7)
    for side in (-1, 1):
        nostril = _as_alpha(_ellipse(frame, side * identity.nose_w * 0.6, identity.nose_y + 0.06, 0.04, 0.025))
        _paint(image, nostril * 0.8, skin * 0.35)


def _draw_mouth(image: np.ndarray, identity: Identity, frame: _Frame) -> None:
    w, y, smile, lip_h, gap = identity.mouth_w, identity.mouth_y, identity.smile, identity.lip_h, identity.mouth_open
    xs = np.linspace(-1.0, 1.0, 9)
    middle = [(w * t, y - smile * (t * t) + smile * 0.5) for t in xs]
    upper = [(w * t, y - gap / 2 - lip_h * (1 - t * t) - smile * (t * t) + smile * 0.5) for t in xs]
    lower = [(w * t, y + gap / 2 + lip_h * 1.3 * (1 - t * t) - smile * (t * t) + smile * 0.5) for t in xs]
    lips = _as_alpha(_polygon(frame, upper + lower[::-1]))
    _paint(image, lips, identity.lips)
    if gap > 0:
        top = [(u, v - gap / 2) for u, v in middle]
        bottom = [(u, v + gap / 2) for u, v in middle]
        opening = _as_alpha(_polygon(frame, top + bottom[::-1]))
        _paint(image, opening, (0.25, 0.06, 0.06))
        teeth = _as_alpha(_polygon(frame, top + [(u, v + gap * 0.1) for u, v in middle][::-1])) * opening
        _paint(image, teeth, (0.92, 0.9, 0.85))
    else:
        _paint(image, _as_alpha(_curve(frame, middle, 0.02)) * 0.8, np.array(identity.lips, np.float32) * 0.45)


def _draw_glasses(image: np.ndarray, identity: Identity, frame: _Frame) -> None:
    rims = _blank(frame.size)
    for side in (-1, 1):
        _ellipse(frame, side * identity.eye_spacing, identity.eye_y, identity.eye_w * 1.35, identity.eye_w * 1.05,
                 thickness=frame.pixels(0.03), mask=rims)
    bridge_y = identity.eye_y - identity.eye_w * 0.3
    cv2.line(rims, frame.fixed(-identity.eye_spacing + identity.eye_w * 1.3, bridge_y),
             frame.fixed(identity.eye_spacing - identity.eye_w * 1.3, bridge_y), 255, frame.pixels(0.03),
             cv2.LINE_AA, _SHIFT)
    _paint(image, _as_alpha(rims), (0.08, 0.07, 0.07))


@dataclass
class Scene:
    """A drawn face before the camera: the image and the regions artifacts need."""

    image: np.ndarray  # float32 HxWx3 RGB in [0, 1]
    skin: np.ndarray  # float32 HxW alpha: the head, where over-smoothing happens
    frame: _Frame


def render_scene(identity: Identity, size: int) -> Scene:
    """Draw the face of `identity` at `size` pixels, with no camera effects yet."""
    rng = np.random.default_rng(identity.texture_seed)  # textures belong to the identity, not the photo
    frame = _Frame(identity, size)
    e = identity.elong
    skin = np.array(identity.skin, np.float32)
    image = draw_background(identity, size, rng)
    hair_field = _hair_field(identity, size, rng)
    hair_behind, hair_top = _hair_masks(identity, frame, rng)

    _paint(image, hair_behind, hair_field * 0.8)
    shoulders = _as_alpha(_ellipse(frame, 0, 1.05 * e + 1.25, 2.3, 1.0))
    _paint(image, shoulders, identity.shirt)
    neck = _as_alpha(_polygon(frame, [(-0.42, 0.6 * e), (0.42, 0.6 * e), (0.46, 1.05 * e + 0.45),
                                      (-0.46, 1.05 * e + 0.45)]))
    _paint(image, neck, skin * 0.72)
    ears = np.maximum(_as_alpha(_ellipse(frame, -1.0, identity.eye_y + 0.2, 0.16, 0.28)),
                      _as_alpha(_ellipse(frame, 1.0, identity.eye_y + 0.2, 0.16, 0.28)))
    _paint(image, ears, skin * 0.82)

    head = _as_alpha(_ellipse(frame, 0, 0, 1.0, e))
    shading = _head_shading(identity, frame)
    # Skin texture (pores, fine unevenness): the grain that an over-smoothed fake loses.
    pores = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0), PORE_SIZE * size / 128)
    skin_field = skin * shading[..., None] * (1.0 + PORE_DEPTH * pores[..., None])
    _paint(image, head, np.clip(skin_field, 0, 1))
    blush = cv2.GaussianBlur(np.maximum(_as_alpha(_ellipse(frame, -0.5, 0.35, 0.2, 0.14)),
                                        _as_alpha(_ellipse(frame, 0.5, 0.35, 0.2, 0.14))), (0, 0), frame.unit * 0.08)
    _paint(image, blush * 0.25, np.clip(skin * np.array([1.05, 0.75, 0.75], np.float32), 0, 1))

    _draw_nose(image, identity, frame, skin * shading[..., None])
    _draw_eye(image, identity, frame, -1)
    _draw_eye(image, identity, frame, 1)
    _draw_brows(image, identity, frame)
    _draw_mouth(image, identity, frame)
    _paint(image, hair_top, hair_field)
    if identity.glasses:
        _draw_glasses(image, identity, frame)
    image *= _room_light(identity, size)
    skin_region = np.maximum(np.maximum(head, neck), ears) * (1.0 - hair_top)
    return Scene(np.clip(image, 0, 1), skin_region, frame)


def _room_light(identity: Identity, size: int) -> np.ndarray:
    """Exposure and light falling off across the room: photos differ in their overall layout of brightness."""
    x, y = _grid(size)
    angle, amount = identity.room_light
    ramp = (x - 0.5) * math.cos(angle) + (y - 0.5) * math.sin(angle)
    return (identity.exposure * (1.0 + amount * ramp))[..., None].astype(np.float32)


# ---------------------------------------------------------------------------
# Artifacts: what each kind of deepfake leaves behind
# ---------------------------------------------------------------------------

# Full-strength parameters; `strength` scales them down.
GAN_CHECKERBOARD_GAIN = 0.25  # uneven tap overlap of the transposed convolution
GAN_EARLIER_LAYER = 0.6  # the earlier layer's checkerboard, relative to the last one's
SWAP_TONE_SHIFT = 0.3  # colour/brightness mismatch of the pasted inner face
SWAP_BLUR = 2.0  # resolution mismatch: the pasted face was rendered smaller and scaled up
SMOOTH_SIGMA = 3.0  # how hard the skin is denoised: the spatial reach of the filter, in pixels
SMOOTH_COLOUR_SIGMA = 0.3  # bilateral: grain, pores and soft shading are flattened (waxy skin), strong edges mostly kept


def transposed_conv_upsample(image: np.ndarray, gain: float) -> np.ndarray:
    """Double the size the way a generator's stride-2 transposed convolution does.

    Zeros are inserted between pixels, then a 3x3 kernel spreads them. With the
    bilinear kernel every output pixel gets the same total weight; with the
    slightly-off taps a trained generator ends up with, pixels at odd positions
    get more weight than those at even ones. The result is a checkerboard, and a
    peak at the Nyquist frequency that no camera produces.
    """
    h, w = image.shape[:2]
    holes = np.zeros((2 * h, 2 * w, image.shape[2]), np.float32)
    holes[::2, ::2] = image
    g = 0.5 * (1.0 + gain)
    taps = np.array([g, 1.0, g], np.float32)
    up = cv2.sepFilter2D(holes, -1, taps, taps, borderType=cv2.BORDER_REFLECT_101)
    weight = (1.0 + 2 * g) ** 2 / 4.0  # mean gain over a 2x2 cell (1, 2g, 2g, 4g^2): keep brightness unchanged
    return up / weight


def checkerboard_gain(size: int, gain: float) -> np.ndarray:
    """The uneven per-pixel weight a stride-2 transposed convolution leaves (see transposed_conv_upsample)."""
    g = 0.5 * (1.0 + gain)
    weights = np.where(np.arange(size) % 2 == 0, 1.0, 2.0 * g).astype(np.float32)
    return (np.outer(weights, weights) / ((1.0 + 2.0 * g) ** 2 / 4.0))[..., None]


def gan_upsampling(identity: Identity, size: int, strength: float) -> Scene:
    """The whole image as a generator makes it: drawn at half size, then up-sampled.

    A generator stacks several up-sampling layers. The half-size image already
    carries the checkerboard of the layer before (period 4 once doubled: a peak at
    half the Nyquist frequency, which survives JPEG better), and the last layer
    adds its own (period 2: the Nyquist frequency).
    """
    gain = GAN_CHECKERBOARD_GAIN * strength
    half = render_scene(identity, size // 2)
    earlier_layer = half.image * checkerboard_gain(half.image.shape[0], gain * GAN_EARLIER_LAYER)
    image = transposed_conv_upsample(earlier_layer, gain)
    if image.shape[0] != size:  # odd sizes
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    skin = cv2.resize(half.skin, (size, size), interpolation=cv2.INTER_LINEAR)
    return Scene(np.clip(image, 0, 1), skin, _Frame(identity, size))


def _inner_face_mask(identity: Identity, frame: _Frame, feather: float) -> np.ndarray:
    mask = _as_alpha(_ellipse(frame, 0, identity.eye_y * 0.5 + 0.3, 0.78, 0.72 + 0.1 * identity.elong))
    return cv2.GaussianBlur(mask, (0, 0), max(0.5, feather * frame.unit))


def face_swap(photo: np.ndarray, identity: Identity, scene: Scene, strength: float, camera: Camera,
              rng: np.random.Generator) -> np.ndarray:
    """Paste another person's eyes, nose and mouth into this photo, as a face-swap model does."""
    size = photo.shape[0]
    skin = np.array(identity.skin, np.float32)
    # The donor's skin is close to the target's (swaps pick similar faces) but not equal.
    direction = rng.normal(0, 1, 3).astype(np.float32) + rng.choice([-1.0, 1.0])
    direction /= np.linalg.norm(direction) + 1e-6
    donor_skin = np.clip(skin * (1.0 + SWAP_TONE_SHIFT * strength * direction), 0.03, 0.99)
    donor = replace(identity, skin=tuple(float(c) for c in donor_skin), **sample_inner_face(rng, donor_skin),
                    light=(identity.light[0] + float(rng.normal(0, 0.15)), identity.light[1] + float(rng.normal(0, 0.15))))
    # The donor face is a photo too, but the swap model works at a lower resolution than
    # this one: the pasted face comes out softer, its grain blurred away.
    pasted = capture(render_scene(donor, size).image, camera, rng)
    pasted = cv2.GaussianBlur(pasted, (0, 0), 0.3 + SWAP_BLUR * strength * rng.uniform(0.5, 1.0))
    # A strong swap has a narrow, visible seam; a careful one feathers it wide.
    feather = 0.03 + 0.12 * (1.0 - strength) * rng.uniform(0.5, 1.0)
    alpha = _inner_face_mask(identity, scene.frame, feather)[..., None]
    return photo * (1.0 - alpha) + pasted * alpha


def over_smooth(image: np.ndarray, skin: np.ndarray, frame: _Frame, strength: float) -> np.ndarray:
    """Denoise the skin, as generators do: the face loses the grain the rest of the photo keeps."""
    sigma = SMOOTH_SIGMA * (0.5 + 0.5 * strength)
    smooth = cv2.bilateralFilter(image, d=-1, sigmaColor=SMOOTH_COLOUR_SIGMA, sigmaSpace=sigma)
    mask = cv2.GaussianBlur(skin, (0, 0), max(0.5, frame.unit * 0.05))[..., None] * min(1.0, 0.5 + 0.5 * strength)
    return image * (1.0 - mask) + smooth * mask


# ---------------------------------------------------------------------------
# The camera: the same finish for every image, real or fake
# ---------------------------------------------------------------------------


READ_NOISE = (0.02, 0.035)  # sensor noise std, fraction of full scale
SHOT_NOISE = (0.0, 0.02)  # extra noise std at full brightness


@dataclass(frozen=True)
class Camera:
    """The camera settings of one photo; real and fake photos draw them from the same ranges."""

    blur: float  # lens blur sigma, pixels
    read_noise: float  # sensor noise std
    shot_noise: float  # extra noise std at full brightness
    sharpen: float  # in-camera unsharp-mask amount


def sample_camera(rng: np.random.Generator) -> Camera:
    return Camera(blur=rng.uniform(0.0, 0.8), read_noise=rng.uniform(*READ_NOISE), shot_noise=rng.uniform(*SHOT_NOISE),
                  sharpen=rng.uniform(0.0, 0.6))


def capture(image: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Lens blur, then sensor noise: read noise plus shot noise (brighter pixels are noisier),
    mostly in brightness, a little in colour."""
    if camera.blur > 0.25:
        image = cv2.GaussianBlur(image, (0, 0), camera.blur)
    h, w = image.shape[:2]
    sigma = camera.read_noise + camera.shot_noise * np.sqrt(np.clip(image.mean(axis=2, keepdims=True), 0, 1))
    luma = rng.standard_normal((h, w, 1), dtype=np.float32)
    chroma = rng.standard_normal((h, w, 3), dtype=np.float32) * 0.4
    return (image + sigma * (luma + chroma)).astype(np.float32)


def develop(image: np.ndarray, camera: Camera) -> np.ndarray:
    """In-camera sharpening, then 8 bits."""
    if camera.sharpen >= 0.1:
        image = image + camera.sharpen * (image - cv2.GaussianBlur(image, (0, 0), 1.0))
    return to_uint8(image)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_face(rng: np.random.Generator, image_size: int = 128, artifact: str = "none",
                strength: float = 1.0) -> np.ndarray:
    """One photo, real (`artifact="none"`) or fake, as uint8 HxWx3 RGB before JPEG encoding.

    The identity, the artifact's own choices and the camera each draw from their
    own child generator, so a given `rng` seed shows the same person through the
    same camera whatever the artifact: handy for comparing a fake with its real.
    The children come from `rng.spawn(3)` in that order (identity first).
    """
    if artifact != "none" and artifact not in ARTIFACT_KINDS:
        raise ValueError(f"unknown artifact {artifact!r}; expected 'none' or one of {', '.join(ARTIFACT_KINDS)}")
    identity_rng, artifact_rng, camera_rng = rng.spawn(3)
    identity = sample_identity(identity_rng)
    camera = sample_camera(camera_rng)
    if artifact == "gan_upsampling":  # the generator makes the whole picture, which the camera then sees
        scene = gan_upsampling(identity, image_size, strength)
    else:
        scene = render_scene(identity, image_size)
    photo = capture(scene.image, camera, camera_rng)
    # Face swaps and smoothing happen to a photo, after its grain is there.
    if artifact == "face_swap":
        photo = face_swap(photo, identity, scene, strength, camera, artifact_rng)
    elif artifact == "over_smooth":
        photo = over_smooth(photo, scene.skin, scene.frame, strength)
    return develop(photo, camera)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - cv2 only fails on invalid input
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


# ---------------------------------------------------------------------------
# The dataset: which image goes where, then writing them
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoImage:
    file: str  # posix path relative to root, e.g. "train/real/real_0001.jpg"
    label: str  # "real" | "fake"
    split: str  # "train" | "val" | "test"
    artifact: str  # "none" or one of ARTIFACT_KINDS


@dataclass(frozen=True)
class _Job:
    image: DemoImage
    seed: int
    label_code: int
    index: int
    image_size: int


def split_counts(images_per_class: int, split: tuple[float, float, float] = DEFAULT_SPLIT) -> tuple[int, int, int]:
    """Images per class in train, val, test: train and val rounded, test gets the rest."""
    if images_per_class < MIN_IMAGES_PER_CLASS:
        raise ValueError(f"images_per_class must be at least {MIN_IMAGES_PER_CLASS} "
                         f"so every split gets images of both classes, got {images_per_class}")
    if len(split) != 3 or any(part < 0 for part in split) or abs(sum(split) - 1.0) > 1e-6:
        raise ValueError(f"split must be three non-negative fractions adding up to 1, got {split}")
    train = round(images_per_class * split[0])
    val = round(images_per_class * split[1])
    test = images_per_class - train - val
    if min(train, val, test) < 1:
        raise ValueError(f"split {split} leaves a split without images at {images_per_class} images per class")
    return train, val, test


def plan(images_per_class: int, seed: int = 0, split: tuple[float, float, float] = DEFAULT_SPLIT,
         image_size: int = 128) -> list[_Job]:
    """Every image to make: its file, split and artifact. Fake kinds take turns within each split."""
    counts = split_counts(images_per_class, split)
    width = max(4, len(str(images_per_class - 1)))
    jobs = []
    for label_code, label in enumerate(LABELS):
        index = 0
        for split_name, count in zip(SPLITS, counts):
            for position in range(count):
                artifact = "none" if label == "real" else ARTIFACT_KINDS[position % len(ARTIFACT_KINDS)]
                file = f"{split_name}/{label}/{label}_{index:0{width}d}.jpg"
                jobs.append(_Job(DemoImage(file, label, split_name, artifact), seed, label_code, index, image_size))
                index += 1
    return jobs


def image_rng(seed: int, label_code: int, index: int) -> np.random.Generator:
    # Seeded by (seed, class, index), never by position in a worker's queue: the same files for any worker count.
    return np.random.default_rng(np.random.SeedSequence([seed, label_code, index]))


def make_image(job: _Job) -> bytes:
    rng = image_rng(job.seed, job.label_code, job.index)
    artifact = job.image.artifact
    strength = float(rng.uniform(*STRENGTH_RANGE[artifact])) if artifact != "none" else 0.0
    quality = int(rng.integers(JPEG_QUALITY_RANGE[0], JPEG_QUALITY_RANGE[1] + 1))
    return encode_jpeg(render_face(rng, job.image_size, artifact, strength), quality)


def _write_chunk(args: tuple[Path, list[_Job]]) -> int:
    root, jobs = args
    for job in jobs:
        (root / job.image.file).write_bytes(make_image(job))
    return len(jobs)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # the pool already uses every core; cv2's own threads would only contend


def _chunks(jobs: list[_Job], size: int) -> Iterator[list[_Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def _pool_context():
    import multiprocessing

    # fork starts workers in milliseconds; elsewhere (macOS, Windows) only spawn is safe.
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def default_workers(total_images: int) -> int:
    # A pool costs a few hundred milliseconds to start: only worth it for a real dataset.
    return 1 if total_images < 200 else max(1, min(os.cpu_count() or 1, 8))


def write_manifest(root: Path, images: list[DemoImage]) -> None:
    with open(root / MANIFEST_NAME, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_HEADER)
        for image in images:
            writer.writerow((image.file, image.label, image.split, image.artifact))


def generate(root: Path, images_per_class: int = DEFAULT_IMAGES_PER_CLASS, seed: int = 0,
             split: tuple[float, float, float] = DEFAULT_SPLIT, image_size: int = 128,
             progress: Progress = NO_PROGRESS, workers: int | None = None) -> list[DemoImage]:
    """Writes root/{train,val,test}/{real,fake}/*.jpg and root/manifest.csv. `root` may exist (empty) or not."""
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
    jobs = plan(images_per_class, seed, split, image_size)
    root = Path(root)
    for split_name in SPLITS:
        for label in LABELS:
            (root / split_name / label).mkdir(parents=True, exist_ok=True)
    workers = default_workers(len(jobs)) if workers is None else max(1, int(workers))
    chunk = max(1, min(25, len(jobs) // (workers * 4) or 1))
    with progress.task("Generating demo faces", total=len(jobs), unit="images") as task:
        chunks = [(root, part) for part in _chunks(jobs, chunk)]
        if workers == 1:
            for part in chunks:
                task.advance(_write_chunk(part))
        else:
            # OpenCV's worker threads (started by face detection, say) may hold a lock at the moment
            # of a fork, and the child then hangs on it: stop them while the pool starts.
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                with _pool_context().Pool(workers, initializer=_init_worker) as pool:
                    for done in pool.imap_unordered(_write_chunk, chunks):
                        task.advance(done)
            finally:
                cv2.setNumThreads(threads)
    images = [job.image for job in jobs]
    write_manifest(root, images)
    return images

