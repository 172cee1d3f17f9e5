"""dfcoach deploy writes .env for the service; dfcoach serve runs it as a real process that curl could talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deepfake_coach.deploy import check_service, deploy_model, model_path_value, read_deployment
from deepfake_coach.errors import CoachError

from conftest import image_bytes, write_model

MODEL_NAME = "best_model_custom_cnn_20250101_120000.pth"
ENV_BEFORE = "# my AI service\nexport API_KEY='secret value'\n\nMODEL_TYPE=efficientnet   # the old one\nPORT=5000\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A person's project folder after training, as the working directory."""
    write_model(tmp_path / "models" / MODEL_NAME)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_deploy_writes_the_three_keys_and_keeps_the_rest(project):
    (project / ".env").write_text(ENV_BEFORE)
    result = deploy_model()
    assert result.model_path == Path("models") / MODEL_NAME and result.model_name == "custom_cnn"
    assert (project / ".env").read_text() == (
        "# my AI service\nexport API_KEY='secret value'\n\nMODEL_TYPE=custom\nPORT=5000\n"
        f"MODEL_PATH=./models/{MODEL_NAME}\nCUSTOM_MODEL_TYPE=custom_cnn\n"
    )
    assert result.env.backup.read_text() == ENV_BEFORE
    assert result.check_label in ("real", "fake")


def test_model_path_is_relative_below_the_env_folder_and_absolute_elsewhere(tmp_path):
    model = tmp_path / "project" / "models" / MODEL_NAME
    assert model_path_value(model, tmp_path / "project" / ".env") == f"./models/{MODEL_NAME}"
    assert model_path_value(model, tmp_path / "service" / ".env") == str(model)
    assert model_path_value(model, tmp_path / "project" / "models" / "x" / ".env") == str(model)


def test_a_model_that_does_not_load_leaves_env_untouched(project):
    (project / ".env").write_text(ENV_BEFORE)
    broken = project / "models" / "best_model_custom_cnn_20250102_000000.pth"
    broken.write_bytes(b"PK\x03\x04 not a whole model")
    with pytest.raises(CoachError) as caught:
        deploy_model(broken)
    assert "not a readable model file" in caught.value.message
    assert (project / ".env").read_text() == ENV_BEFORE
    assert sorted(p.name for p in project.iterdir()) == [".env", "models"]  # no backup: nothing was touched


def test_deploy_without_a_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CoachError) as caught:
        deploy_model()
    assert "dfcoach train --quick" in caught.value.hint
    assert not (tmp_path / ".env").exists()


def test_read_deployment_before_and_after(project):
    before = read_deployment(project / ".env")
    assert not before.env_exists and not before.loads and not before.ok
    assert "does not exist" in before.problem and before.fix.startswith("Write the settings") and "dfcoach deploy" in before.fix

    deploy_model(env_file=project / ".env")
    after = read_deployment(project / ".env")
    assert after.ok and after.env_exists and after.model_name == "custom_cnn"
    assert (after.model_type, after.model_path, after.custom_model_type) == ("custom", f"./models/{MODEL_NAME}", "custom_cnn")
    assert after.resolved_model_path == project / "models" / MODEL_NAME


def test_read_deployment_names_a_mismatch(project):
    (project / ".env").write_text(f"MODEL_TYPE=custom\nMODEL_PATH=./models/{MODEL_NAME}\nCUSTOM_MODEL_TYPE=meso4\n")
    status = read_deployment(project / ".env")
    assert not status.loads and "CUSTOM_MODEL_TYPE is 'meso4'" in status.problem
    assert status.fix == f"Write matching settings: dfcoach deploy --env-file {project / '.env'} {project / 'models' / MODEL_NAME}"


def test_the_printed_curl_command_names_a_picture_that_exists(project, cli):
    import re

    from conftest import make_dataset

    make_dataset(project / "my data", {"train": (2, 2), "val": (1, 1), "test": (1, 1)})
    (project / "dfcoach.yaml").write_text("data:\n  dir: my data\n")
    result = cli("deploy")
    assert result.exit_code == 0, result.output
    shown = re.search(r"curl -X POST -F 'image=@(.+?)' http://127\.0\.0\.1:5000/inference/analyze-frame", result.stderr)
    assert shown, result.stderr  # quoted for the shell: the folder's name has a space
    assert (project / shown.group(1)).is_file() and shown.group(1).startswith("my data/test/fake/")


def test_cli_deploy_shows_the_change_and_the_next_commands(project, cli):
    (project / ".env").write_text(ENV_BEFORE)
    result = cli("deploy", "--port", "8000")
    assert result.exit_code == 0, result.output
    assert "loads safely and judged a test picture" in result.stdout
    assert "efficientnet" in result.stdout and f"./models/{MODEL_NAME}" in result.stdout
    assert "The old file is saved as .env.backup-" in result.stdout
    assert "dfcoach serve --port 8000" in result.stderr
    assert "curl http://127.0.0.1:8000/health" in result.stderr
    assert "curl -X POST -F image=@YOUR_PICTURE.jpg http://127.0.0.1:8000/inference/analyze-frame" in result.stderr  # no dataset here

    again = cli("deploy")
    assert again.exit_code == 0 and "already points at this model; nothing changed" in again.stdout
    assert len(list(project.glob(".env.backup-*"))) == 1


def test_cli_deploy_check_talks_to_the_service(project, cli):
    result = cli("deploy", str(project / "models" / MODEL_NAME), "--env-file", "service/.env", "--check")
    assert result.exit_code == 0, result.output
    assert "GET /health: the model is loaded (custom_cnn, 32 px)" in result.stderr
    assert "POST /inference/analyze-frame: a test picture was judged" in result.stderr
    assert "dfcoach serve --env-file service/.env" in result.stderr
    # the model is outside service/, so the path is absolute
    assert f"MODEL_PATH={project / 'models' / MODEL_NAME}\n" in (project / "service" / ".env").read_text()


def test_check_service_reports_why_the_model_is_missing(tmp_path):
    env = tmp_path / ".env"
    env.write_text("MODEL_TYPE=custom\nMODEL_PATH=./models/gone.pth\n")
    outcome = check_service(env)
    assert not outcome.ok and outcome.health_status == 503
    assert "there is no file there" in outcome.problem and "dfcoach train --quick" in outcome.fix


def test_cli_deploy_of_a_broken_model_fails_plainly(project, cli):
    broken = project / "broken.pth"
    broken.write_text("not a model")
    result = cli("deploy", str(broken))
    assert result.exit_code == 1
    assert "broken.pth" in result.stderr and "Use a model file made by `dfcoach train`" in result.stderr
    assert "Traceback" not in result.output
    assert not (project / ".env").exists()


def test_cli_serve_port_in_use_and_the_warning_for_every_network(project, cli):
    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))  # bound, not listening: nothing can connect to it
    port = taken.getsockname()[1]
    try:
        result = cli("serve", "--host", "0.0.0.0", "--port", port)
    finally:
        taken.close()
    assert result.exit_code == 1
    assert "reachable from other computers on your network" in result.stderr and "there is no password" in result.stderr
    assert f"Port {port} on 0.0.0.0 is already in use" in result.stderr and f"--port {port + 1}" in result.stderr
    assert "No model is set up for the service: .env does not exist" in result.stderr
    assert "Serving on" not in result.stderr  # nothing announced on a port it could not take


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen) -> httpx.Response:
    for _ in range(1200):
        if process.poll() is not None:
            raise AssertionError(f"dfcoach serve exited early:\n{process.stdout.read()}")
        try:
            return httpx.get(url + "/health", timeout=5, trust_env=False)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("dfcoach serve did not answer within 2 minutes")


@pytest.mark.parametrize("workers", [1, 2])
def test_dfcoach_serve_process_with_the_env_written_by_deploy(project, cli, tmp_path_factory, workers):
    """What a person does: deploy, start `dfcoach serve` from another folder, curl it, Ctrl-C."""
    (project / ".env").write_text(ENV_BEFORE)
    assert cli("deploy").exit_code == 0
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "deepfake_coach", "serve", "--env-file", str(project / ".env"), "--port", str(port), "--workers", str(workers)],
        cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        health = wait_for_health(url, process)
        assert health.status_code == 200, health.text
        assert health.json()["model_path"] == str(project / "models" / MODEL_NAME)
        answer = httpx.post(url + "/inference/analyze-frame", files={"image": ("test_image.jpg", image_bytes(5), "image/jpeg")}, timeout=60, trust_env=False)
        assert answer.status_code == 200 and answer.json()["label"] in ("real", "fake")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output  # Ctrl-C is the normal way to stop a service
    assert "The service has stopped." in output and "Error" not in output
    assert f"Serving on {url}" in output and "Model loaded: custom_cnn (32 px)" in output
    assert "Traceback" not in output


# --- .env writes that fail, and model paths every reader of .env must read alike ---------------------


def env_readers(env: Path) -> dict[str, str]:
    """MODEL_PATH as python-dotenv, a shell's `set -a; . ./.env` and `docker --env-file` (the line taken
    literally, up to its end) each read it."""
    from dotenv import dotenv_values

    shell = subprocess.run(["bash", "-c", 'set -a; . ./.env; printf %s "$MODEL_PATH"'], cwd=env.parent, capture_output=True, text=True)
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr
    line = next(line for line in env.read_text().splitlines() if line.startswith("MODEL_PATH="))
    return {"dotenv": dotenv_values(env)["MODEL_PATH"], "shell": shell.stdout, "docker": line.partition("=")[2]}


def test_a_plain_model_path_is_written_bare_for_every_reader(project, cli):
    result = cli("deploy")
    assert result.exit_code == 0, result.output
    assert f"MODEL_PATH=./models/{MODEL_NAME}\n" in (project / ".env").read_text()
    assert set(env_readers(project / ".env").values()) == {f"./models/{MODEL_NAME}"}
    assert "docker" not in result.output


@pytest.mark.parametrize("folder", ["my models", "cost $5", 'say "hi"', "#1", "back\\slash", "modèles d’été"])
def test_a_model_path_with_special_characters_reads_the_same_in_dotenv_and_a_shell(project, cli, folder):
    model = write_model(project / folder / MODEL_NAME)
    result = cli("deploy", model)
    assert result.exit_code == 0, result.output
    value = f"./{folder}/{MODEL_NAME}"
    read = env_readers(project / ".env")
    assert read["dotenv"] == read["shell"] == value
    assert read["docker"] == f"'{value}'"  # Docker keeps the quotes; the person is told
    assert "single quotes" in result.stdout and "`docker --env-file` would keep the quotes" in result.stdout
    assert read_deployment(project / ".env").ok  # dfcoach serve finds the model too


@pytest.mark.parametrize("folder, reason", [("two\nlines", "a line break"), ("it's", "a single quote"), ("${HOME}", "a variable to fill in")])
def test_a_model_path_no_env_reader_could_share_is_refused(project, cli, folder, reason):
    (project / ".env").write_text(ENV_BEFORE)
    model = write_model(project / folder / MODEL_NAME)
    result = cli("deploy", model)
    assert result.exit_code == 1
    assert reason in result.stderr and "Move or rename the model file to a simple path" in result.stderr
    assert "Nothing was written to .env" in result.stderr and "Traceback" not in result.output
    assert (project / ".env").read_text() == ENV_BEFORE and not list(project.glob(".env.backup-*"))


def test_a_read_only_env_is_refused_not_replaced(project, cli):
    env = project / ".env"
    env.write_text(ENV_BEFORE)
    env.chmod(0o444)
    result = cli("deploy")
    assert result.exit_code == 1
    assert ".env is read-only, so dfcoach left it as it was" in result.stderr and "chmod u+w .env" in result.stderr
    assert "Traceback" not in result.output
    assert env.read_text() == ENV_BEFORE and (env.stat().st_mode & 0o777) == 0o444
    assert not list(project.glob(".env.backup-*"))


def test_a_full_disk_leaves_the_env_and_no_backup(project, cli, monkeypatch):
    (project / ".env").write_text(ENV_BEFORE)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "sendfile", no_space)  # copying a file (shutil) on a full disk
    monkeypatch.setattr(os, "fsync", no_space)  # flushing a written file on a full disk
    result = cli("deploy")
    assert result.exit_code == 1
    assert "the disk is full" in result.stderr and ".env is as it was, and no backup was left" in result.stderr
    assert "Traceback" not in result.output
    assert (project / ".env").read_text() == ENV_BEFORE
    assert sorted(p.name for p in project.iterdir()) == [".env", "models"]  # no empty backup, no temporary file


def test_a_folder_dfcoach_may_not_write_in_is_named_not_a_backup_never_made(project, cli, monkeypatch):
    import builtins

    service = project / "service"
    service.mkdir()
    (service / ".env").write_text(ENV_BEFORE)
    if os.geteuid() == 0:  # root ignores file modes, so the refusal is injected: no new file in service/
        real_open, real_os_open = builtins.open, os.open

        def refused(path):
            raise PermissionError(13, "Permission denied", str(path))

        def fake_open(file, mode="r", *args, **kwargs):
            if Path(str(file)).parent == service and any(flag in mode for flag in "wax+"):
                refused(file)
            return real_open(file, mode, *args, **kwargs)

        def fake_os_open(path, flags, *args, **kwargs):
            if Path(str(path)).parent == service and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                refused(path)
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(os, "open", fake_os_open)
    else:
        service.chmod(0o500)
    try:
        result = cli("deploy", "--env-file", "service/.env")
    finally:
        service.chmod(0o700)
    assert result.exit_code == 1
    assert "permission denied in the folder service/" in result.stderr and "chmod u+w service" in result.stderr
    assert "backup" not in result.stderr.replace("no backup was left", "")  # no name of a file that was never made
    assert "Traceback" not in result.output
    assert sorted(p.name for p in service.iterdir()) == [".env"] and (service / ".env").read_text() == ENV_BEFORE
