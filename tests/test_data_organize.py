"""`dfcoach data organize`: a person's own folder becomes the training layout."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import image_bytes, make_dataset, make_faces_folder, write_image
from deepfake_coach.data import organize as organize_module
from deepfake_coach.data.organize import split_counts, parse_split
from deepfake_coach.errors import UsageError


def files_in(root: Path) -> dict[str, list[str]]:
    return {
        f"{split}/{label}": sorted(p.name for p in (root / split / label).iterdir())
        for split in ("train", "val", "test")
        for label in ("real", "fake")
    }


def counts(root: Path) -> dict[str, int]:
    return {key: len(names) for key, names in files_in(root).items()}


def test_organizes_a_flat_folder_70_20_10(cli, tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=20, fake=30)
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert counts(dataset) == {
        "train/real": 14, "val/real": 4, "test/real": 2,
        "train/fake": 21, "val/fake": 6, "test/fake": 3,
    }
    assert "Organized 50 images" in result.stderr
    assert "Dataset statistics" in result.stdout
    # the source is untouched
    assert len(list((src / "real").iterdir())) == 20


def test_split_is_reproducible_and_depends_on_the_seed(cli, tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=30, fake=30)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert cli("data", "organize", src, "--data-dir", tmp_path / name, "--seed", seed).exit_code == 0
    assert files_in(tmp_path / "a") == files_in(tmp_path / "b")
    assert files_in(tmp_path / "a") != files_in(tmp_path / "c")


def test_custom_split(cli, tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=20, fake=20)
    assert cli("data", "organize", src, "--data-dir", tmp_path / "d", "--split", "80/10/10").exit_code == 0
    assert counts(tmp_path / "d")["train/real"] == 16


def test_nested_folders_and_capitalised_names(cli, tmp_path):
    src = tmp_path / "download"
    for i in range(6):
        write_image(src / "photos" / "Real" / "2023" / f"img_{i}.jpg", i)
        write_image(src / "photos" / "Real" / "2024" / f"img_{i}.jpg", 100 + i)  # same names, other folder
        write_image(src / "photos" / "FAKE" / f"img_{i}.png", 200 + i, fmt="PNG")
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    names = [n for key, ns in files_in(tmp_path / "d").items() if "real" in key for n in ns]
    assert len(names) == 12 and len(set(names)) == 12
    assert "2023__img_0.jpg" in names and "2024__img_0.jpg" in names
    assert sum(counts(tmp_path / "d")[k] for k in ("train/fake", "val/fake", "test/fake")) == 6


def test_already_split_source_keeps_its_splits(cli, tmp_path):
    src = tmp_path / "real_vs_fake" / "real-vs-fake"
    seed = 0
    for split, n in (("train", 8), ("valid", 3), ("test", 2)):
        for label in ("real", "fake"):
            for i in range(n):
                seed += 1
                write_image(src / split / label / f"{i}.jpg", seed)
    result = cli("data", "organize", tmp_path / "real_vs_fake", "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert counts(tmp_path / "d") == {"train/real": 8, "train/fake": 8, "val/real": 3, "val/fake": 3, "test/real": 2, "test/fake": 2}
    assert "already split" in result.stderr


def test_split_source_without_val_gets_one_carved_from_train(cli, tmp_path):
    src = tmp_path / "src"
    for label in ("real", "fake"):
        for i in range(18):
            write_image(src / "Training" / label / f"{i}.jpg", i + (0 if label == "real" else 500))
        for i in range(2):
            write_image(src / "Testing" / label / f"{i}.jpg", 1000 + i + (0 if label == "real" else 500))
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    c = counts(tmp_path / "d")
    assert c["test/real"] == 2 and c["val/real"] == 4 and c["train/real"] == 14
    assert "no val split" in result.stderr


def test_wrong_extensions_and_bad_files(cli, tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=10, fake=10)
    (src / "real" / "photo.txt").write_bytes(image_bytes(77))  # a JPEG with the wrong name
    (src / "real" / "noext").write_bytes(image_bytes(78, fmt="PNG"))
    (src / "fake" / "empty.jpg").write_bytes(b"")
    (src / "fake" / "notes.jpg").write_text("not a picture")
    good = image_bytes(79)
    (src / "fake" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (src / "fake" / ".DS_Store").write_bytes(b"\0\1")
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    all_names = [n for names in files_in(tmp_path / "d").values() for n in names]
    assert "photo.jpg" in all_names and "noext.png" in all_names
    assert not any(n.startswith(("empty", "notes", "truncated", ".DS")) for n in all_names)
    assert "skipped 3 files" in result.stderr
    for name in ("empty.jpg: empty file", "notes.jpg: damaged or not a picture", "truncated.jpg: damaged or not a picture"):
        assert name in result.stderr
    assert "2 images had names that did not end like an image" in result.stderr
    record = json.loads((tmp_path / "d" / ".dfcoach" / "organize.json").read_text())
    assert len(record["skipped"]) == 3


def test_a_name_too_long_once_its_folders_join_it_is_shortened_and_listed(cli, tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=10, fake=10)
    folder, name = "f" * 200, "p" * 120 + ".jpg"  # 200 + 2 + 124 characters: more than a file name may have
    write_image(src / "real" / folder / name, 777)
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "Organized 21 images" in result.stderr
    assert "1 image had a name too long for a file" in result.stderr and f"real/{folder}/{name} -> " in result.stderr
    (kept,) = [p for p in (tmp_path / "d").rglob("*.jpg") if "ppp" in p.name]
    assert kept.name.endswith(name) and len(kept.name) <= 255 and kept.read_bytes() == (src / "real" / folder / name).read_bytes()
    record = json.loads((tmp_path / "d" / ".dfcoach" / "organize.json").read_text())
    assert record["shortened"] == [{"file": f"real/{folder}/{name}", "name": kept.relative_to(tmp_path / "d").as_posix()}]


def test_a_file_whose_path_is_too_long_to_write_is_skipped_and_listed(cli, tmp_path, monkeypatch):
    src = make_faces_folder(tmp_path / "mine", real=10, fake=10)
    real_copy = shutil.copy2

    def too_long_for_one(source, target):
        if Path(source).name == "real_004.jpg":
            raise OSError(36, "File name too long", str(target))
        return real_copy(source, target)

    monkeypatch.setattr(organize_module.shutil, "copy2", too_long_for_one)
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "Organized 19 images" in result.stderr
    assert "skipped 1 file, each listed with the reason" in result.stderr
    assert "real/real_004.jpg: its path in the dataset would be longer than your file system allows" in result.stderr
    assert sum(counts(tmp_path / "d").values()) == 19


def test_copies_of_a_picture_stay_in_one_split(tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=40, fake=40)
    for i in range(10):  # ten real photos also saved again under another name, re-encoded as PNG
        shutil.copy(src / "real" / f"real_{i:03d}.jpg", src / "real" / f"copy_{i}.jpg")
    result = organize_module.organize(src, tmp_path / "d", seed=3)
    assert result.total == 90
    where = {name: key for key, names in files_in(tmp_path / "d").items() for name in names}
    for i in range(10):
        assert where[f"copy_{i}.jpg"] == where[f"real_{i:03d}.jpg"]


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("hello"), "is a file, not a folder"),
        (lambda p: p.mkdir(), "is empty"),
        (lambda p: write_image(p / "misc" / "a.jpg", 1), "Found no real/ or fake/ folder"),
        (lambda p: [write_image(p / "real" / f"{i}.jpg", i) for i in range(5)], "has real/ but no fake/ folder"),
    ],
    ids=["missing", "file", "empty", "no-classes", "one-class"],
)
def test_bad_sources_get_clear_messages(cli, tmp_path, setup, message):
    src = tmp_path / "src"
    setup(src)
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert message in result.stderr
    assert "How to fix" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "d").exists()


def test_zip_file_source_says_to_unzip(cli, tmp_path):
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("real/a.jpg", image_bytes(1))
    result = cli("data", "organize", archive, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "is a zip file" in result.stderr and "Unzip it first" in result.stderr


def test_class_with_only_unreadable_files(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=5, fake=0)
    (src / "fake").mkdir()
    (src / "fake" / "broken.jpg").write_bytes(b"nope")
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "no usable fake images" in result.stderr
    # what was found is said here: nothing was listed before this message (it stops before the summary)
    assert "fake/ holds 1 file, and none is a picture dfcoach can train on: fake/broken.jpg (" in result.stderr
    assert "listed above" not in result.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("what, said", [
    ("text", "fake/ holds 1 file, and none is a picture dfcoach can train on: fake/notes.txt ("),
    ("empty", "There are no fake images in"),
])
def test_a_class_folder_without_pictures_says_what_it_holds(cli, tmp_path, what, said):
    src = make_faces_folder(tmp_path / "src", real=5, fake=0)
    (src / "fake").mkdir()
    if what == "text":
        (src / "fake" / "notes.txt").write_text("my notes")
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1 and said in result.stderr and "listed above" not in result.stderr
    if what == "empty":
        assert "fake/ holds no files" in result.stderr


def test_the_same_photo_in_real_and_fake_goes_to_one_split_and_is_named(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=30, fake=30)
    for i in range(4):  # four pictures carry both labels
        shutil.copy(src / "real" / f"real_{i:03d}.jpg", src / "fake" / f"also_{i}.jpg")
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert "4 pictures are in both real/ and fake/: keep each in one" in result.stderr
    assert "real/real_000.jpg = fake/also_0.jpg" in result.stderr
    for i in range(4):
        (real_copy,) = list((tmp_path / "d").glob(f"*/real/real_{i:03d}.jpg"))
        (fake_copy,) = list((tmp_path / "d").glob(f"*/fake/also_{i}.jpg"))
        assert real_copy.parent.parent == fake_copy.parent.parent  # one split
    check = cli("data", "check", "--data-dir", tmp_path / "d")
    # no leakage to loop on (organize --force would rebuild the same thing): the picture is named as carrying both labels
    assert "more than one split" not in check.stdout and "in both real/ and fake/: keep each in one" in check.stdout


def test_too_few_images_to_split(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=2, fake=5)
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "at least 3 are needed" in result.stderr


def test_existing_dataset_is_not_replaced_without_force(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=10, fake=10)
    dataset = make_dataset(tmp_path / "dataset")
    before = files_in(dataset)
    result = cli("data", "organize", src, "--data-dir", dataset)
    assert result.exit_code == 2  # a question nobody could answer: the flag is named
    assert "--force" in result.stderr
    assert files_in(dataset) == before

    result = cli("data", "organize", src, "--data-dir", dataset, "--force")
    assert result.exit_code == 0, result.output
    assert files_in(dataset) != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "src"]  # no staging or backup left


def test_an_empty_skeleton_is_filled_without_asking(cli, tmp_path):
    assert cli("data", "download", "sample", "--data-dir", tmp_path / "d").exit_code == 0
    src = make_faces_folder(tmp_path / "src", real=10, fake=10)
    assert cli("data", "organize", src, "--data-dir", tmp_path / "d").exit_code == 0


def test_link_mode_uses_hard_links(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=10, fake=10)
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d", "--link")
    assert result.exit_code == 0, result.output
    linked = next((tmp_path / "d" / "train" / "real").iterdir())
    assert linked.stat().st_nlink == 2
    assert "linked 20" in result.stderr


def test_link_falls_back_to_symlinks_across_file_systems(tmp_path, monkeypatch):
    src = make_faces_folder(tmp_path / "src", real=5, fake=5)

    def cross_device(a, b):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(organize_module.os, "link", cross_device)
    organize_module.organize(src, tmp_path / "d", link=True)
    linked = next((tmp_path / "d" / "train" / "real").iterdir())
    assert linked.is_symlink() and linked.resolve().parent == (src / "real").resolve()


def test_source_inside_the_dataset_is_refused(cli, tmp_path):
    dataset = make_faces_folder(tmp_path / "dataset", real=5, fake=5)
    result = cli("data", "organize", dataset, "--data-dir", dataset, "--force")
    assert result.exit_code == 1
    assert "inside the dataset folder" in result.stderr
    assert len(list((dataset / "real").iterdir())) == 5


def test_ctrl_c_while_copying_leaves_nothing_behind(cli, tmp_path, monkeypatch):
    src = make_faces_folder(tmp_path / "src", real=20, fake=20)
    dataset = make_dataset(tmp_path / "dataset")
    before = files_in(dataset)
    real_copy, copied = shutil.copy2, []

    def copy_then_interrupt(a, b):
        if len(copied) == 15:
            raise KeyboardInterrupt
        copied.append(a)
        return real_copy(a, b)

    monkeypatch.setattr(organize_module.shutil, "copy2", copy_then_interrupt)
    result = cli("data", "organize", src, "--data-dir", dataset, "--force")
    assert result.exit_code == 130
    assert "Stopped by you" in result.stderr and "is as it was before" in result.stderr
    assert files_in(dataset) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "src"]

    monkeypatch.setattr(organize_module.shutil, "copy2", real_copy)
    assert cli("data", "organize", src, "--data-dir", dataset, "--force").exit_code == 0


def test_a_run_killed_outright_is_cleaned_up_by_the_next(cli, tmp_path):
    src = make_faces_folder(tmp_path / "src", real=10, fake=10)
    leftover = tmp_path / ".dataset.dfcoach-partial"
    write_image(leftover / "train" / "real" / "half.jpg", 1)
    assert cli("data", "organize", src, "--data-dir", tmp_path / "dataset").exit_code == 0
    assert not leftover.exists()


def test_read_only_target_is_reported(cli, tmp_path, monkeypatch):
    src = make_faces_folder(tmp_path / "src", real=5, fake=5)
    parent = tmp_path / "locked"
    parent.mkdir()
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.parent == parent:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    if os.geteuid() == 0:  # root ignores file modes, so the refusal is injected
        monkeypatch.setattr(Path, "mkdir", refuse)
    else:
        parent.chmod(0o500)
    try:
        result = cli("data", "organize", src, "--data-dir", parent / "dataset")
    finally:
        parent.chmod(0o700)
    assert result.exit_code == 1
    assert "permission denied" in result.stderr
    assert "chmod u+w" in result.stderr
    assert list(parent.iterdir()) == []


def test_disk_full_before_copying(cli, tmp_path, monkeypatch):
    src = make_faces_folder(tmp_path / "src", real=5, fake=5)
    monkeypatch.setattr(organize_module.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 10))
    result = cli("data", "organize", src, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "Not enough free disk space" in result.stderr and "--link" in result.stderr


def test_parse_split():
    assert parse_split("70/20/10") == pytest.approx((0.7, 0.2, 0.1))
    assert parse_split("0.8,0.1,0.1") == pytest.approx((0.8, 0.1, 0.1))
    for bad in ("70/30", "a/b/c", "70/30/0", "-10/60/50"):
        with pytest.raises(UsageError):
            parse_split(bad)


def test_split_counts_give_every_split_an_image():
    assert split_counts(10, (0.7, 0.2, 0.1)) == [7, 2, 1]
    assert split_counts(3, (0.7, 0.2, 0.1)) == [1, 1, 1]
    assert split_counts(5, (0.7, 0.2, 0.1)) == [3, 1, 1]
    assert sum(split_counts(1234, (0.7, 0.2, 0.1))) == 1234
