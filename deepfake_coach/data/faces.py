"""Finding the face in a picture and cutting it out, the same way everywhere.

The dataset builder, video verdicts and the service's analyze-frame all crop with
these functions, so a detector is judged on the same kind of picture it learned
from: the largest face, a square 1.3 times its box (some hair, chin and
background around it, as DeepfakeBench and FaceForensics++ crop), resized.

The face detector is OpenCV's Haar cascade for frontal faces, which ships inside
opencv-python (no download, works offline). It is fast and good enough for
frontal faces in videos like FaceForensics++; it misses faces in profile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from deepfake_coach.errors import CoachError

CASCADE_FILE = "haarcascade_frontalface_default.xml"
MARGIN = 1.3  # the square crop's side, as a multiple of the face box's longer side
FACE_SIZE = 256  # pixels per side of a saved face crop
# Pictures are searched at this many pixels on the longer side at most: big frames
# (1080p) cost ten times more to search and find the same faces.
DETECTION_SIZE = 640
MIN_FACE_FRACTION = 0.05  # faces smaller than this share of the shorter side are ignored (background people)
SCALE_FACTOR = 1.1  # step between the sizes searched, OpenCV's usual value
MIN_NEIGHBORS = 5  # overlapping detections needed to accept a face: fewer finds more faces and more mistakes
# A single frame sent to the service is about one face, not a crowd: looking only for faces of at least a
# fifth of the picture, in coarser steps, finds the same faces on the sample photos 5x faster (13 against
# 69 ms for a 256 px photo), which keeps analyze-frame's latency about the model's.
FRAME_SEARCH = {"min_face_fraction": 0.2, "scale_factor": 1.2}

_local = threading.local()  # a cascade classifier must not be shared between threads (the service uses several)


@dataclass(frozen=True)
class FaceBox:
    """A face's box in pixels of the picture it was found in."""

    left: int
    top: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    def to_dict(self) -> dict:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


def _cascade():
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        import cv2

        path = cv2.data.haarcascades + CASCADE_FILE
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise CoachError(
                f"OpenCV's face detector ({CASCADE_FILE}) is missing from this installation.",
                hint='Reinstall OpenCV 4: pip install --force-reinstall "opencv-python-headless>=4.8,<5"',
            )
        _local.cascade = cascade
    return cascade


def _gray(image) -> np.ndarray:
    """A uint8 grey array from a PIL image or an RGB / grey numpy array."""
    import cv2

    pixels = np.asarray(image.convert("L") if hasattr(image, "convert") else image)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def find_faces(image, min_face_fraction: float = MIN_FACE_FRACTION, scale_factor: float = SCALE_FACTOR) -> list[FaceBox]:
    """Every frontal face found in a PIL image or an RGB numpy array, largest first."""
    import cv2

    gray = _gray(image)
    height, width = gray.shape
    scale = min(1.0, DETECTION_SIZE / max(height, width))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    gray = cv2.equalizeHist(gray)  # evens out dim or washed-out frames; the cascade finds more faces after it
    smallest = max(20, round(min_face_fraction * min(gray.shape)))
    found = _cascade().detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=MIN_NEIGHBORS, minSize=(smallest, smallest))
    boxes = [
        FaceBox(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in (found if len(found) else [])
    ]
    return sorted(boxes, key=lambda box: box.area, reverse=True)


def find_largest_face(image, **search) -> FaceBox | None:
    """The largest frontal face in a PIL image or an RGB numpy array, or None when there is none."""
    faces = find_faces(image, **search)
    return faces[0] if faces else None


def square_around(box: FaceBox, image_width: int, image_height: int, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a square `margin` times the box, centred on it, moved inside the picture.

    Near an edge the square slides inwards rather than being cut, so it stays square;
    only a picture smaller than the square makes it smaller."""
    side = min(round(max(box.width, box.height) * margin), image_width, image_height)
    centre_x, centre_y = box.left + box.width / 2, box.top + box.height / 2
    left = min(max(0, round(centre_x - side / 2)), image_width - side)
    top = min(max(0, round(centre_y - side / 2)), image_height - side)
    return left, top, left + side, top + side


def crop_face(image, box: FaceBox, margin: float = MARGIN, size: int | None = FACE_SIZE):
    """The square crop around `box` from a PIL image (or an RGB array), as an RGB PIL image `size` pixels wide."""
    from PIL import Image

    picture = image if hasattr(image, "crop") else Image.fromarray(np.asarray(image))
    picture = picture.convert("RGB")
    crop = picture.crop(square_around(box, picture.width, picture.height, margin))
    if size is not None and crop.size != (size, size):
        crop = crop.resize((size, size), Image.BICUBIC)
    return crop


def crop_largest_face(image, margin: float = MARGIN, size: int | None = None, **search):
    """(the square crop around the largest face, True), or (the picture unchanged, False) when no face is found.

    For judging a single picture (the service's analyze-frame): `size=None` keeps the
    crop's own pixels, since the detector resizes to its own input size anyway."""
    if hasattr(image, "getexif"):  # a phone photo stored sideways: look for the face the way people see it
        from PIL import ImageOps

        image = ImageOps.exif_transpose(image)
    box = find_largest_face(image, **search)
    if box is None:
        return image, False
    return crop_face(image, box, margin, size), True
