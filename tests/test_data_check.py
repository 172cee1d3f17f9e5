"""`dfcoach data check`: the stats table, the verdict, every problem with its fix, and the exit code."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import image_bytes, make_dataset, write_image
from deepfake_coach.data.checks import check_dataset


def codes(report) -> dict[str, str]:
    return {p.code: p.severity for p in report.problems}


def test_a_good_dataset_is_fit_and_shows_the_table(cli, tmp_path):
    dataset = make_dataset(tmp_path / "dataset", {"train": (500, 500), "val": (10, 10), "test": (5, 5)}, size=64)
    result = cli("data", "check", "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Dataset statistics" in out
    rows = [" ".join(line.replace("│", " ").replace("┃", " ").split()) for line in out.splitlines()]
    assert "Split Real Fake Total" in rows
    for row in ("train 500 500 1,000", "val 10 10 20", "test 5 5 10", "Total 515 515 1,030"):
        assert row in rows
    assert "✓ Looks good for training." in out
    assert (dataset / ".dfcoach" / "report.json").exists()


def test_missing_dataset_shows_the_expected_tree(cli, tmp_path):
    result = cli("data", "check", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "There is no dataset folder" in result.stdout
    assert "├── train/" in result.stdout and "└── fake/" in result.stdout
    assert "dfcoach data download tiny_demo" in result.stdout


def test_a_file_instead_of_a_folder(cli, tmp_path):
    (tmp_path / "dataset").write_text("x")
    result = cli("data", "check", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1 and "is a file, not a folder" in result.stdout


def test_missing_split_and_class_folders(cli, tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (3, 3), "val": (2, 0)})
    shutil.rmtree(dataset / "val" / "fake")
    result = cli("data", "check", "--data-dir", dataset)
    assert result.exit_code == 1
    assert "2 folders are missing: val/fake/, test/" in result.stdout
    assert "└── test/" in result.stdout


def test_wrongly_named_folders_get_a_rename_fix(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    (dataset / "val").rename(dataset / "valid")
    (dataset / "train" / "real").rename(dataset / "train" / "Real")
    report = check_dataset(dataset)
    problem = next(p for p in report.problems if p.code == "missing_folders")
    assert f"mv {dataset / 'valid'} {dataset / 'val'}" in problem.fix
    assert f"mv {dataset / 'train' / 'Real'} {dataset / 'train' / 'real'}" in problem.fix
    assert "ignored_entries" not in codes(report)


def test_empty_class_is_an_error(cli, tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (5, 5), "val": (2, 2), "test": (2, 0)})
    result = cli("data", "check", "--data-dir", dataset)
    assert result.exit_code == 1
    assert "1 folder has no usable images: test/fake/" in result.stdout


def test_imbalance_is_a_warning_with_the_ratio(tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (20, 10), "val": (4, 4), "test": (2, 2)})
    report = check_dataset(dataset)
    assert report.fit_to_train
    problem = next(p for p in report.problems if p.code == "imbalance")
    assert problem.severity == "warning"
    assert problem.files == ["train: 20 real vs 10 fake (2.0 : 1)"]


def test_too_few_images_per_class(tmp_path):
    report = check_dataset(make_dataset(tmp_path / "d"))
    assert codes(report)["too_few"] == "warning"
    assert "Looks good for training, with 1 thing worth reading below." == report.verdict


def test_the_demo_is_not_told_it_is_too_small(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    (dataset / "manifest.csv").write_text("file,label,split,artifact\n")
    report = check_dataset(dataset)
    assert report.is_demo and "too_few" not in codes(report)
    assert "ignored_entries" not in codes(report)


def test_corrupt_empty_and_non_image_files(cli, tmp_path):
    dataset = make_dataset(tmp_path / "d")
    (dataset / "train" / "real" / "zero.jpg").write_bytes(b"")
    good = image_bytes(999)
    (dataset / "train" / "fake" / "cut.jpg").write_bytes(good[:300])
    (dataset / "val" / "real" / "readme.jpg").write_text("hello")
    (dataset / "test" / "fake" / "image.txt").write_bytes(image_bytes(998))
    result = cli("data", "check", "--data-dir", dataset)
    assert result.exit_code == 0  # training skips them: a warning, not a blocker
    out = result.stdout
    assert "3 files cannot be read as images" in out
    assert "train/real/zero.jpg: empty file (0 bytes)" in out
    assert "train/fake/cut.jpg: damaged or not a picture (it starts like a picture, but its data is cut short" in out
    assert "val/real/readme.jpg: damaged or not a picture (its content is no picture format" in out
    assert "1 image has a name that does not end like an image" in out
    assert "test/fake/image.txt (JPEG image)" in out
    report = check_dataset(dataset)
    assert report.counts["train"]["real"] == 14  # the bad files are not counted


def test_too_small_images(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    write_image(dataset / "train" / "real" / "thumb.jpg", 5000, size=32)
    report = check_dataset(dataset)
    problem = next(p for p in report.problems if p.code == "too_small")
    assert problem.files == ["train/real/thumb.jpg (32x32)"]


def test_same_picture_in_two_splits_is_leakage(cli, tmp_path):
    dataset = make_dataset(tmp_path / "d")
    shutil.copy(dataset / "train" / "real" / "real_000.jpg", dataset / "test" / "real" / "copy.jpg")
    # a re-encoded copy (PNG, resized) is found too
    from PIL import Image

    Image.open(dataset / "train" / "fake" / "fake_003.jpg").resize((100, 100)).save(dataset / "val" / "fake" / "again.png")
    result = cli("data", "check", "--data-dir", dataset)
    assert result.exit_code == 1
    assert "2 images appear in more than one split" in result.stdout
    assert "leakage" in result.stdout.lower()
    report = json.loads((dataset / ".dfcoach" / "report.json").read_text())
    leak = next(p for p in report["problems"] if p["code"] == "leakage")
    assert "test/real/copy.jpg = train/real/real_000.jpg" in leak["files"]
    assert "train/fake/fake_003.jpg = val/fake/again.png" in leak["files"]


def test_same_picture_labelled_real_and_fake(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    shutil.copy(dataset / "train" / "real" / "real_001.jpg", dataset / "train" / "fake" / "dup.jpg")
    assert codes(check_dataset(dataset))["conflicting_labels"] == "warning"


def test_stray_files_and_folders_are_reported(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    write_image(dataset / "train" / "loose.jpg", 4000)
    write_image(dataset / "unsorted" / "a.jpg", 4001)
    (dataset / "train" / "maybe").mkdir()
    (dataset / "README.txt").write_text("notes")
    (dataset / ".DS_Store").write_bytes(b"\0")
    problem = next(p for p in check_dataset(dataset).problems if p.code == "ignored_entries")
    assert sorted(problem.files) == ["train/loose.jpg", "train/maybe", "unsorted"]


def test_json_output_for_scripts(cli, tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (3, 3), "val": (1, 1), "test": (1, 0)})
    result = cli("data", "check", "--data-dir", dataset, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["fit_to_train"] is False
    assert data["counts"]["train"] == {"real": 3, "fake": 3}
    assert data["total"] == 9
    assert {p["code"] for p in data["problems"]} >= {"empty_class", "too_few"}


def test_second_check_reuses_the_cache_and_notices_changes(tmp_path, monkeypatch):
    dataset = make_dataset(tmp_path / "d")
    first = check_dataset(dataset)
    import deepfake_coach.data.scan as scan

    looked_at = []
    real_inspect = scan.inspect_image
    monkeypatch.setattr(scan, "inspect_image", lambda p: looked_at.append(p.name) or real_inspect(p))
    assert check_dataset(dataset).counts == first.counts
    assert looked_at == []
    (dataset / "train" / "real" / "real_000.jpg").write_bytes(b"")
    write_image(dataset / "train" / "real" / "new.jpg", 4242)
    report = check_dataset(dataset)
    assert sorted(looked_at) == ["new.jpg", "real_000.jpg"]
    assert "unreadable_files" in codes(report)


def test_damaged_cache_is_only_slower(tmp_path):
    dataset = make_dataset(tmp_path / "d")
    (dataset / ".dfcoach").mkdir()
    (dataset / ".dfcoach" / "scan-cache.json").write_text("{not json")
    assert check_dataset(dataset).total == 40


@pytest.mark.parametrize("cache", [
    '{"version": VERSION, "entries": []}',  # entries of the wrong kind
    '{"version": VERSION, "entries": {"train/real/real_000.jpg": 7}}',
    '{"version": VERSION, "entries": {"train/real/real_000.jpg": [STAMP, {"colour": "red"}]}}',
    '{"version": VERSION, "entries": {"train/real/real_000.jpg": [STAMP, {"format": "JPEG", "width": "wide", "height": 72}]}}',
])
def test_a_cache_of_another_shape_is_only_slower_through_the_cli(cli, tmp_path, monkeypatch, cache):
    """Every run of `data check` must work: the cache is derived data, never a reason to fail."""
    from deepfake_coach.data.scan import CACHE_VERSION

    dataset = make_dataset(tmp_path / "dataset")
    stat = (dataset / "train" / "real" / "real_000.jpg").stat()
    (dataset / ".dfcoach").mkdir()
    text = cache.replace("VERSION", str(CACHE_VERSION)).replace("STAMP", f"[{stat.st_size}, {stat.st_mtime_ns}]")
    (dataset / ".dfcoach" / "scan-cache.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # and the cache written again is a good one
        result = cli("data", "check")
        assert result.exit_code == 0, result.output
        assert "40" in result.stdout


def test_read_only_dataset_can_still_be_checked(tmp_path, monkeypatch):
    dataset = make_dataset(tmp_path / "d")
    import deepfake_coach.data.checks as checks
    import deepfake_coach.data.scan as scan

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(scan, "atomic_write_text", refuse)
    monkeypatch.setattr(checks, "atomic_write_text", refuse)
    assert check_dataset(dataset).total == 40


def test_different_pictures_with_colliding_hashes_are_not_leakage(tmp_path, monkeypatch):
    """Among tens of thousands of aligned faces a few hashes collide by chance; only real copies count."""
    import dataclasses

    import deepfake_coach.data.scan as scan

    real_inspect = scan.inspect_image
    monkeypatch.setattr(scan, "inspect_image", lambda p: dataclasses.replace(real_inspect(p), phash=0))
    dataset = make_dataset(tmp_path / "d")
    shutil.copy(dataset / "train" / "real" / "real_000.jpg", dataset / "test" / "real" / "copy.jpg")
    leak = next(p for p in check_dataset(dataset).problems if p.code == "leakage")
    assert leak.files == ["test/real/copy.jpg = train/real/real_000.jpg"]


def test_confirming_a_pair_compares_the_pictures(tmp_path):
    from deepfake_coach.data.duplicates import confirm_same_picture

    a = write_image(tmp_path / "a.jpg", 1)
    b = write_image(tmp_path / "b.jpg", 2)
    from PIL import Image

    Image.open(a).resize((150, 150)).save(tmp_path / "a_big.png")
    paths = [a, b, tmp_path / "a_big.png", tmp_path / "missing.jpg"]
    assert confirm_same_picture(paths, [(0, 1), (0, 2), (0, 3)]) == [(0, 2)]


def test_only_the_demos_manifest_makes_a_dataset_the_demo(tmp_path):
    """kaggle_140k writes a manifest.csv too; only the demo's columns make a dataset the demo."""
    from deepfake_coach.data.origin import DEMO_COLUMNS, KAGGLE_COLUMNS

    dataset = make_dataset(tmp_path / "d")
    (dataset / "manifest.csv").write_text(",".join(KAGGLE_COLUMNS) + "\n")
    assert check_dataset(dataset).is_demo is False
    (dataset / "manifest.csv").write_text(",".join(DEMO_COLUMNS) + "\n")
    assert check_dataset(dataset).is_demo is True
