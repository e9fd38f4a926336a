"""The command line: every command has help with examples, user errors exit 2 without a traceback, bench runs."""

import json

import pytest

from neuroconv import cli

COMMANDS = ["demo", "figures", "convert", "run", "sweep", "bench"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"neuroconv {command}" in out


def test_top_level_help_lists_every_command(capsys):
    assert cli.main([]) == 2
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


@pytest.mark.parametrize("argv, message", [
    (["run", "missing.npz"], "does not exist"),
    (["run", "x.npz", "--images", "0"], "--images must be >= 1"),
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--calibration", "mean"], "unknown calibration 'mean'"),
    (["convert", "builtin:digits_mlp", "--out", "o.npz", "--base", "1.2"], "--base applies to --neuron one_spike"),
    (["convert", "model.pt", "--out", "o.npz"], "does not exist"),
    (["sweep", "grid.toml", "--workers", "0"], "--workers must be >= 1"),
    (["bench", "--images", "0"], "--images must be >= 1"),
])
def test_user_errors_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuroconv: error:") and message in err and "Traceback" not in err


def test_unknown_option_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "net.npz", "--device", "gpu"])
    assert info.value.code == 2
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


def test_bench_prints_json_with_agreement(capsys, tmp_path):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--devices", "reference", "runtime", "--images", "64", "-T", "8", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["devices"]) == {"reference", "runtime"}
    assert report["devices"]["runtime"]["agree"] is True and report["devices"]["runtime"]["images"] == 64
    assert json.loads(capsys.readouterr().out) == report
