"""`dfcoach data list` and `dfcoach data download`: the choices, the demo, the skeleton."""

from __future__ import annotations

import csv

from conftest import make_dataset


def test_list_shows_every_choice_and_the_recommendation(cli):
    result = cli("data", "list")
    assert result.exit_code == 0
    for name in ("tiny_demo", "kaggle_140k", "faceforensics", "folder", "sample"):
        assert name in result.stdout
    assert "★ recommended" in result.stdout and "★ first run" in result.stdout
    assert "free Kaggle" in result.stdout
    assert "1,000 images" in result.stdout and "140,000 images" in result.stdout
    assert "dfcoach data download tiny_demo" in result.stderr  # the next step


def test_tiny_demo_download_then_check(cli, tmp_path):
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 20, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "Wrote 40 demo images" in result.stderr
    rows = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert "train 14 14 28" in rows and "Total 20 20 40" in rows
    assert "✓ Looks good for training" in result.stdout
    with open(dataset / "manifest.csv", newline="") as handle:
        manifest = list(csv.DictReader(handle))
    assert len(manifest) == 40
    assert all((dataset / row["file"]).is_file() for row in manifest)
    assert cli("data", "check", "--data-dir", dataset).exit_code == 0


def test_tiny_demo_will_not_replace_a_dataset_without_force(cli, tmp_path):
    dataset = make_dataset(tmp_path / "dataset")
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 10)
    assert result.exit_code == 2
    assert "already holds a dataset" in result.stderr and "--force" in result.stderr
    assert not (dataset / "manifest.csv").exists()
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 10, "--force")
    assert result.exit_code == 0, result.output
    assert (dataset / "manifest.csv").exists()
    assert not (dataset / "train" / "real" / "real_013.jpg").exists()  # the old images are gone


def test_tiny_demo_needs_enough_images(cli, tmp_path):
    result = cli("data", "download", "tiny_demo", "--data-dir", tmp_path / "d", "--images-per-class", 3)
    assert result.exit_code == 2
    assert "at least 10" in result.stderr
    assert not (tmp_path / "d").exists()


def test_tiny_demo_ctrl_c_leaves_nothing(cli, tmp_path, monkeypatch):
    from deepfake_coach.data.sources import tiny_demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tiny_demo, "generate", interrupted)
    result = cli("data", "download", "tiny_demo", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 130
    assert "Stopped by you" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sample_makes_the_empty_skeleton_with_a_readme(cli, tmp_path):
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "sample", "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    for split in ("train", "val", "test"):
        for label in ("real", "fake"):
            assert (dataset / split / label).is_dir()
    readme = (dataset / "README.txt").read_text()
    assert "500 images per class" in readme and "dfcoach data check" in readme
    check = cli("data", "check", "--data-dir", dataset)
    assert check.exit_code == 1
    assert "6 folders have no usable images" in check.stdout


def test_sample_never_touches_existing_images(cli, tmp_path):
    dataset = make_dataset(tmp_path / "dataset", {"train": (3, 3)})
    (dataset / "README.txt").write_text("my notes")
    result = cli("data", "download", "sample", "--data-dir", dataset)
    assert result.exit_code == 0
    assert (dataset / "README.txt").read_text() == "my notes"
    assert len(list((dataset / "train" / "real").iterdir())) == 3
    assert (dataset / "test" / "fake").is_dir()


def test_unknown_dataset_name(cli, tmp_path):
    result = cli("data", "download", "imagenet", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2
    assert "no dataset called 'imagenet'" in result.stderr
    assert "tiny_demo" in result.stderr


def test_datasets_dfcoach_cannot_fetch_itself_say_how_to_get_them(cli, tmp_path):
    # FaceForensics++ is handed out on request: dfcoach prepares the download, given with --source
    result = cli("data", "download", "faceforensics", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2
    assert "github.com/ondyari/FaceForensics" in result.stderr and "--source" in result.stderr
    assert not (tmp_path / "d").exists()
    result = cli("data", "download", "folder", "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "dfcoach data organize" in result.stderr
    assert not (tmp_path / "d").exists()


def test_a_fit_dataset_points_to_training_next(cli, tmp_path):
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "tiny_demo", "--data-dir", dataset, "--images-per-class", 10)
    assert f"dfcoach train --quick --data-dir {dataset}" in result.stderr


def test_one_registry_of_dataset_sources_feeds_every_list():
    """data list, download's choices, dfcoach.yaml's data.source and the wizard's menu come from one registry."""
    import typing

    from deepfake_coach.config import DataConfig
    from deepfake_coach.data import sources
    from deepfake_coach.wizard.steps import DATASET_GETTERS

    assert set(DATASET_GETTERS) == set(sources.NAMES)
    assert set(typing.get_args(typing.get_args(DataConfig.model_fields["source"].annotation)[0])) == set(sources.NAMES)
    assert set(sources.DOWNLOADABLE) == set(sources.NAMES) - {"folder"}
