"""Finding the largest face and cutting the square around it (data/faces.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from video_files import FACE_SEEDS, demo_face, no_face_frame
from deepfake_coach.data.faces import FaceBox, crop_face, crop_largest_face, find_faces, find_largest_face, square_around


def test_finds_the_face_of_a_demo_person_in_numpy_and_pil_pictures():
    face = demo_face(FACE_SEEDS[0])
    box = find_largest_face(face)
    assert box is not None
    # the drawn head is in the middle third of the picture, and the box around it is a sensible size
    centre_x, centre_y = box.left + box.width / 2, box.top + box.height / 2
    assert 32 < centre_x < 96 and 32 < centre_y < 96
    assert 30 <= box.width <= 128
    assert find_largest_face(Image.fromarray(face)) == box
    assert find_largest_face(Image.fromarray(face).convert("L")) == box


def test_no_face_gives_none():
    assert find_largest_face(no_face_frame()) is None
    assert find_largest_face(np.zeros((40, 60, 3), np.uint8)) is None


def test_the_largest_of_two_faces_wins():
    small = np.asarray(Image.fromarray(demo_face(FACE_SEEDS[0])).resize((96, 96)))
    canvas = np.zeros((128, 96 + 128, 3), np.uint8)
    canvas[:] = small.mean(axis=(0, 1)).astype(np.uint8)
    canvas[:96, :96] = small
    canvas[:, 96:] = demo_face(FACE_SEEDS[8])
    faces = find_faces(canvas)
    assert len(faces) == 2
    largest = find_largest_face(canvas)
    assert largest == faces[0] and largest.left > 96  # the 128 px person on the right
    assert faces[1].area < largest.area


def test_big_pictures_are_searched_smaller_and_the_box_is_scaled_back():
    face = np.asarray(Image.fromarray(demo_face(FACE_SEEDS[0])).resize((1024, 1024), Image.BICUBIC))
    box = find_largest_face(face)
    assert box is not None
    assert 256 < box.left + box.width / 2 < 768 and box.width > 240


def test_square_is_1_3_times_the_box_and_centred():
    left, top, right, bottom = square_around(FaceBox(100, 100, 100, 80), 1000, 1000)
    assert right - left == bottom - top == 130
    assert (left + right) / 2 == 150 and (top + bottom) / 2 == 140


def test_square_slides_inside_the_picture_at_an_edge_and_shrinks_only_when_it_must():
    assert square_around(FaceBox(0, 0, 100, 100), 640, 480) == (0, 0, 130, 130)
    assert square_around(FaceBox(560, 400, 80, 80), 640, 480) == (536, 376, 640, 480)
    assert square_around(FaceBox(10, 10, 100, 100), 120, 90) == (15, 0, 105, 90)


def test_crop_face_is_square_at_the_asked_size():
    face = demo_face(FACE_SEEDS[0])
    box = find_largest_face(face)
    crop = crop_face(face, box)
    assert crop.size == (256, 256) and crop.mode == "RGB"
    assert crop_face(Image.fromarray(face), box, size=None).size[0] == min(round(max(box.width, box.height) * 1.3), 128)


def test_crop_largest_face_says_whether_it_cropped():
    picture = Image.fromarray(demo_face(FACE_SEEDS[3]))
    cropped, found = crop_largest_face(picture)
    assert found and cropped.width == cropped.height < picture.width
    same, found = crop_largest_face(Image.fromarray(no_face_frame()))
    assert not found and same.size == (128, 128)


def test_crop_largest_face_looks_at_a_sideways_photo_the_way_people_see_it(tmp_path):
    # a phone photo stored turned, with an EXIF orientation tag saying how to show it upright
    stored = Image.fromarray(demo_face(FACE_SEEDS[4])).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show"
    stored.save(tmp_path / "photo.jpg", exif=exif.tobytes(), quality=95)
    assert find_largest_face(Image.open(tmp_path / "photo.jpg")) is None  # as stored, the face lies on its side
    _, found = crop_largest_face(Image.open(tmp_path / "photo.jpg"))
    assert found
