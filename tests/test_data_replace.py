"""`--force` (and the wizard's --replace-data) replace a dataset only with a better one: only a folder
that is a dataset, only once the new one is complete and passes the check, never from a source inside it.
Every source, through the commands and through `dfcoach init`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from conftest import make_dataset, make_faces_folder, write_image
from kaggle_fixtures import ROOT, home, make_140k_zip  # noqa: F401  (fixtures)
from video_files import make_faceforensics_tree, write_face_video, write_no_face_video, FACE_SEEDS

SMALL = ("--train-per-class", 5, "--val-per-class", 2, "--test-per-class", 2)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` and its bytes, except dfcoach's derived data (.dfcoach/)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".dfcoach" not in p.relative_to(folder).parts}


def no_leftovers(parent: Path) -> bool:
    return not [p.name for p in parent.iterdir() if p.name.endswith((".dfcoach-partial", ".dfcoach-old"))]


def make_documents(folder: Path) -> Path:
    """A folder that is not a dataset: what --force must never delete."""
    (folder / "taxes").mkdir(parents=True)
    (folder / "taxes" / "2025.pdf").write_bytes(b"%PDF- my taxes")
    (folder / "notes.txt").write_text("remember the milk")
    return folder


# --- a folder that is not a dataset is never replaced ---------------------------------------------


def test_force_on_a_folder_that_is_not_a_dataset_is_refused_and_deletes_nothing(cli, tmp_path):
    documents = make_documents(tmp_path / "Documents")
    before = snapshot(documents)
    result = cli("data", "download", "tiny_demo", "--data-dir", documents, "--images-per-class", 10, "--force")
    assert result.exit_code == 1
    assert f"{documents} holds 2 files and 1 folder (taxes/, notes.txt) that are not part of a dfcoach dataset" in result.stderr
    assert "Choose an empty or new folder" in result.stderr and "Traceback" not in result.output
    assert snapshot(documents) == before
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize("command", ["organize", "videos", "faceforensics"])
def test_every_source_refuses_a_folder_that_is_not_a_dataset(cli, tmp_path, command):
    documents = make_documents(tmp_path / "Documents")
    before = snapshot(documents)
    source = tmp_path / "source"
    if command == "organize":
        make_faces_folder(source, real=5, fake=5)
        args = ("data", "organize", source)
    elif command == "videos":
        seeds = iter(FACE_SEEDS)
        for label in ("real", "fake"):
            for i in range(3):
                write_face_video(source / label / f"{label}_{i}.mp4", next(seeds), 2)
        args = ("data", "organize", source, "--videos", "--frames", 2)
    else:
        make_faceforensics_tree(source, [("000", "001"), ("002", "003"), ("004", "005")], methods=("Deepfakes",), frames=2)
        args = ("data", "download", "faceforensics", "--source", source, "--methods", "Deepfakes", "--frames", 2)
    result = cli(*args, "--data-dir", documents, "--force")
    assert result.exit_code == 1, result.output
    assert "that are not part of a dfcoach dataset" in result.stderr
    assert snapshot(documents) == before


def test_kaggle_refuses_a_folder_that_is_not_a_dataset(cli, home, tmp_path):
    documents = make_documents(Path("Documents"))
    before = snapshot(documents)
    result = cli("data", "download", "kaggle_140k", "--archive", make_140k_zip(tmp_path / "a.zip", size=72), *SMALL,
                 "--data-dir", documents, "--force")
    assert result.exit_code == 1
    assert "that are not part of a dfcoach dataset" in result.stderr
    assert snapshot(documents) == before


def test_a_dataset_with_a_file_of_yours_beside_it_is_not_replaced(cli, tmp_path):
    dataset = make_dataset(tmp_path / "dataset")
    (dataset / "notes.txt").write_text("which photos came from where")
    (dataset / "train" / "keep.txt").write_text("mine")
    before = snapshot(dataset)
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 10, "--force")
    assert result.exit_code == 1
    assert "holds 2 files (notes.txt, train/keep.txt)" in result.stderr
    assert snapshot(dataset) == before


def test_the_wizard_refuses_a_folder_that_is_not_a_dataset(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    documents = make_documents(tmp_path / "Documents")
    before = snapshot(documents)
    result = cli("--no-input", "init", "--dataset", "tiny_demo", "--data-dir", documents, "--replace-data", "--yes",
                 "--images-per-class", 10, "--model", "custom_cnn", "--image-size", 32, "--skip-full", "--no-deploy")
    assert result.exit_code == 1
    assert "that are not part of a dfcoach dataset" in result.stderr and "--keep-data" in result.stderr
    assert snapshot(documents) == before


# --- a source that is the dataset, or inside it ---------------------------------------------------


@pytest.mark.parametrize("inside", [False, True])
def test_archive_pointing_at_the_dataset_folder_is_refused(cli, home, tmp_path, inside):
    dataset = make_dataset(Path("dataset"))
    archive = dataset
    if inside:  # the 140k zip kept in the dataset folder would be deleted with the old dataset
        archive = make_140k_zip(dataset / "140k.zip", size=72)
    before = snapshot(dataset)
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL, "--force")
    assert result.exit_code == 1
    assert ("is inside the dataset folder" if inside else "is the dataset folder itself") in result.stderr
    assert "changed nothing" in result.stderr
    assert snapshot(dataset) == before


def test_a_download_folder_inside_the_dataset_is_refused_before_downloading(cli, home, tmp_path):
    make_dataset(Path("dataset"))
    result = cli("data", "download", "kaggle_140k", "--download-dir", "dataset/downloads", *SMALL, "--force")
    assert result.exit_code == 1
    assert "is inside the dataset folder" in result.stderr
    assert not Path("dataset/downloads").exists()


# --- the new dataset must pass the check before the old one goes -----------------------------------


def non_image_zip(path: Path) -> Path:
    """The 140k layout, but every .jpg is a web page: 18 unusable files."""
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "valid", "test"):
            for label in ("real", "fake"):
                for i in range(3):
                    archive.writestr(f"{ROOT}/{split}/{label}/{i:05d}.jpg", b"<html>not a picture</html>")
    return path


def test_a_zip_of_non_images_with_force_keeps_the_old_dataset(cli, home, tmp_path):
    dataset = make_dataset(Path("dataset"))
    before = snapshot(dataset)
    result = cli("data", "download", "kaggle_140k", "--archive", non_image_zip(tmp_path / "bad.zip"), "--force")
    assert result.exit_code == 1
    assert "The new dataset did not pass the check, so dataset/ was left as it was (nothing was deleted)" in result.stderr
    assert "6 folders have no usable images" in result.stderr and "18 files cannot be read as images" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(dataset) == before
    assert no_leftovers(Path("."))


def test_a_good_zip_with_force_still_replaces_the_old_dataset(cli, home, tmp_path):
    dataset = make_dataset(Path("dataset"))
    result = cli("data", "download", "kaggle_140k", "--archive", make_140k_zip(tmp_path / "a.zip", size=72), *SMALL, "--force")
    assert result.exit_code == 0, result.output
    assert (dataset / "manifest.csv").is_file() and not (dataset / "train" / "real" / "real_000.jpg").exists()
    assert no_leftovers(Path("."))


def test_a_demo_that_comes_out_unusable_keeps_the_old_dataset(cli, tmp_path, monkeypatch):
    from deepfake_coach.data.sources import tiny_demo

    def broken_generator(folder, images_per_class, seed, progress):  # finishes, but writes no pictures
        written = []
        for split in ("train", "val", "test"):
            for label in ("real", "fake"):
                path = folder / split / label / "0.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
                written.append(path)
        return written

    monkeypatch.setattr(tiny_demo, "generate", broken_generator)
    dataset = make_dataset(tmp_path / "dataset")
    before = snapshot(dataset)
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 10, "--force")
    assert result.exit_code == 1
    assert "did not pass the check" in result.stderr and "empty file (0 bytes)" in result.stderr
    assert snapshot(dataset) == before
    assert no_leftovers(tmp_path)


def leaking_split_folder(root: Path) -> Path:
    """Already split, with one picture in both train and test: leakage the check refuses."""
    make_dataset(root)
    (root / "test" / "real" / "copy_of_train.jpg").write_bytes((root / "train" / "real" / "real_000.jpg").read_bytes())
    return root


def test_a_folder_that_would_leak_keeps_the_old_dataset(cli, tmp_path):
    old_images = make_faces_folder(tmp_path / "old", real=10, fake=10)
    assert cli("data", "organize", old_images, "--data-dir", tmp_path / "dataset").exit_code == 0
    before = snapshot(tmp_path / "dataset")
    result = cli("data", "organize", leaking_split_folder(tmp_path / "mine"), "--data-dir", tmp_path / "dataset", "--force")
    assert result.exit_code == 1
    assert "did not pass the check" in result.stderr and "appears in more than one split" in result.stderr
    assert snapshot(tmp_path / "dataset") == before
    assert no_leftovers(tmp_path)


def test_the_wizard_keeps_the_old_dataset_when_the_new_one_fails_the_check(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = make_dataset(tmp_path / "dataset")
    before = snapshot(dataset)
    result = cli("--no-input", "init", "--dataset", "folder", "--source", leaking_split_folder(tmp_path / "mine"),
                 "--replace-data", "--yes")
    assert result.exit_code == 1
    assert "did not pass the check" in result.stderr
    assert snapshot(dataset) == before
    assert no_leftovers(tmp_path)


def videos_without_fake_faces(root: Path) -> Path:
    seeds = iter(FACE_SEEDS)
    for i in range(3):
        write_face_video(root / "real" / f"real_{i}.mp4", next(seeds), 2)
        write_no_face_video(root / "fake" / f"fake_{i}.mp4", 2)
    return root


def test_videos_that_give_no_fake_faces_keep_the_old_dataset(cli, tmp_path):
    dataset = make_dataset(tmp_path / "dataset")
    before = snapshot(dataset)
    result = cli("data", "organize", videos_without_fake_faces(tmp_path / "clips"), "--videos", "--frames", 2,
                 "--data-dir", dataset, "--force")
    assert result.exit_code == 1
    assert "did not pass the check" in result.stderr and "no usable images: train/fake/" in result.stderr
    assert snapshot(dataset) == before
    assert no_leftovers(tmp_path)


def test_faceforensics_without_fake_faces_keeps_the_old_dataset(cli, tmp_path):
    pairs = [("000", "001"), ("002", "003"), ("004", "005")]
    root = make_faceforensics_tree(tmp_path / "ff", pairs, methods=("Deepfakes",), frames=2)
    for video in (root / "manipulated_sequences").rglob("*.mp4"):
        write_no_face_video(video, 2)
    dataset = make_dataset(tmp_path / "dataset")
    before = snapshot(dataset)
    result = cli("data", "download", "faceforensics", "--source", root, "--methods", "Deepfakes", "--frames", 2,
                 "--data-dir", dataset, "--force")
    assert result.exit_code == 1
    assert "did not pass the check" in result.stderr
    assert snapshot(dataset) == before
    assert no_leftovers(tmp_path)


# --- the swap itself ------------------------------------------------------------------------------


def test_a_failed_swap_puts_the_old_dataset_back(cli, tmp_path, monkeypatch):
    from deepfake_coach import fsutil

    dataset = make_dataset(tmp_path / "dataset")
    before = snapshot(dataset)
    real_replace = fsutil.os.replace

    def new_one_cannot_move_in(source, target):
        if str(source).endswith(".dfcoach-partial"):
            raise PermissionError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(fsutil.os, "replace", new_one_cannot_move_in)
    result = cli("data", "organize", make_faces_folder(tmp_path / "src", real=10, fake=10), "--data-dir", dataset, "--force")
    assert result.exit_code == 1
    assert "permission denied" in result.stderr
    assert snapshot(dataset) == before
    assert no_leftovers(tmp_path)


def test_a_dataset_left_aside_by_a_killed_run_is_put_back_not_deleted(cli, tmp_path):
    # killed between renaming the old dataset aside and the new one in: only the old one is left
    make_dataset(tmp_path / ".dataset.dfcoach-old")
    before = snapshot(tmp_path / ".dataset.dfcoach-old")
    result = cli("--no-input", "data", "download", "tiny_demo", "--data-dir", tmp_path / "dataset", "--images-per-class", 10)
    assert result.exit_code == 2 and "already holds a dataset" in result.stderr  # it is back, so it is asked about
    assert snapshot(tmp_path / "dataset") == before
    assert no_leftovers(tmp_path)


def test_an_empty_folder_or_skeleton_is_written_without_asking(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cli("data", "download", "tiny_demo", "--data-dir", tmp_path / "empty", "--images-per-class", 10).exit_code == 0
    write_image(tmp_path / "other" / "real" / "a.jpg", 1)  # not a dataset, so never written over
    assert cli("data", "download", "tiny_demo", "--data-dir", tmp_path / "other", "--images-per-class", 10).exit_code == 1
