"""Text from outside dfcoach (folder and file names, a server's answer) reaches the console as text:
never read as Rich markup, and never carrying a credential."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kaggle_fixtures import (  # noqa: F401  (fixtures)
    GOOD_KEY,
    GOOD_TOKEN,
    GOOD_USER,
    home,
    kaggle,
    write_access_token,
    write_kaggle_json,
)

from conftest import make_faces_folder, write_model

MARKUP_NAME = "a[/b]"  # a closing tag with no opening one: Rich's MarkupError if read as markup
STYLE_NAME = "[bold]mine"  # read as markup, it would lose its "[bold]" silently


# --- folder and file names are shown as they are ---------------------------------------------------


@pytest.mark.parametrize("name", [MARKUP_NAME, STYLE_NAME])
def test_a_dataset_folder_with_brackets_is_written_and_named(cli, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    result = cli("data", "download", "tiny_demo", "--images-per-class", "10", "--data-dir", name)
    assert result.exit_code == 0, result.output
    assert f"Wrote 20 demo images to {name}/" in result.stderr
    assert "Traceback" not in result.output and "unexpected" not in result.output
    sample = cli("data", "download", "sample", "--data-dir", f"{name}-sample")
    assert sample.exit_code == 0 and f"in {name}-sample/" in sample.stderr


def test_organize_into_a_folder_with_brackets_with_live_bars(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_faces_folder(tmp_path / f"src{MARKUP_NAME}", real=10, fake=10)
    result = cli("data", "organize", f"src{MARKUP_NAME}", "--data-dir", MARKUP_NAME, env={"DFCOACH_PROGRESS": "rich"})
    assert result.exit_code == 0, result.output
    assert f"into {MARKUP_NAME}/" in result.stderr and f"Writing {MARKUP_NAME}/" in result.stderr


def test_deploy_to_an_env_file_in_a_folder_with_brackets(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = write_model(tmp_path / "m[/x]" / "best_model_custom_cnn_20260101_000000.pth")
    (tmp_path / MARKUP_NAME).mkdir(parents=True)  # the folder b] inside a[
    result = cli("deploy", model, "--env-file", f"{MARKUP_NAME}/.env")
    assert result.exit_code == 0, result.output
    assert f"{MARKUP_NAME}/.env" in result.stdout and f"Created {MARKUP_NAME}/.env" in result.stdout
    assert "unexpected" not in result.output


# --- a server's answer is quoted without credentials -------------------------------------------------


def assert_no_credential(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output
    pair = f"{GOOD_USER}:{GOOD_KEY}"
    assert pair not in output and base64.b64encode(pair.encode()).decode() not in output


@pytest.mark.parametrize("status", [400, 403, 500])
def test_kaggle_setup_quotes_the_server_without_the_key(cli, home, kaggle, status):
    kaggle.echo_status = status
    result = cli("kaggle", "setup", "--token-file", write_kaggle_json(home))
    assert result.exit_code == 1
    assert "Kaggle said:" in result.stderr and "Please verify your phone number" in result.stderr  # the rest is kept
    assert_no_credential(result.output, GOOD_KEY)
    assert "Traceback" not in result.output


def test_kaggle_setup_quotes_the_server_without_the_token(cli, home, kaggle):
    kaggle.echo_status = 401
    result = cli("kaggle", "setup", "--token-file", write_access_token(home))
    assert result.exit_code == 1
    assert "Kaggle said:" in result.stderr and "(hidden)" in result.stderr
    assert_no_credential(result.output, GOOD_TOKEN, GOOD_TOKEN.removeprefix("KGAT_"))


def test_a_username_that_is_the_token_is_not_shown(cli, home, kaggle):
    kaggle.introspected_username = f"{GOOD_TOKEN} [/b]"
    result = cli("kaggle", "setup", "--token-file", write_access_token(home))
    assert result.exit_code == 0, result.output
    assert "Kaggle accepted your credentials" in result.stderr and "[/b]" in result.stderr
    assert GOOD_TOKEN not in result.output


def test_the_download_quotes_the_server_without_the_key(cli, home, kaggle):
    write_kaggle_json(home)
    kaggle.echo_status = 403
    result = cli("data", "download", "kaggle_140k")
    assert result.exit_code == 1
    assert "Kaggle refused while downloading" in result.stderr and "Kaggle said:" in result.stderr
    assert_no_credential(result.output, GOOD_KEY)
    assert not Path("dataset").exists()


def test_keys_read_from_the_environment_are_hidden_too(cli, home, kaggle, monkeypatch):
    key = "fedcba9876543210"  # not shaped like a kaggle.json key: hidden because it is the user's own
    monkeypatch.setenv("KAGGLE_USERNAME", GOOD_USER)
    monkeypatch.setenv("KAGGLE_KEY", key)
    kaggle.echo_status = 400
    result = cli("data", "download", "kaggle_140k")
    assert result.exit_code == 1 and "Kaggle said:" in result.stderr
    assert key not in result.output and base64.b64encode(f"{GOOD_USER}:{key}".encode()).decode() not in result.output
