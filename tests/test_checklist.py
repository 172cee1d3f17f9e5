"""`dfcoach checklist`: the guide's success checklist, ticked from what is on disk."""

from __future__ import annotations

import json

import pytest

from conftest import make_dataset, write_model


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def items(cli, *args) -> list[dict]:
    result = cli("checklist", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["items"]


def test_an_empty_folder_ticks_nothing_and_names_the_first_step(cli, project):
    assert [item["done"] for item in items(cli)] == [False] * 6
    result = cli("checklist")
    assert "0 of 6 done" in result.stdout
    assert "✗ Dataset organized and fit to train  → dfcoach data check --data-dir dataset" in result.stdout
    assert "Next: dfcoach data check --data-dir dataset" in result.stderr


def test_a_real_quick_run_ticks_the_training_items(cli, project):
    make_dataset(project / "dataset", {"train": (10, 10), "val": (4, 4), "test": (2, 2)}, size=32)
    assert cli("train", "--quick", "--image-size", "64", "--epochs", "1").exit_code == 0
    done = {item["what"].split(" (")[0]: item["done"] for item in items(cli)}
    assert done["Dataset organized and fit to train"]
    assert done["A training run completed without errors"]
    assert done["Model saved in models/"]
    assert done["Ready to integrate: the saved model loads safely"]
    assert not done["Deployed: .env points at a model that loads"]


def test_everything_done_with_a_deployed_model_relative_to_the_env_file(cli, project):
    make_dataset(project / "dataset")
    write_model(project / "models" / "best_model_custom_cnn_20260101_000000.pth", val_acc=0.91)
    run = project / "runs" / "20260101_000000"
    run.mkdir(parents=True)
    (run / "state.json").write_text(json.dumps({"status": "finished"}))
    service = project / "service"
    service.mkdir()
    # The service reads MODEL_PATH from its own folder, not from where dfcoach runs.
    (service / ".env").write_text("# my service\nPORT=8000\nMODEL_TYPE=custom\nMODEL_PATH=../models/best_model_custom_cnn_20260101_000000.pth\nCUSTOM_MODEL_TYPE=custom_cnn\n")
    listed = items(cli, "--env-file", "service/.env")
    assert all(item["done"] for item in listed), listed
    assert "Validation accuracy above 70% (best 91.0%)" in [item["what"] for item in listed]
    result = cli("checklist", "--env-file", "service/.env")
    assert "6 of 6 done. Everything the guide asks for is there." in result.stdout


@pytest.mark.parametrize("plain, balanced, done, said", [
    (0.72, 0.50, False, "best 50.0% balanced, 72.0% plain"),  # 72% real images, all called real: nothing learned
    (0.65, 0.75, True, "best 75.0% balanced, 65.0% plain"),  # catches fakes well, the bigger class pays
    (0.80, 0.8001, True, "best 80.0%)"),  # equal classes: the guide's plain figure
])
def test_the_accuracy_bar_uses_balanced_accuracy_when_the_classes_are_unequal(cli, project, plain, balanced, done, said):
    write_model(project / "models" / "best_model_custom_cnn_20260101_000000.pth", val_acc=plain, val_balanced_acc=balanced)
    (item,) = [item for item in items(cli) if item["what"].startswith("Validation accuracy above 70%")]
    assert item["done"] is done and said in item["what"]


def test_env_file_from_dfcoach_yaml_and_a_model_that_does_not_load(cli, project):
    (project / "dfcoach.yaml").write_text("deploy:\n  env_file: deploy/.env\n")
    (project / "deploy").mkdir()
    (project / "deploy" / "broken.pth").write_text("not a model")
    (project / "deploy" / ".env").write_text("MODEL_TYPE=custom\nMODEL_PATH=broken.pth\n")
    (deployed,) = [item for item in items(cli) if item["what"].startswith("Deployed")]
    assert deployed == {"done": False, "what": "Deployed: deploy/.env points at a model that loads", "how": "dfcoach deploy --env-file deploy/.env",
                        "key": "deployed"}
