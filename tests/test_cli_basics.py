"""The conventions every command keeps: version, help, exit codes, stderr, no tracebacks."""

from __future__ import annotations

import subprocess
import sys

from deepfake_coach import __version__


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"dfcoach {__version__}"


def test_no_arguments_shows_help(cli):
    result = cli()
    assert "Usage" in result.output
    assert "data" in result.output


def test_help_does_not_import_torch_or_cv2():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from deepfake_coach.cli import app\n"
        "for args in (['--help'], ['data', '--help'], ['data', 'organize', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "heavy = [m for m in ('torch', 'cv2', 'kaggle', 'PIL', 'numpy', 'yaml') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "deepfake_coach", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"dfcoach {__version__}"


def test_console_script_is_installed():
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("dfcoach") == "deepfake_coach.cli:main"


def test_expected_failure_goes_to_stderr_without_traceback(cli, tmp_path):
    result = cli("data", "organize", tmp_path / "nowhere", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert "How to fix" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_debug_variable_shows_the_traceback(cli, tmp_path):
    result = cli("data", "organize", tmp_path / "nowhere", "--data-dir", tmp_path / "d", env={"DFCOACH_DEBUG": "1"})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr


def test_unexpected_crash_is_short_unless_debugging(cli, tmp_path, monkeypatch):
    import deepfake_coach.data.organize as organize_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(organize_module, "find_source", broken)
    (tmp_path / "src").mkdir()
    result = cli("data", "organize", tmp_path / "src", "--data-dir", tmp_path / "d")
    assert result.exit_code == 1
    assert "something unexpected went wrong: RuntimeError: boom" in result.stderr
    assert "DFCOACH_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_value_is_a_usage_error(cli, tmp_path):
    result = cli("data", "organize", tmp_path, "--split", "70/30")
    assert result.exit_code == 2
    assert "--split" in result.stderr


def test_no_color_leaves_no_escape_codes(cli, tmp_path):
    result = cli("data", "check", "--data-dir", tmp_path / "missing", env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.output


def test_color_is_used_only_on_terminals_and_without_no_color(monkeypatch):
    from deepfake_coach.io.output import Output

    monkeypatch.setenv("NO_COLOR", "1")
    assert Output.for_terminal().err.no_color
    monkeypatch.delenv("NO_COLOR")
    assert Output.for_terminal(no_color=True).out.no_color
    assert not Output.for_terminal().out.no_color


def test_data_dir_comes_from_dfcoach_yaml_unless_a_flag_says_otherwise(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dfcoach.yaml").write_text("data:\n  dir: my_faces\n")
    result = cli("data", "check")
    assert result.exit_code == 1 and "no dataset folder at my_faces" in result.stdout
    result = cli("data", "check", "--data-dir", "other")
    assert "no dataset folder at other" in result.stdout


def test_a_broken_dfcoach_yaml_is_reported_by_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dfcoach.yaml").write_text("data:\n  dri: my_faces\n")
    result = cli("data", "check")
    assert result.exit_code == 1
    assert "dfcoach.yaml, line 2: `data.dri` is not a setting dfcoach knows" in result.stderr
    assert "Traceback" not in result.output


def test_a_file_is_never_replaced_even_with_force(cli, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = cli("data", "download", "tiny_demo", "--data-dir", target, "--images-per-class", 10, "--force")
    assert result.exit_code == 1 and "is a file, not a folder" in result.stderr
    assert target.read_text() == "mine"


def test_on_off_flags_show_no_value_in_help(cli):
    """`--quick <bool>` read as if `--quick true` were wanted; a flag takes no value, and help says none."""
    result = cli("train", "--help")
    assert result.exit_code == 0
    assert "--quick" in result.stdout and "--pretrained" in result.stdout
    assert "<bool>" not in result.stdout and "<int>" in result.stdout


def test_quiet_keeps_results_and_errors_and_silences_the_chatter(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("--quiet", "data", "download", "tiny_demo", "--images-per-class", "10")
    assert result.exit_code == 0
    assert "Dataset statistics" in result.stdout  # the result
    assert "Wrote 20 demo images" not in result.stderr and "Next" not in result.stderr  # the chatter
    again = cli("--quiet", "data", "download", "tiny_demo", "--images-per-class", "10", "--seed", "1")  # no --force, no terminal
    assert again.exit_code != 0 and "already holds a dataset" in again.stderr  # errors are never silenced
