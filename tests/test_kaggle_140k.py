"""`dfcoach data download kaggle_140k`: from a zip, a folder or Kaggle's API (a loopback stand-in), safely."""

from __future__ import annotations

import csv
import io
import stat
import zipfile
from pathlib import Path

import pytest

from conftest import image_bytes
from kaggle_fixtures import (  # noqa: F401  (fixtures)
    GOOD_KEY,
    ROOT,
    closed_port_url,
    home,
    kaggle,
    make_140k_folder,
    make_140k_zip,
    point_kaggle_at,
    write_kaggle_json,
)

from deepfake_coach.data.sources import kaggle_140k

SMALL = ("--train-per-class", 5, "--val-per-class", 2, "--test-per-class", 2)
ZIP_NAME = "140k-real-and-fake-faces.zip"


def table_rows(stdout: str) -> list[str]:
    return [" ".join(line.replace("│", " ").split()) for line in stdout.splitlines()]


def manifest(data_dir: Path) -> list[dict]:
    with open(data_dir / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def files_under(folder: Path) -> list[str]:
    """Every file below `folder`, except dfcoach's derived data (.dfcoach/: the check's report and cache)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and ".dfcoach" not in p.parts)


# --- from a zip the person downloaded ------------------------------------------------------------


def test_the_whole_path_from_a_zip(cli, home, tmp_path):
    archive = make_140k_zip(tmp_path / "archive.zip", size=72)
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL, "--seed", 4)
    assert result.exit_code == 0, result.output
    dataset = Path("dataset")
    for split, n in (("train", 5), ("val", 2), ("test", 2)):
        for label in ("real", "fake"):
            assert len(list((dataset / split / label).glob("*.jpg"))) == n
    assert "train 5 5 10" in table_rows(result.stdout) and "Total 9 9 18" in table_rows(result.stdout)
    assert "✓ Looks good for training" in result.stdout
    assert f"Wrote 18 images sampled from {archive} to dataset/ (seed 4" in result.stderr
    assert "Copying the sampled images" in result.stderr  # the progress
    rows = manifest(dataset)
    assert len(rows) == 18
    assert all(row["source"].startswith(f"{ROOT}/") and (dataset / row["file"]).is_file() for row in rows)
    assert {row["source"].split("/")[2] for row in rows if row["split"] == "val"} == {"valid"}  # the matching split
    with zipfile.ZipFile(archive) as source:  # bytes copied as they are, labels from the folders
        for row in rows:
            assert (dataset / row["file"]).read_bytes() == source.read(row["source"])
            assert row["source"].split("/")[3] == row["label"]
    config = Path("dfcoach.yaml").read_text()
    assert "source: kaggle_140k" in config and "dir: dataset" in config


def test_only_the_sample_is_written(home, tmp_path):
    archive = make_140k_zip(tmp_path / "archive.zip")
    result = kaggle_140k.prepare_dataset(archive, tmp_path / "dataset", {"train": 3, "val": 1, "test": 1})
    assert result.total == 10
    assert result.available == {"train": {"real": 8, "fake": 8}, "val": {"real": 4, "fake": 4}, "test": {"real": 3, "fake": 3}}
    assert len(files_under(tmp_path / "dataset")) == 10 + 1  # and the manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.zip", "dataset", "home", "project"]


def test_the_seed_decides_the_sample(home, tmp_path):
    archive = make_140k_zip(tmp_path / "archive.zip")
    per_class = {"train": 4, "val": 2, "test": 1}
    kaggle_140k.prepare_dataset(archive, tmp_path / "a", per_class, seed=1)
    kaggle_140k.prepare_dataset(archive, tmp_path / "b", per_class, seed=1)
    kaggle_140k.prepare_dataset(archive, tmp_path / "c", per_class, seed=2)
    assert manifest(tmp_path / "a") == manifest(tmp_path / "b")
    assert manifest(tmp_path / "a") != manifest(tmp_path / "c")


def test_an_extracted_folder_works_the_same(cli, home, tmp_path):
    folder = make_140k_folder(tmp_path / "unzipped")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(image_bytes(999))
    (folder / ROOT / "train" / "real" / "link.jpg").symlink_to(outside)  # links are never followed
    result = cli("data", "download", "kaggle_140k", "--archive", folder, *SMALL, "--train-per-class", 8)
    assert result.exit_code == 0, result.output
    written = files_under(Path("dataset"))
    assert len([name for name in written if name.startswith("train/real/")]) == 8
    assert "train/real/link.jpg" not in written


def test_fewer_images_than_asked_takes_them_all_and_says_so(cli, home, tmp_path):
    archive = make_140k_zip(tmp_path / "archive.zip", counts={"train": 8, "valid": 4, "test": 2}, size=72)
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL, "--test-per-class", 5)
    assert result.exit_code == 0, result.output
    assert "fewer images than asked for in test/real: 2 of 5 asked" in result.stderr


def test_counts_must_be_positive(cli, home, tmp_path):
    result = cli("data", "download", "kaggle_140k", "--archive", make_140k_zip(tmp_path / "a.zip"), "--val-per-class", 0)
    assert result.exit_code == 2 and "--val-per-class must be at least 1" in result.stderr


def test_csv_labels_that_disagree_with_folders_are_warned_about(cli, home, tmp_path):
    mislabelled = "index,original_path,id,label,label_str,path\n0,x,00000,0,fake,train/real/00000.jpg\n"
    archive = make_140k_zip(tmp_path / "archive.zip", size=72)
    with zipfile.ZipFile(archive, "a") as edited:
        edited.writestr("extra.csv", mislabelled)
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL)
    assert result.exit_code == 0, result.output
    assert "train/real/00000.jpg is labelled fake but sits in a real/ folder" in result.stderr


# --- broken and hostile archives --------------------------------------------------------------


def test_a_truncated_zip(cli, home, tmp_path):
    archive = make_140k_zip(tmp_path / "archive.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    result = cli("data", "download", "kaggle_140k", "--archive", archive)
    assert result.exit_code == 1
    assert "is not a complete zip file" in result.stderr and "download it again" in result.stderr
    assert "Traceback" not in result.output
    assert not Path("dataset").exists()


def test_a_damaged_image_inside_the_zip_leaves_nothing_behind(cli, home, tmp_path):
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for split, code in (("train", 0), ("valid", 100), ("test", 200)):
            for label in ("real", "fake"):
                out.writestr(f"{ROOT}/{split}/{label}/{label}{code}.jpg", image_bytes(code + len(label)))
    data = bytearray(archive.read_bytes())
    start = data.find(image_bytes(0 + len("real")))
    data[start + 300] ^= 0xFF  # one flipped byte: the CRC no longer matches
    archive.write_bytes(bytes(data))
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL)
    assert result.exit_code == 1
    assert "is damaged" in result.stderr and "Nothing was written" in result.stderr
    assert not Path("dataset").exists() and not any(Path(".").glob(".dataset*"))


def test_a_zip_of_another_layout_shows_the_expected_tree(cli, home, tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("holiday/cat.jpg", image_bytes(1))
        out.writestr("holiday/dog.jpg", image_bytes(2))
    result = cli("data", "download", "kaggle_140k", "--archive", archive)
    assert result.exit_code == 1
    assert "is not the 140k Real and Fake Faces dataset" in result.stderr
    assert "At its top it has: holiday/" in result.stderr
    assert "real_vs_fake/real-vs-fake/" in result.stderr and "valid/" in result.stderr  # the expected tree
    assert "dfcoach data organize" in result.stderr


def test_a_zip_missing_a_class(cli, home, tmp_path):
    archive = tmp_path / "half.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for split in ("train", "valid", "test"):
            out.writestr(f"{ROOT}/{split}/real/1.jpg", image_bytes(1))
    result = cli("data", "download", "kaggle_140k", "--archive", archive)
    assert result.exit_code == 1
    assert "no images in: train/fake, val/fake, test/fake" in result.stderr


@pytest.mark.parametrize(
    "hostile",
    ["../../evil.jpg", f"{ROOT}/train/real/../../../../../evil.jpg", "/tmp/evil.jpg", f"{ROOT}/train/real/link.jpg"],
)
def test_hostile_entries_refuse_the_whole_zip(cli, home, tmp_path, hostile):
    archive = make_140k_zip(tmp_path / "archive.zip")
    with zipfile.ZipFile(archive, "a") as out:
        info = zipfile.ZipInfo(hostile)
        if hostile.endswith("link.jpg"):
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            out.writestr(info, "/etc/passwd")
        else:
            out.writestr(info, image_bytes(5))
    result = cli("data", "download", "kaggle_140k", "--archive", archive)
    assert result.exit_code == 1
    assert "point outside its own folder or are links" in result.stderr and repr(hostile) in result.stderr
    assert not Path("dataset").exists()
    assert not list(tmp_path.rglob("evil.jpg")) and not Path("/tmp/evil.jpg").exists()


def test_not_enough_disk_space_is_found_before_writing(cli, home, tmp_path, monkeypatch):
    monkeypatch.setattr(kaggle_140k, "_free_bytes", lambda folder: 5 * 10**6)
    result = cli("data", "download", "kaggle_140k", "--archive", make_140k_zip(tmp_path / "a.zip"), *SMALL)
    assert result.exit_code == 1
    assert "The sample needs about 11 MB" in result.stderr and "has 5 MB free" in result.stderr
    assert not Path("dataset").exists()


def test_a_missing_archive(cli, home, tmp_path):
    result = cli("data", "download", "kaggle_140k", "--archive", tmp_path / "nope.zip")
    assert result.exit_code == 2 and "There is nothing at" in result.stderr


def test_ctrl_c_while_copying_leaves_nothing(cli, home, tmp_path, monkeypatch):
    def interrupted(self, name, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(kaggle_140k._ZipSource, "copy", interrupted)
    result = cli("data", "download", "kaggle_140k", "--archive", make_140k_zip(tmp_path / "a.zip"), *SMALL)
    assert result.exit_code == 130
    assert list(Path(".").iterdir()) == []


def test_an_existing_dataset_is_kept_unless_forced(cli, home, tmp_path):
    from conftest import make_dataset

    make_dataset(Path("dataset"))
    archive = make_140k_zip(tmp_path / "a.zip", size=72)
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL)
    assert result.exit_code == 2 and "--force" in result.stderr
    assert len(files_under(Path("dataset"))) == 40
    result = cli("data", "download", "kaggle_140k", "--archive", archive, *SMALL, "--force")
    assert result.exit_code == 0, result.output
    assert len(files_under(Path("dataset"))) == 18 + 1


# --- downloading through Kaggle's API (the loopback stand-in) ---------------------------------


def test_download_with_kaggle_json_then_reuse_offline(cli, home, kaggle):
    write_kaggle_json(home)
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 0, result.output
    assert f"Downloaded downloads/{ZIP_NAME}" in result.stderr
    assert f"Downloading {ZIP_NAME}" in result.stderr  # the progress
    assert "Total 9 9 18" in table_rows(result.stdout)
    assert kaggle.api_calls() == ["DownloadDataset"]
    assert Path("downloads", ZIP_NAME).read_bytes() == kaggle.archive
    assert not list(Path("downloads").glob("*.part*"))
    assert GOOD_KEY not in result.output

    kaggle.status_override = 503  # a second run needs neither Kaggle nor the network
    again = cli("data", "download", "kaggle_140k", *SMALL, "--seed", 1, "--force")
    assert again.exit_code == 0, again.output
    assert f"Using downloads/{ZIP_NAME}" in again.stderr and "downloaded before" in again.stderr
    assert kaggle.api_calls() == ["DownloadDataset"]


def test_an_interrupted_download_resumes(cli, home, kaggle):
    write_kaggle_json(home)
    kaggle.drop_after = 600_000
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 1
    assert "The download stopped after" in result.stderr and "continues where it stopped" in result.stderr
    partial = Path("downloads", ZIP_NAME + ".part")
    kept = partial.stat().st_size
    assert 0 < kept < len(kaggle.archive) and not Path("downloads", ZIP_NAME).exists()
    assert not Path("dataset").exists()

    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 0, result.output
    assert f"continued from {kept / 10**6:,.0f} MB" in result.stderr
    assert kaggle.requests[-1][2] == f"bytes={kept}-"
    assert Path("downloads", ZIP_NAME).read_bytes() == kaggle.archive


def test_a_partial_download_of_a_changed_file_starts_over(cli, home, kaggle):
    write_kaggle_json(home)
    kaggle.drop_after = 600_000
    assert cli("data", "download", "kaggle_140k", *SMALL).exit_code == 1
    kaggle.etag = '"v2"'  # Kaggle published a new version meanwhile
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 0, result.output
    assert "continued from" not in result.stderr
    assert Path("downloads", ZIP_NAME).read_bytes() == kaggle.archive


def test_download_without_credentials_offers_both_ways(cli, home):
    result = cli("data", "download", "kaggle_140k")
    assert result.exit_code == 1
    assert "No Kaggle credentials found" in result.stderr
    assert "dfcoach kaggle setup" in result.stderr and "--archive ZIP" in result.stderr


def test_download_with_a_wrong_key(cli, home, kaggle):
    write_kaggle_json(home, key="9" * 32)
    result = cli("data", "download", "kaggle_140k")
    assert result.exit_code == 1
    assert "Kaggle did not accept the credentials from the key file ~/.kaggle/kaggle.json" in result.stderr
    assert not Path("downloads", ZIP_NAME).exists()


def test_download_offline(cli, home, monkeypatch):
    write_kaggle_json(home)
    point_kaggle_at(monkeypatch, closed_port_url())
    result = cli("data", "download", "kaggle_140k")
    assert result.exit_code == 1
    assert "seems to be offline" in result.stderr and "--archive ZIP" in result.stderr
    assert "Traceback" not in result.output


def test_the_download_bar_shows_size_and_speed():
    from rich.console import Console

    from deepfake_coach.io.progress import RichProgress

    now = [0.0]
    console = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    progress = RichProgress(console, get_time=lambda: now[0], auto_refresh=False)
    with progress.task(f"Downloading {ZIP_NAME}", total=4_000_000, unit="bytes") as task:
        for _ in range(2):
            now[0] += 1.0
            task.advance(1_000_000)
    output = console.file.getvalue()
    assert "2.0 MB/4.0 MB" in output and "MB/s" in output


def test_a_dataset_inside_the_source_folder_is_not_read_as_source(home, tmp_path):
    folder = make_140k_folder(tmp_path / "unzipped")
    per_class = {"train": 2, "val": 1, "test": 1}
    kaggle_140k.prepare_dataset(folder, folder / "dataset", per_class)
    again = kaggle_140k.prepare_dataset(folder, folder / "dataset", per_class, seed=3, replace=True)
    assert again.available["train"]["real"] == 8
    assert all(row["source"].startswith(ROOT) for row in manifest(folder / "dataset"))


def test_download_warns_about_a_readable_key_file(cli, home, kaggle):
    write_kaggle_json(home, mode=0o644)
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 0, result.output
    assert "can be read by other users" in result.stderr and "--fix-permissions" in result.stderr


def test_ctrl_c_during_the_download_keeps_the_part_for_next_time(cli, home, kaggle, monkeypatch):
    import requests

    from deepfake_coach.kaggle.download import CHUNK

    write_kaggle_json(home)
    real_iter_content = requests.Response.iter_content

    def stopped_by_the_person(self, chunk_size=1, decode_unicode=False):
        for count, chunk in enumerate(real_iter_content(self, chunk_size, decode_unicode)):
            if count == 2:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(requests.Response, "iter_content", stopped_by_the_person)
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 130
    assert "Stopped by you after" in result.stderr and "continues where it stopped" in result.stderr
    assert Path("downloads", ZIP_NAME + ".part").stat().st_size == 2 * CHUNK

    monkeypatch.setattr(requests.Response, "iter_content", real_iter_content)
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 0, result.output
    assert kaggle.requests[-1][2] == f"bytes={2 * CHUNK}-"
    assert Path("downloads", ZIP_NAME).read_bytes() == kaggle.archive


def test_a_download_that_cannot_fit_is_not_started(cli, home, kaggle, monkeypatch):
    from collections import namedtuple

    from deepfake_coach.kaggle import download

    write_kaggle_json(home)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(download.shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 1000, 1000))
    result = cli("data", "download", "kaggle_140k", *SMALL)
    assert result.exit_code == 1
    assert "The download needs 1.2 MB" in result.stderr and "--download-dir" in result.stderr
    assert not list(Path("downloads").glob("*.part"))
