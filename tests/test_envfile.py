""".env editing: the keys dfcoach sets change, every other byte of the file stays as the person wrote it."""

from __future__ import annotations

import os

import pytest
from dotenv import dotenv_values

from deepfake_coach.envfile import edited_text, read_env_values, update_env_file

KEYS = {"MODEL_TYPE": "custom", "MODEL_PATH": "./models/best_model_custom_cnn_20250101_120000.pth", "CUSTOM_MODEL_TYPE": "custom_cnn"}

PERSONAL_ENV = (
    "# Settings of my AI service\n"
    "\n"
    "export OPENAI_API_KEY='sk-abc#not-a-comment'\n"
    'GREETING="Hello, world"   # said at startup\n'
    "MODEL_TYPE=efficientnet\n"
    "\n"
    "\n"
    "   # an indented comment\n"
    'MULTILINE="first\nsecond"\n'
    "EMPTY=\n"
    "export MODEL_PATH=/old/model.pth\n"
    "PORT=5000\n"
)


def test_other_lines_stay_byte_for_byte(tmp_path):
    env = tmp_path / ".env"
    env.write_text(PERSONAL_ENV)
    update = update_env_file(env, KEYS)
    assert env.read_text() == (
        "# Settings of my AI service\n"
        "\n"
        "export OPENAI_API_KEY='sk-abc#not-a-comment'\n"
        'GREETING="Hello, world"   # said at startup\n'
        "MODEL_TYPE=custom\n"
        "\n"
        "\n"
        "   # an indented comment\n"
        'MULTILINE="first\nsecond"\n'
        "EMPTY=\n"
        "export MODEL_PATH=./models/best_model_custom_cnn_20250101_120000.pth\n"  # the export stays an export
        "PORT=5000\n"
        "CUSTOM_MODEL_TYPE=custom_cnn\n"
    )
    assert update.previous == {"MODEL_TYPE": "efficientnet", "MODEL_PATH": "/old/model.pth", "CUSTOM_MODEL_TYPE": None}
    assert update.changed == ["MODEL_TYPE", "MODEL_PATH", "CUSTOM_MODEL_TYPE"]
    # the values any python-dotenv service reads: ours set, the others untouched
    values = dotenv_values(env)
    assert {key: values[key] for key in KEYS} == KEYS
    assert values["OPENAI_API_KEY"] == "sk-abc#not-a-comment" and values["MULTILINE"] == "first\nsecond"
    assert values["GREETING"] == "Hello, world" and values["EMPTY"] == ""


def test_the_old_file_is_backed_up_with_its_permissions(tmp_path):
    env = tmp_path / ".env"
    env.write_text(PERSONAL_ENV)
    env.chmod(0o640)
    update = update_env_file(env, KEYS)
    assert update.backup is not None and update.backup.parent == tmp_path
    assert update.backup.read_text() == PERSONAL_ENV
    assert (update.backup.stat().st_mode & 0o777) == 0o640
    assert (env.stat().st_mode & 0o777) == 0o640
    # a second deploy keeps the first backup too
    second = update_env_file(env, {**KEYS, "MODEL_PATH": "./models/other.pth"})
    assert second.backup != update.backup and update.backup.read_text() == PERSONAL_ENV
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


def test_windows_line_endings_bom_and_non_utf8_bytes_survive(tmp_path):
    env = tmp_path / ".env"
    original = "\ufeff# caf\xe9\r\nA=1\r\nMODEL_TYPE='custom'\r\nB=2".encode("utf-8") + b"\r\n# latin-1: \xe9\r\nC=3"
    env.write_bytes(original)
    update_env_file(env, KEYS)
    assert env.read_bytes() == (
        "\ufeff# caf\xe9\r\nA=1\r\nMODEL_TYPE='custom'\r\nB=2".encode("utf-8") + b"\r\n# latin-1: \xe9\r\nC=3\r\n"
        b"MODEL_PATH=./models/best_model_custom_cnn_20250101_120000.pth\r\nCUSTOM_MODEL_TYPE=custom_cnn\r\n"
    )  # MODEL_TYPE already had its value: its quoting is left as written


def test_nothing_is_written_when_the_keys_already_hold_the_values(tmp_path):
    env = tmp_path / ".env"
    env.write_text("X=1\n" + "".join(f"{key}={value}\n" for key, value in KEYS.items()))
    before = env.stat().st_mtime_ns
    update = update_env_file(env, KEYS)
    assert update.changed == [] and update.backup is None
    assert env.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_a_new_file_is_private(tmp_path):
    env = tmp_path / "config" / ".env"
    update = update_env_file(env, KEYS)
    assert update.created and update.backup is None
    assert read_env_values(env) == KEYS
    assert (env.stat().st_mode & 0o777) == 0o600


def test_every_copy_of_a_repeated_key_is_set(tmp_path):
    text = "MODEL_TYPE=a\nOTHER=1\nMODEL_TYPE=b\n"
    assert edited_text(text, {"MODEL_TYPE": "custom"}) == "MODEL_TYPE=custom\nOTHER=1\nMODEL_TYPE=custom\n"


def test_a_file_without_final_newline_gets_one_before_new_keys():
    assert edited_text("A=1", {"B": "2"}) == "A=1\nB=2\n"


def shell_reads(env, key: str) -> str:
    """What a shell's `set -a; . ./.env` gives a program for `key`."""
    import subprocess

    done = subprocess.run(["bash", "-c", f'set -a; . ./{env.name}; printf %s "${key}"'], cwd=env.parent, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def docker_reads(env) -> dict[str, str]:
    """What `docker --env-file` gives: each KEY=VALUE line taken literally, quotes and all, up to the end of the line."""
    lines = [line.lstrip() for line in env.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line)


@pytest.mark.parametrize("value", [
    "./models/best_model_custom_cnn_20250101_120000.pth",
    "/home/me/models/m-1+2@host:v.pth",
    "./models/modèle_ünïcode_模型.pth",  # letters of any alphabet need no quotes
])
def test_plain_values_are_written_bare_for_every_reader(tmp_path, value):
    env = tmp_path / ".env"
    update = update_env_file(env, {"MODEL_PATH": value})
    assert env.read_text() == f"MODEL_PATH={value}\n" and update.quoted == []
    assert dotenv_values(env)["MODEL_PATH"] == value
    assert shell_reads(env, "MODEL_PATH") == value
    assert docker_reads(env)["MODEL_PATH"] == value


@pytest.mark.parametrize("value", [
    "/home/me/my models/best.pth",
    "/tmp/$HOME/cost$5.pth",
    '/tmp/say "hi".pth',
    "/tmp/#1 #2.pth",
    "C:\\models\\m.pth",
    "/tmp/`date` & ~me; (x) | <y> * ?.pth",
    "/tmp/café au lait/m.pth",
])
def test_other_values_are_single_quoted_and_read_the_same_by_dotenv_and_a_shell(tmp_path, value):
    env = tmp_path / ".env"
    update = update_env_file(env, {"MODEL_PATH": value})
    assert env.read_text() == f"MODEL_PATH='{value}'\n" and update.quoted == ["MODEL_PATH"]
    assert dotenv_values(env)["MODEL_PATH"] == value
    assert shell_reads(env, "MODEL_PATH") == value
    assert docker_reads(env)["MODEL_PATH"] == f"'{value}'"  # Docker keeps the quotes: dfcoach deploy says so


@pytest.mark.parametrize("value, reason", [
    ("/tmp/two\nlines.pth", "a line break"),
    ("/tmp/it's.pth", "a single quote"),
    ("/tmp/${HOME}.pth", "a variable to fill in"),
    ("C:\\\\server\\m.pth", "two backslashes in a row"),
    ("/tmp/m\\", "one at the end"),
    ("/tmp/bell\a.pth", "a control character"),
    ("/tmp/latin1-\udce9.pth", "not UTF-8"),
])
def test_values_no_quoting_can_hold_for_every_reader_are_refused(tmp_path, value, reason):
    from deepfake_coach.envfile import UnwritableValue

    env = tmp_path / ".env"
    env.write_text(PERSONAL_ENV)
    with pytest.raises(UnwritableValue, match=reason):
        update_env_file(env, {"MODEL_PATH": value})
    assert env.read_text() == PERSONAL_ENV and sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_a_symlinked_env_is_edited_where_it_points(tmp_path):
    real = tmp_path / "shared" / "service.env"
    real.parent.mkdir()
    real.write_text("A=1\n")
    link = tmp_path / ".env"
    os.symlink(real, link)
    update_env_file(link, {"MODEL_TYPE": "custom"})
    assert link.is_symlink()
    assert real.read_text() == "A=1\nMODEL_TYPE=custom\n"


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from deepfake_coach import envfile
    from deepfake_coach.errors import CoachError

    env = tmp_path / ".env"
    env.write_text(PERSONAL_ENV)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(envfile, "atomic_write_bytes", full_disk)
    with pytest.raises(CoachError) as caught:
        update_env_file(env, KEYS)
    assert "disk is full" in caught.value.message
    assert env.read_text() == PERSONAL_ENV
