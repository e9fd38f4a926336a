import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.experiments.demo import run_demo


def test_demo_accuracy_targets():
    report, _ = run_demo(timesteps=(32, 64), device="runtime", progress=False)
    ann = report["ann_accuracy"]
    rows = {r["timesteps"]: r for r in report["rows"]}
    assert ann > 0.95
    assert ann - rows[32]["snn_accuracy"] <= 0.010 + 1e-12
    assert ann - rows[64]["snn_accuracy"] <= 0.005 + 1e-12


def test_shipped_model_is_what_the_trainer_makes(digits, demo_net):
    """The shipped weights come from train_digits_mlp (same test accuracy on this scikit-learn)."""
    from neuroconv.experiments.demo import train_digits_mlp

    x_train, x_test, y_train, y_test = digits
    fresh = train_digits_mlp(x_train, y_train)
    acc_fresh = np.mean(fresh.predict(x_test) == y_test)
    acc_shipped = np.mean(demo_net.predict(x_test) == y_test)
    assert abs(acc_fresh - acc_shipped) < 0.02


def _cli():
    """The installed ``neuroconv`` script of this interpreter's environment."""
    script = pathlib.Path(sys.executable).parent / "neuroconv"
    if script.exists():
        return [str(script)]
    found = shutil.which("neuroconv")
    assert found, "the neuroconv console script is not installed"
    return [found]


def test_cli_demo_writes_json_and_png(tmp_path):
    out = tmp_path / "demo.json"
    proc = subprocess.run(_cli() + ["demo", "-T", "4", "8", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "| T | SNN accuracy" in proc.stdout.replace("   T", " T")
    report = json.loads(out.read_text())
    assert [r["timesteps"] for r in report["rows"]] == [4, 8]
    png = tmp_path / "demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,code,needle", [
    ([], 2, "usage: neuroconv"),
    (["demo", "-T", "0"], 2, "timesteps must be >= 1"),
    (["demo", "--device", "gpu"], 2, "invalid choice: 'gpu'"),
    (["figures"], 2, "the following arguments are required: --out"),
    (["figures", "--out", "x", "--only", "nope"], 2, "invalid choice: 'nope'"),
])
def test_cli_user_errors_without_traceback(args, code, needle, tmp_path):
    proc = subprocess.run(_cli() + args + ["--no-progress"] * (len(args) > 0 and args[0] == "demo"),
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == code
    assert needle in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_package_layout_installed():
    import neuroconv.analysis
    import neuroconv.equations

    assert neuroconv.equations.IF is nc.equations.IF
    assert callable(neuroconv.analysis.plot_raster)


def test_cli_figures_writes_every_figure(tmp_path):
    from neuroconv.experiments.figures import FIGURES

    out = tmp_path / "figs"
    bench = pathlib.Path(__file__).resolve().parents[1] / "docs" / "bench"  # an installed package has no docs/
    proc = subprocess.run(_cli() + ["figures", "--out", str(out), "--no-progress", "--bench-dir", str(bench)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{name}.png" for name in FIGURES)
    for name in written:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        assert f"wrote {out / name}" in proc.stdout


def test_imports_from_the_source_checkout():
    """``python -c``/``-m`` in the repository root imports ``neuroconv/`` from the checkout, where the
    top-level ``equations/`` and ``analysis/`` folders must still be ``neuroconv.equations``/``.analysis``."""
    root = pathlib.Path(__file__).resolve().parents[1]
    code = ("import sys  # as a regular (not editable) install: no editable-install finder\n"
            "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]\n"
            "import pathlib, neuroconv, neuroconv.analysis as a\n"
            "import neuroconv.equations as e\n"
            "assert pathlib.Path(neuroconv.__file__).resolve().parent == pathlib.Path.cwd() / 'neuroconv'\n"
            "assert pathlib.Path(e.__file__).resolve().parent == pathlib.Path.cwd() / 'equations'\n"
            "assert pathlib.Path(a.__file__).resolve().parent == pathlib.Path.cwd() / 'analysis'\n"
            "assert 'equations' not in sys.modules and 'analysis' not in sys.modules\n"
            "print(sorted(e.__all__))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TPP" in proc.stdout
