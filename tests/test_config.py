"""dfcoach.yaml: defaults, round trip, and mistakes reported by line and setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_coach.config import ProjectConfig, TrainConfig, load_project_config, save_project_config
from deepfake_coach.errors import CoachError


def test_missing_file_gives_defaults(tmp_path):
    config = load_project_config(tmp_path / "dfcoach.yaml")
    assert config == ProjectConfig()
    assert config.data.dir == Path("dataset")
    assert config.train.epochs == 30 and config.train.batch_size == 32


def test_presets_match_the_guide():
    assert (TrainConfig.quick().epochs, TrainConfig.quick().batch_size) == (5, 16)
    assert (TrainConfig.full().epochs, TrainConfig.full().batch_size) == (30, 32)
    assert TrainConfig.quick(lr=0.01).lr == 0.01


def test_round_trip(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    config = ProjectConfig()
    config.data.source = "tiny_demo"
    config.train.epochs = 12
    config.wizard.completed.append("dataset")
    save_project_config(config, path)
    assert load_project_config(path) == config
    assert path.read_text().startswith("# dfcoach settings")


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("")
    assert load_project_config(path) == ProjectConfig()


def test_bad_value_names_the_setting_and_line(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("version: 1\ndata:\n  dir: dataset\ntrain:\n  model: meso4\n  epochs: ten\n")
    with pytest.raises(CoachError) as caught:
        load_project_config(path)
    message = caught.value.message
    assert "line 6" in message
    assert "`train.epochs`" in message
    assert "'ten'" in message
    assert "pydantic" not in message.lower() and "errors.pydantic.dev" not in message


def test_misspelt_setting_is_reported_not_ignored(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("train:\n  epochs: 3\n  batchsize: 8\n")
    with pytest.raises(CoachError) as caught:
        load_project_config(path)
    assert "line 3" in caught.value.message
    assert "`train.batchsize` is not a setting dfcoach knows" in caught.value.message


def test_out_of_range_value(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("train:\n  lr: -1\n")
    with pytest.raises(CoachError) as caught:
        load_project_config(path)
    assert "line 2" in caught.value.message and "greater than 0" in caught.value.message


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("train:\n  epochs: 3\n   batch_size: [8\n")
    with pytest.raises(CoachError) as caught:
        load_project_config(path)
    assert "not valid YAML" in caught.value.message
    assert "line 3" in caught.value.message
    assert "delete" in caught.value.hint


def test_not_a_mapping(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(CoachError, match="key: value"):
        load_project_config(path)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "dfcoach.yaml"
    save_project_config(ProjectConfig(), path)
    save_project_config(ProjectConfig(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["dfcoach.yaml"]
