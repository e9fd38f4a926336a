"""Ctrl-C and concurrent builds (tests/interrupts.py): an interrupted build stops within seconds and leaves
no process, temporary folder or half cache entry; two processes building the same network at once both
get correct results from one valid cache."""

import pytest

import interrupts

pytestmark = pytest.mark.standalone


@pytest.mark.parametrize("how", ["group", "process"])
def test_ctrl_c_during_compile_stops_and_cleans_up(how, tmp_path):
    """``group``: a terminal's Ctrl-C reaches every process; ``process``: a notebook interrupt reaches
    Python only (Brian2's os.system compile used to ignore it until make finished)."""
    result = interrupts.interrupt(str(tmp_path), delay=3.0, how=how)
    assert not result["finished"], "the interrupt was ignored: the run completed"
    assert result["exit_s"] is not None and result["exit_s"] < 10, result
    assert result["processes"] == [] and result["temp_dirs"] == [] and result["half_cache_entries"] == [], result


def test_concurrent_builds_of_one_network(tmp_path):
    results = interrupts.concurrent(str(tmp_path), n=2)
    expected = interrupts.reference()
    assert all(interrupts.same(r, expected) for r in results)
    assert interrupts.leftovers(str(tmp_path)) == {"processes": [], "temp_dirs": [], "half_cache_entries": []}
    # the cache holds one valid entry: a third run takes the binary instead of compiling
    again = interrupts.concurrent(str(tmp_path), n=1)[0]
    assert interrupts.same(again, expected) and again["build_time"] < min(r["build_time"] for r in results) / 2


def test_cli_sigterm_cleans_up(tmp_path):
    """A job scheduler's SIGTERM stops ``neuroconv run`` like Ctrl-C: exit status 143, nothing left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = interrupts.environment(str(tmp_path))
    cli = [sys.executable, "-m", "neuroconv.cli"]
    subprocess.run(cli + ["convert", "builtin:digits_mlp", "--out", str(tmp_path / "mlp.npz"), "-T", "8"],
                   env=env, check=True, capture_output=True)
    proc = subprocess.Popen(cli + ["run", str(tmp_path / "mlp.npz"), "--dataset", "digits", "--device",
                                   "cpp_standalone", "--no-progress"], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)  # loading, converting and into the compile
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert "terminated" in err
    assert interrupts.leftovers(str(tmp_path), proc.pid) == {"processes": [], "temp_dirs": [],
                                                             "half_cache_entries": []}
