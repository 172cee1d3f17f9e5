"""Kaggle credentials: found in kaggle's own order, installed privately, checked against a Kaggle stand-in."""

from __future__ import annotations

import json
import os
import socket
import stat

import pytest

from kaggle_fixtures import (  # noqa: F401  (fixtures)
    EXPIRED_TOKEN,
    GOOD_KEY,
    GOOD_TOKEN,
    GOOD_USER,
    REFUSED_USER,
    closed_port_url,
    home,
    kaggle,
    point_kaggle_at,
    write_access_token,
    write_kaggle_json,
)

from deepfake_coach.errors import CoachError
from deepfake_coach.kaggle import api, credentials as creds
from deepfake_coach.kaggle.api import KaggleOffline, KaggleRefused, KaggleTokenExpired, KaggleWrongCredentials, NoKaggleCredentials
from deepfake_coach.kaggle.env import KaggleEnv


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- finding, in kaggle's order ------------------------------------------------------------------


def test_nothing_found_in_an_empty_home(home):
    assert creds.find_credentials() is None
    assert creds.all_credentials() == []


def test_the_order_is_kaggles_own(home, monkeypatch, tmp_path):
    write_kaggle_json(home)
    assert creds.find_credentials().kind == "kaggle.json"
    monkeypatch.setenv("KAGGLE_USERNAME", "bob")
    monkeypatch.setenv("KAGGLE_KEY", "bobs-key")
    assert creds.find_credentials().kind == "KAGGLE_USERNAME/KAGGLE_KEY variables"  # they override kaggle.json
    write_access_token(home)
    assert creds.find_credentials().kind == "access_token file"
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_from_the_variable")
    found = creds.find_credentials()
    assert found.kind == "KAGGLE_API_TOKEN variable" and found.path is None
    assert [f.kind for f in creds.all_credentials()] == [
        "KAGGLE_API_TOKEN variable",
        "access_token file",
        "KAGGLE_USERNAME/KAGGLE_KEY variables",
        "kaggle.json",
    ]


def test_an_explicit_environment_is_used_instead_of_this_processs(home, monkeypatch, tmp_path):
    write_access_token(home)  # what this process's own environment would find
    other_home = tmp_path / "other"
    other_home.mkdir()
    write_kaggle_json(other_home, username="bob", key="b" * 32)
    other = KaggleEnv({}, other_home)
    found = creds.find_credentials(other)
    assert found.kind == "kaggle.json" and found.path == other_home / ".kaggle" / "kaggle.json"
    assert found.description == "the key file ~/.kaggle/kaggle.json"  # shown from the other home
    assert creds.read_auth(found, other).username == "bob"
    assert creds.find_credentials(KaggleEnv({"KAGGLE_USERNAME": "carol", "KAGGLE_KEY": "c" * 32}, other_home)).kind == (
        "KAGGLE_USERNAME/KAGGLE_KEY variables")
    installed = creds.install_pasted_token(GOOD_TOKEN, confirm_replace=lambda path: False, env=other)
    assert installed.path == other_home / ".kaggle" / "access_token"
    assert creds.find_credentials().path == home / ".kaggle" / "access_token"  # None: this process's environment
    assert KaggleEnv.current().home == home and KaggleEnv.resolve(None).environ is os.environ


def test_credentials_do_not_import_the_api():
    """api.py builds on credentials.py and env.py, never the other way round (no import circle)."""
    import subprocess
    import sys

    code = ("import sys, deepfake_coach.kaggle.credentials, deepfake_coach.kaggle.env\n"
            "print([m for m in ('deepfake_coach.kaggle.api', 'deepfake_coach.kaggle.setup', 'kaggle') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_descriptions_never_hold_the_secret(home, monkeypatch):
    write_kaggle_json(home)
    write_access_token(home)
    monkeypatch.setenv("KAGGLE_USERNAME", GOOD_USER)
    monkeypatch.setenv("KAGGLE_KEY", GOOD_KEY)
    monkeypatch.setenv("KAGGLE_API_TOKEN", "KGAT_variable_secret_value")
    found = creds.all_credentials()
    assert len(found) == 4
    for one in found:
        for secret in (GOOD_KEY, GOOD_TOKEN, "KGAT_variable_secret_value"):
            assert secret not in one.description and secret not in repr(one)
    assert "KGAT_variable_secret_value" not in repr(creds.read_auth(found[0]))


def test_the_token_variable_may_name_a_file(home, monkeypatch, tmp_path):
    token_file = tmp_path / "my_token"
    token_file.write_text(GOOD_TOKEN)
    monkeypatch.setenv("KAGGLE_API_TOKEN", str(token_file))
    found = creds.find_credentials()
    assert found.kind == "KAGGLE_API_TOKEN variable" and found.path == token_file
    assert creds.read_auth(found).token == GOOD_TOKEN


def test_access_token_txt_as_windows_editors_save_it(home):
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "access_token.txt").write_text(GOOD_TOKEN)
    found = creds.find_credentials()
    assert found.kind == "access_token file" and found.path.name == "access_token.txt"


def test_kaggle_config_dir_and_xdg_locations(home, monkeypatch, tmp_path):
    xdg = home / ".config" / "kaggle" / "kaggle.json"
    xdg.parent.mkdir(parents=True)
    xdg.write_text(json.dumps({"username": GOOD_USER, "key": GOOD_KEY}))
    found = creds.find_credentials()
    assert found.path == xdg and "instead" not in found.description  # kaggle looks there when ~/.kaggle is absent
    assert found.description == "the key file ~/.config/kaggle/kaggle.json"

    (home / ".kaggle").mkdir()  # now kaggle itself looks in ~/.kaggle only: say so
    found = creds.find_credentials()
    assert found.path == xdg and "looks in ~/.kaggle/ instead" in found.description

    custom = tmp_path / "kaggle-config"
    custom.mkdir()
    (custom / "kaggle.json").write_text(json.dumps({"username": "other", "key": "k" * 32}))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(custom))
    assert creds.kaggle_config_dir() == custom
    assert creds.find_credentials().path == custom / "kaggle.json"


def test_broken_files_are_reported_with_what_is_wrong(home):
    path = home / ".kaggle" / "kaggle.json"
    path.parent.mkdir()
    path.write_text("{not json")
    found = creds.find_credentials()
    assert found.kind == "kaggle.json" and not found.usable and "not valid JSON" in found.problem
    path.write_text(json.dumps({"username": GOOD_USER}))
    assert "lacks" in creds.find_credentials().problem
    (home / ".kaggle" / "access_token").write_text("  \n")
    assert creds.find_credentials().problem.endswith("is empty.")  # the first broken one is reported
    with pytest.raises(CoachError, match="cannot be used"):
        creds.read_auth(creds.find_credentials())


def test_a_usable_source_wins_over_an_earlier_broken_one(home):
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "access_token").write_text("")
    write_kaggle_json(home)
    assert creds.find_credentials().kind == "kaggle.json"


def test_files_readable_by_others_are_flagged(home):
    path = write_kaggle_json(home, mode=0o644)
    assert creds.find_credentials().too_open
    path.chmod(0o600)
    assert not creds.find_credentials().too_open


def test_kaggle_auth_login_sign_in_is_found_last(home):
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "credentials.json").write_text(json.dumps({"refresh_token": "r" * 20}))
    found = creds.find_credentials()
    assert found.kind == "kaggle auth login" and found.usable
    write_kaggle_json(home)
    assert creds.find_credentials().kind == "kaggle.json"


# --- installing ----------------------------------------------------------------------------------


def never(path):
    raise AssertionError(f"asked about {path}")


def test_install_a_downloaded_kaggle_json_private(home, tmp_path):
    downloaded = tmp_path / "Downloads" / "kaggle.json"
    downloaded.parent.mkdir()
    downloaded.write_text(json.dumps({"username": GOOD_USER, "key": GOOD_KEY}))
    downloaded.chmod(0o644)
    installed = creds.install_token_file(downloaded, confirm_replace=never)
    assert installed.path == home / ".kaggle" / "kaggle.json" and installed.backup is None
    assert json.loads(installed.path.read_text()) == {"username": GOOD_USER, "key": GOOD_KEY}
    assert mode_of(installed.path) == 0o600 and mode_of(installed.path.parent) == 0o700
    assert creds.find_credentials().path == installed.path


def test_install_respects_kaggle_config_dir(home, monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    installed = creds.install_pasted_token(json.dumps({"username": GOOD_USER, "key": GOOD_KEY}), confirm_replace=never)
    assert installed.path == tmp_path / "cfg" / "kaggle.json"


@pytest.mark.parametrize(
    "pasted",
    [GOOD_TOKEN, f"  {GOOD_TOKEN}\n", f"export KAGGLE_API_TOKEN={GOOD_TOKEN}", f'KAGGLE_API_TOKEN="{GOOD_TOKEN}"'],
)
def test_a_pasted_token_becomes_the_access_token_file(home, pasted):
    installed = creds.install_pasted_token(pasted, confirm_replace=never)
    assert installed.path == home / ".kaggle" / "access_token" and installed.kind == "access_token file"
    assert installed.path.read_text() == GOOD_TOKEN
    assert mode_of(installed.path) == 0o600


@pytest.mark.parametrize(
    ("pasted", "complaint"),
    [("", "empty"), ("two words", "one word"), ('{"user": "x"}', "not a Kaggle key file"), ("short", "one word")],
)
def test_what_is_not_a_token_is_refused_plainly(home, pasted, complaint):
    with pytest.raises(CoachError, match=complaint):
        creds.install_pasted_token(pasted, confirm_replace=never)
    assert not (home / ".kaggle").exists()


def test_an_existing_file_is_replaced_only_with_consent_and_a_backup(home):
    old = write_kaggle_json(home, key="old-key-" + "0" * 24)
    new = json.dumps({"username": GOOD_USER, "key": GOOD_KEY})
    with pytest.raises(CoachError, match="Kept .* as it was"):
        creds.install_pasted_token(new, confirm_replace=lambda path: False)
    assert "old-key" in old.read_text()

    asked = []
    installed = creds.install_pasted_token(new, confirm_replace=lambda path: asked.append(path) or True)
    assert asked == [old]
    assert json.loads(old.read_text())["key"] == GOOD_KEY
    assert "old-key" in installed.backup.read_text() and mode_of(installed.backup) == 0o600
    assert installed.backup.name.startswith("kaggle.json.backup-")

    again = creds.install_pasted_token(new, confirm_replace=never)  # the same token: nothing to ask
    assert again.unchanged and again.backup is None


def test_install_from_a_missing_file(home, tmp_path):
    with pytest.raises(CoachError, match="There is no file"):
        creds.install_token_file(tmp_path / "nope.json", confirm_replace=never)


def test_fix_permissions_makes_file_and_folder_private(home):
    path = write_kaggle_json(home, mode=0o644)
    path.parent.chmod(0o755)
    changed = creds.fix_permissions(creds.find_credentials())
    assert changed == [path, path.parent]
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    assert not creds.find_credentials().too_open


def test_fix_permissions_leaves_a_foreign_folder_alone(home, monkeypatch, tmp_path):
    token_file = tmp_path / "Downloads" / "access_token"
    token_file.parent.mkdir()
    token_file.parent.chmod(0o755)
    token_file.write_text(GOOD_TOKEN)
    token_file.chmod(0o644)
    monkeypatch.setenv("KAGGLE_API_TOKEN", str(token_file))
    assert creds.fix_permissions(creds.find_credentials()) == [token_file]
    assert mode_of(token_file.parent) == 0o755


def test_fix_permissions_that_fails_says_how(home, monkeypatch):
    write_kaggle_json(home, mode=0o644)

    def refused(path, mode):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(creds.os, "chmod", refused)
    with pytest.raises(CoachError, match="Could not make .* private") as error:
        creds.fix_permissions(creds.find_credentials())
    assert "chmod 600" in error.value.hint


# --- validating against the stand-in -------------------------------------------------------------


def test_a_good_key_and_a_good_token_are_accepted(kaggle, home):
    write_kaggle_json(home)
    assert api.validate().username == GOOD_USER
    write_access_token(home)
    validated = api.validate()
    assert validated.username == GOOD_USER and validated.found.kind == "access_token file"
    assert kaggle.api_calls() == ["GetDatasetMetadata", "IntrospectToken"]


def test_variables_are_validated_too(kaggle, home, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", GOOD_USER)
    monkeypatch.setenv("KAGGLE_KEY", GOOD_KEY)
    assert api.validate().found.kind == "KAGGLE_USERNAME/KAGGLE_KEY variables"
    monkeypatch.setenv("KAGGLE_API_TOKEN", GOOD_TOKEN)
    assert api.validate().found.kind == "KAGGLE_API_TOKEN variable"


def test_wrong_key_and_wrong_token(kaggle, home):
    write_kaggle_json(home, key="f" * 32)
    with pytest.raises(KaggleWrongCredentials, match="did not accept the credentials from the key file ~/.kaggle/kaggle.json") as error:
        api.validate()
    assert "dfcoach kaggle setup" in error.value.hint and "f" * 32 not in error.value.message
    write_access_token(home, "KGAT_not_a_real_token_xyz")
    with pytest.raises(KaggleWrongCredentials, match="HTTP 401"):
        api.validate()


def test_an_expired_token(kaggle, home):
    write_access_token(home, EXPIRED_TOKEN)
    with pytest.raises(KaggleTokenExpired, match="no longer active") as error:
        api.validate()
    assert "~/.kaggle/access_token" in error.value.message and "--replace" in error.value.hint


def test_kaggle_refusing(kaggle, home):
    write_kaggle_json(home, username=REFUSED_USER)
    with pytest.raises(KaggleRefused, match="HTTP 403.*verify your phone number") as error:
        api.validate()
    assert "accept" in error.value.hint
    kaggle.status_override = 503
    write_kaggle_json(home)
    with pytest.raises(KaggleRefused, match="servers had a problem .*HTTP 503"):
        api.validate()


def test_offline_is_told_as_offline(home, monkeypatch):
    write_kaggle_json(home)
    point_kaggle_at(monkeypatch, closed_port_url())
    with pytest.raises(KaggleOffline, match="seems to be offline") as error:
        api.validate(timeout=2)
    assert "--archive" in error.value.hint


def test_a_server_that_never_answers_times_out(home, monkeypatch):
    write_kaggle_json(home)
    with socket.socket() as silent:  # accepts connections (the backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        point_kaggle_at(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(KaggleOffline, match="did not answer within 0.3 seconds"):
            api.validate(timeout=0.3)


def test_no_credentials_at_all(home):
    with pytest.raises(NoKaggleCredentials) as error:
        api.validate()
    assert "dfcoach kaggle setup" in error.value.hint and "--archive" in error.value.hint


def test_validation_reads_nothing_but_what_was_found(kaggle, home):
    """The secret goes to Kaggle and nowhere else: os.environ is left as it was."""
    write_kaggle_json(home)
    before = dict(os.environ)
    api.validate()
    assert dict(os.environ) == before


def test_a_file_that_is_not_a_token_at_all(home, tmp_path):
    (home / ".kaggle").mkdir()
    (home / ".kaggle" / "access_token").write_bytes(b"\xff\xfe\x00binary")
    assert "cannot be read" in creds.find_credentials().problem
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8" + bytes(100_000))
    with pytest.raises(CoachError, match="Could not read"):
        creds.install_token_file(photo, confirm_replace=never)


def test_a_kaggle_auth_login_sign_in_is_validated_with_its_access_token(kaggle, home):
    from datetime import datetime, timedelta, timezone

    (home / ".kaggle").mkdir()
    sign_in = {
        "refresh_token": "refresh-" + "r" * 20,
        "access_token": GOOD_TOKEN,
        "access_token_expiration": (datetime.now(timezone.utc) + timedelta(hours=6)).isoformat(),
        "username": GOOD_USER,
    }
    (home / ".kaggle" / "credentials.json").write_text(json.dumps(sign_in))
    validated = api.validate()
    assert validated.found.kind == "kaggle auth login" and validated.username == GOOD_USER
    assert kaggle.api_calls() == ["IntrospectToken"]
