"""`dfcoach doctor`: each check in its ok, warn and fail situations, injected; the CLI's output and exit code."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from conftest import make_dataset, write_model
from deepfake_coach import doctor
from deepfake_coach.doctor import DoctorContext, Finding, run_check

GIB = 1024**3


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real Kaggle credentials are looked at
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def context(project: Path, **changes) -> DoctorContext:
    return DoctorContext(project_dir=project, data_dir=project / "dataset", env_file=project / ".env", **changes)


def status(check_id: str, project: Path, **changes) -> tuple[str, str, str | None]:
    result = run_check(check_id, context(project, **changes))
    return result.status, result.saw, result.fix


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- environment --------------------------------------------------------------------------------


def test_python_version(project, monkeypatch):
    assert status("python", project)[0] == "ok"
    monkeypatch.setattr(doctor, "_python_version", lambda: (3, 9, 18))
    state, saw, fix = status("python", project)
    assert state == "fail" and "Python 3.9.18; dfcoach needs 3.11 or newer" in saw and "3.11" in fix


@pytest.mark.parametrize("versions, expected, words", [
    ({"torch": "2.14.1", "torchvision": "0.29.1"}, "ok", "a matching pair"),
    ({"torch": "2.14.1+cu126", "torchvision": "0.29.1+cu126"}, "ok", "a matching pair"),
    ({"torch": "2.14.1", "torchvision": "0.28.0"}, "fail", "do not match: this torch goes with torchvision 0.29"),
    ({"torch": "2.14.1", "torchvision": None}, "fail", "torchvision is not installed"),
    ({"torch": None, "torchvision": None}, "fail", "torch and torchvision are not installed"),
    ({"torch": "3.0.0", "torchvision": "1.0.0"}, "warn", "cannot tell whether this pair matches"),
])
def test_torch_and_torchvision(project, monkeypatch, versions, expected, words):
    monkeypatch.setattr(doctor, "_installed_version", versions.get)
    state, saw, fix = status("torch", project)
    assert state == expected and words in saw
    if expected != "ok":
        assert "pip install" in fix


def test_torchvision_is_required_only_by_the_models_that_need_it(project, monkeypatch):
    monkeypatch.setattr(doctor, "_installed_version", {"torch": "2.14.1"}.get)  # torch without torchvision
    state, saw, fix = status("torch", project, model="custom_cnn")
    assert state == "warn" and "torchvision is not installed. custom_cnn does not need it" in saw
    assert "efficientnet_lite0, resnet18, efficientnet_b0, mobilenet_v3_small do." in saw and "pip install torch torchvision" in fix
    state, saw, fix = status("torch", project, model="resnet18")
    assert state == "fail" and "resnet18, the model to train, needs it" in saw
    assert "pip install torch torchvision" in fix and "custom_cnn" in fix

    # Without a model given, the one `dfcoach train` would train: dfcoach.yaml's, else the default, which needs torchvision
    assert status("torch", project)[0] == "fail" and "efficientnet_lite0, the model to train" in status("torch", project)[1]
    (project / "dfcoach.yaml").write_text("train:\n  model: meso4\n")
    assert status("torch", project)[0] == "warn"
    (project / "dfcoach.yaml").write_text("train:\n  model: mobilenet_v3_small\n")
    assert status("torch", project)[0] == "fail"


def test_the_models_said_to_need_torchvision_are_the_ones_that_do():
    """Each model is built with torchvision missing: those `needs_torchvision` names fail, the others build."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torchvision'] = None\n"
            "from deepfake_coach.train.models import MODELS, needs_torchvision\n"
            "for name, spec in MODELS.items():\n"
            "    try:\n"
            "        spec.build(2); built = True\n"
            "    except ImportError:\n"
            "        built = False\n"
            "    print(name, built, needs_torchvision(name))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1],
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    rows = [line.split() for line in done.stdout.splitlines()]
    assert len(rows) >= 7 and all((built == "True") != (needs == "True") for name, built, needs in rows), rows
    assert ["custom_cnn", "True", "False"] in rows and ["efficientnet_lite0", "False", "True"] in rows


def test_device_cpu_only_says_what_it_means(project, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    state, saw, _ = status("device", project)
    assert state == "ok" and "CPU only" in saw and "takes hours" in saw


def test_device_cuda_with_free_memory_or_nearly_full_or_broken(project, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA GeForce RTX 3060")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=0: (10 * GIB, 12 * GIB))
    state, saw, _ = status("device", project)
    assert state == "ok" and "NVIDIA GeForce RTX 3060, 10.0 GiB free of 12.0 GiB" in saw

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=0: (GIB // 4, 12 * GIB))
    state, saw, fix = status("device", project)
    assert state == "warn" and "only 0.2 GiB free" in saw and "--batch-size 8" in fix

    def broken(index=0):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    monkeypatch.setattr(torch.cuda, "mem_get_info", broken)
    state, saw, fix = status("device", project)
    assert state == "fail" and "cannot use it" in saw and "--device cpu" in fix


@pytest.mark.parametrize("free, expected", [(100 * GIB, "ok"), (5 * GIB, "warn"), (GIB // 2, "fail")])
def test_disk_space(project, monkeypatch, free, expected):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(500 * GIB, 500 * GIB - free, free))
    state, saw, fix = status("disk", project)
    assert state == expected and f"{free / GIB:.1f} GiB free" in saw
    assert (fix is None) == (expected == "ok")


def test_port_busy_or_free(project):
    port = free_port()
    assert status("port", project, port=port)[0] == "ok"
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        state, saw, fix = status("port", project, port=port)
    assert state == "warn" and f"Port {port} is in use" in saw and f"dfcoach serve --port {port + 1}" in fix


def test_the_port_suggested_is_free(project):
    with socket.socket() as server, socket.socket() as next_one:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        try:
            next_one.bind(("127.0.0.1", port + 1))
            next_one.listen()
        except OSError:
            pytest.skip("the next port is taken by something else already")
        state, saw, fix = status("port", project, port=port)
    assert state == "warn" and f"dfcoach serve --port {port + 1}" not in fix and "dfcoach serve --port" in fix


# --- dataset --------------------------------------------------------------------------------------


def test_dataset_missing_fine_or_broken(project):
    state, saw, next_step = status("dataset", project)
    assert state == "ok" and "No dataset" in saw and "dfcoach data download tiny_demo" in next_step

    make_dataset(project / "dataset")
    state, saw, fix = status("dataset", project)
    assert state == "warn" and "14 real and 14 fake to train on" in saw and "Fewer than 500" in saw
    (project / "dataset" / "manifest.csv").write_text("file,label,split,artifact\n")  # a demo: few images are fine
    assert status("dataset", project)[0] == "ok"

    for picture in (project / "dataset" / "train" / "fake").iterdir():
        picture.unlink()
    state, saw, fix = status("dataset", project)
    assert state == "fail" and "train/fake/" in saw and "dfcoach data check" in fix


# --- the last run ---------------------------------------------------------------------------------


def write_run(project: Path, name: str = "20260101_120000", log: str = "", last: bool = True, **state) -> Path:
    run = project / "runs" / name
    run.mkdir(parents=True)
    (run / "state.json").write_text(json.dumps(state))
    (run / "train.log").write_text(log)
    if last:
        (run / "last.pth").write_bytes(b"weights")
    return run


def test_no_run_yet(project):
    state, saw, next_step = status("last_run", project)
    assert state == "ok" and saw == "No training run yet." and next_step == "dfcoach train --quick"


def test_interrupted_run_gives_the_resume_command(project):
    write_run(project, "20250101_000000", status="finished", best_val_acc=0.9)  # older runs do not count
    write_run(project, status="interrupted", epoch=2)
    state, saw, fix = status("last_run", project)
    assert state == "warn" and "stopped during epoch 3" in saw
    assert fix == "Continue where it stopped: dfcoach train --resume 20260101_120000"


def test_a_running_run_is_alive_until_its_log_goes_silent(project):
    run = write_run(project, log="t epoch 1: train loss 0.6 acc 60.00%, val loss 0.6 acc 58.00%\n", status="running")
    state, saw, _ = status("last_run", project)
    assert state == "ok" and "is training now (epoch 2)" in saw
    old = time.time() - 2 * doctor.STALE_RUN_SECONDS
    os.utime(run / "train.log", (old, old))
    state, saw, fix = status("last_run", project)
    assert state == "warn" and "stopped without finishing" in saw and "dfcoach train --resume 20260101_120000" in fix


def test_failed_run_with_out_of_memory_in_its_log(project):
    write_run(project, log="t The GPU ran out of memory with batches of 2 images.\nt out of memory at batch size 1\n",
              status="failed", error="The model does not fit in the GPU's memory even one image at a time.")
    state, saw, fix = status("last_run", project)
    assert state == "fail" and "failed: The model does not fit" in saw and "--batch-size 8" in fix


@pytest.mark.parametrize("log, best, expected, words", [
    ("", 0.92, "ok", "best validation accuracy of 92.0%"),
    ("t coach: stuck_at_chance: Stuck at chance\n", 0.51, "warn", "stuck at chance"),
    ("t coach: one_class: The model calls every validation image fake.\n", 0.5, "warn", "stuck at chance"),
    ("t coach: overfitting: Overfitting: training accuracy\n", 0.85, "warn", "overfitted"),
    ("t The GPU ran out of memory with batches of 32 images.\n", 0.88, "warn", "ran out of memory"),
    ("", 0.64, "warn", "not above 70%"),
])
def test_finished_run_health_from_its_log(project, log, best, expected, words):
    write_run(project, log=log, status="finished", best_val_acc=best)
    state, saw, _ = status("last_run", project)
    assert state == expected and words in saw


@pytest.mark.parametrize("log, plain, balanced, expected, words", [
    ("", 0.72, 0.52, "warn", "52.0% balanced, 72.0% plain"),  # calls nearly everything real: below the bar
    ("", 0.66, 0.76, "ok", "76.0% balanced"),
    # near chance at epoch 3, then it learned: the best epoch says so, not the early warning
    ("t coach: stuck_at_chance: Stuck at chance\n", 0.65, 0.67, "warn", "not above 70%"),
    ("t coach: stuck_at_chance: Stuck at chance\n", 0.72, 0.53, "warn", "stuck at chance"),
])
def test_finished_run_health_with_unequal_classes(project, log, plain, balanced, expected, words):
    write_run(project, log=log, status="finished", best_val_acc=plain, best_val_balanced_acc=balanced)
    state, saw, _ = status("last_run", project)
    assert state == expected and words in saw, saw


# --- the deployed model ---------------------------------------------------------------------------


def test_deployed_model(project):
    state, saw, next_step = status("deployed_model", project)
    assert state == "ok" and "Not deployed yet" in saw and next_step.startswith("dfcoach deploy")

    env = project / ".env"
    env.write_text("OTHER=1\n")
    assert "names no MODEL_PATH" in status("deployed_model", project)[1]

    env.write_text("MODEL_TYPE=custom\nMODEL_PATH=./models/gone.pth\nCUSTOM_MODEL_TYPE=custom_cnn\n")
    state, saw, fix = status("deployed_model", project)
    assert state == "fail" and "there is no file there" in saw and "dfcoach deploy" in fix

    write_model(project / "models" / "gone.pth", model_name="meso4")
    state, saw, fix = status("deployed_model", project)  # the service refuses a model of another type than .env says
    assert state == "fail" and "CUSTOM_MODEL_TYPE is 'custom_cnn'" in saw and "holds a meso4" in saw and "dfcoach deploy" in fix

    env.write_text("MODEL_TYPE=custom\nMODEL_PATH=./models/gone.pth\nCUSTOM_MODEL_TYPE=meso4\n")
    state, saw, fix = status("deployed_model", project)
    assert state == "ok" and "which loads (meso4)" in saw

    env.write_text('MODEL_TYPE="pretrained"\nMODEL_PATH="./models/gone.pth"\n')
    state, saw, _ = status("deployed_model", project)
    assert state == "fail" and "MODEL_TYPE is 'pretrained'" in saw


def test_deployed_model_that_would_run_code_is_refused(project):
    from test_evaluate import malicious_model

    marker = project / "pwned"
    malicious_model(project / "evil.pth", marker)
    (project / ".env").write_text("MODEL_TYPE=custom\nMODEL_PATH=evil.pth\n")
    state, saw, _ = status("deployed_model", project)
    assert state == "fail" and "contains code" in saw
    assert not marker.exists()


# --- the registry and the command ------------------------------------------------------------------


def test_a_crashing_check_becomes_a_warning(project, monkeypatch):
    def broken(context):
        raise ValueError("surprise")

    monkeypatch.setitem(doctor.CHECKS, "broken", ("A broken check", broken))
    result = run_check("broken", context(project))
    assert result.status == "warn" and "could not run: ValueError: surprise" in result.saw


def test_json_lists_every_check_and_a_new_check_is_one_function(cli, project, monkeypatch):
    monkeypatch.setitem(doctor.CHECKS, "coffee", ("Coffee", lambda context: Finding("warn", "The cup is empty.", "Refill it.")))
    result = cli("doctor", "--json", "--port", free_port())
    report = json.loads(result.stdout)
    ids = [check["id"] for check in report["checks"]]
    assert ids == ["python", "torch", "device", "disk", "kaggle_credentials", "dataset", "last_run", "deployed_model", "port", "coffee"]
    coffee = report["checks"][-1]
    assert coffee == {"id": "coffee", "title": "Coffee", "status": "warn", "saw": "The cup is empty.", "fix": "Refill it.",
                      "doc": "docs/troubleshooting.md#coffee"}
    assert report["counts"]["warn"] >= 1
    assert result.exit_code == (0 if report["healthy"] else 1)


def test_exit_code_1_and_the_fix_when_a_check_fails(cli, project, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100 * GIB, 100 * GIB, 10 * 1024**2))
    result = cli("doctor", "--port", free_port())
    assert result.exit_code == 1
    assert "✗ fail  Free disk space: 0.0 GiB free" in result.stdout
    assert "How to fix: Free at least a few GB" in result.stdout
    assert "More: docs/troubleshooting.md#disk" in result.stdout
    assert "1 problem to fix" in result.stdout
    assert json.loads(cli("doctor", "--json", "--port", free_port()).stdout)["healthy"] is False


def test_a_healthy_project_exits_0(cli, project, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(500 * GIB, 100 * GIB, 400 * GIB))
    monkeypatch.setattr(doctor, "_installed_version", {"torch": "2.14.1", "torchvision": "0.29.1"}.get)
    result = cli("doctor", "--port", free_port())
    assert result.exit_code == 0, result.output
    assert "✓ ok    Python version" in result.stdout and "Next: dfcoach train --quick" in result.stdout


# --- Kaggle credentials -------------------------------------------------------------------------


def _kaggle_json(project: Path, text: str, mode: int) -> Path:
    path = project / "home" / ".kaggle" / "kaggle.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_kaggle_credentials_none_is_a_warning_with_both_routes(project):
    result = run_check("kaggle_credentials", context(project))
    assert result.status == "warn"
    assert "dfcoach kaggle setup" in result.fix and "--archive" in result.fix


def test_kaggle_credentials_found_private_is_ok_and_never_shows_the_key(project):
    _kaggle_json(project, '{"username": "ada", "key": "0123456789abcdef0123456789abcdef"}', 0o600)
    result = run_check("kaggle_credentials", context(project))
    assert result.status == "ok" and "kaggle.json" in result.saw
    assert "0123456789abcdef" not in json.dumps(result.to_dict())


def test_kaggle_credentials_readable_by_others_is_a_warning(project):
    _kaggle_json(project, '{"username": "ada", "key": "0123456789abcdef0123456789abcdef"}', 0o644)
    result = run_check("kaggle_credentials", context(project))
    assert result.status == "warn" and "--fix-permissions" in result.fix


def test_kaggle_credentials_broken_file_fails(project):
    _kaggle_json(project, "{not json", 0o600)
    result = run_check("kaggle_credentials", context(project))
    assert result.status == "fail" and "dfcoach kaggle setup" in result.fix
