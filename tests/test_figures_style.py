"""The figure style (palette, panel letters, saving in several formats) and the figure set's coverage."""

import os
import pathlib
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from neuroconv.experiments.figures import style  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_palette_is_dark_enough_on_white_and_has_no_yellow():
    assert len(set(style.PALETTE)) == len(style.PALETTE) >= 6
    for colour in style.PALETTE + tuple(f["color"] for f in style.FAMILY.values()):
        assert style.contrast_ratio(colour) >= 2.0, colour
    # the yellow of Okabe-Ito and matplotlib's viridis end are what the palette must avoid
    assert style.contrast_ratio("#F0E442") < 2.0 and style.contrast_ratio(plt.get_cmap("viridis")(1.0)) < 2.0
    assert "#F0E442" not in style.PALETTE
    assert style.contrast_ratio("black") == pytest.approx(21.0)
    markers = [f["marker"] for f in style.FAMILY.values()]
    assert len(set(markers)) == len(markers)  # families apart in grey print too


def test_context_sets_and_restores_rcparams():
    before = matplotlib.rcParams["font.size"]
    with style.context():
        assert matplotlib.rcParams["font.size"] == style.FONT_SIZE
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == style.PALETTE[0]
    assert matplotlib.rcParams["font.size"] == before


def test_panel_letters_and_log2_ticks():
    with style.context():
        fig, axes = style.figure(2, 2)
    assert fig.get_size_inches()[0] == pytest.approx(style.TWO_COLUMN)
    texts = style.panel_letters(axes)
    assert [t.get_text() for t in texts] == ["a", "b", "c", "d"]
    assert all(t.get_fontweight() == "bold" for t in texts)
    assert [ax.texts[0].get_text() for ax in axes.flat] == ["a", "b", "c", "d"]  # row by row
    x, y = texts[0].get_position()
    assert x <= 0 and y >= 1  # top-left corner
    ax = axes[0, 0]
    ax.plot([2, 64], [0, 1])
    style.log2_axis(ax, [2, 4, 8, 16, 32, 64])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8", "16", "32", "64"]
    plt.close(fig)


def test_save_writes_every_format(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = style.save(fig, tmp_path / "sub" / "fig.png", formats=("png", "pdf", "svg"))
    assert [os.path.basename(p) for p in paths] == ["fig.png", "fig.pdf", "fig.svg"]
    assert (tmp_path / "sub" / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "sub" / "fig.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "sub" / "fig.svg").read_bytes()[:2000]
    assert not plt.fignum_exists(fig.number)  # closed
    from matplotlib.image import imread

    width = imread(str(tmp_path / "sub" / "fig.png")).shape[1]
    assert width >= 0.9 * fig.get_size_inches()[0] * style.DPI  # ~300 dpi (bbox tight trims a little)
    from neuroconv.errors import NeuroconvError

    with pytest.raises(NeuroconvError, match="formats"):
        style.save(plt.figure(), tmp_path / "x", formats=("jpg",))
    plt.close("all")


def _readme_figures():
    """Every figure the README embeds or names (``![..](docs/..png)``, links, paths in backticks)."""
    text = (ROOT / "README.md").read_text()
    return sorted(set(re.findall(r"docs/(?:figures/)?[\w.-]+\.png", text)))


def test_registry_covers_every_readme_figure():
    from neuroconv.experiments.figures import BENCHMARK_FIGURES, FIGURES

    embedded = _readme_figures()
    assert "docs/figures/statistics.png" in embedded and "docs/figures/dynamics.png" in embedded
    assert len(embedded) >= 12
    for path in embedded:
        assert pathlib.Path(path).stem in FIGURES, path
        assert (ROOT / path).is_file(), path
        assert (ROOT / path).with_suffix(".pdf").is_file(), f"{path}: no PDF beside it"
    for name, (json_name, command) in BENCHMARK_FIGURES.items():
        assert (ROOT / "docs" / "bench" / json_name).is_file()
        assert (ROOT / command[0]).is_file()


def test_benchmark_figures_replot_the_shipped_json(tmp_path):
    """Every re-plotted figure draws its docs/bench JSON, in PNG and PDF (seconds in all)."""
    from neuroconv.experiments.figures import BENCHMARK_FIGURES, make_figures

    seen = []
    # the JSON of this checkout, named: CI installs the package, whose files then live outside it
    paths = make_figures(tmp_path, only=list(BENCHMARK_FIGURES), formats=("png", "pdf"), progress=False,
                         report=lambda name, written, s: seen.append(name), bench=ROOT / "docs" / "bench")
    assert seen == list(BENCHMARK_FIGURES)
    assert sorted(os.path.basename(p) for p in paths) == sorted(f"{n}.{f}" for n in BENCHMARK_FIGURES
                                                                for f in ("png", "pdf"))
    assert all(os.path.getsize(p) > 10_000 for p in paths)


def test_make_figures_cheap_one_in_two_formats(tmp_path):
    from neuroconv.experiments.figures import make_figures

    paths = make_figures(tmp_path, only=["conversion_error"], formats=("png", "pdf"), progress=False)
    assert [os.path.basename(p) for p in paths] == ["conversion_error.png", "conversion_error.pdf"]
    assert (tmp_path / "conversion_error.pdf").read_bytes()[:5] == b"%PDF-"


def test_make_figures_refuses_unknown_and_missing_json(tmp_path):
    from neuroconv.errors import NeuroconvError
    from neuroconv.experiments.figures import make_figures
    from neuroconv.experiments.figures.registry import resolve_names

    assert resolve_names(["one_spike", "misalignment"]) == ["one_spike_digits", "misalignment_digits"]
    with pytest.raises(NeuroconvError, match="unknown figure"):
        make_figures(tmp_path, only=["nope"])
    with pytest.raises(NeuroconvError, match="docs/bench/dynamics.json"):
        make_figures(tmp_path / "out", only=["statistics", "dynamics"], bench=tmp_path)
    assert not (tmp_path / "out" / "statistics.png").exists()  # refused before running anything


def test_cli_format_writes_png_and_pdf(tmp_path):
    out = tmp_path / "figs"
    proc = subprocess.run([sys.executable, "-m", "neuroconv.cli", "figures", "--out", str(out), "--format", "png", "pdf",
                           "svg", "--only", "reliability", "lowlatency", "--no-progress",
                           "--bench-dir", str(ROOT / "docs" / "bench")], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{f}" for n in ("reliability", "lowlatency")
                                                           for f in ("png", "pdf", "svg"))
    for name in ("reliability.png", "reliability.pdf", "lowlatency.svg"):
        assert f"wrote {out / name}" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "neuroconv.cli", "figures", "--out", str(out), "--format", "jpg"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice: 'jpg'" in bad.stderr


def test_sweep_figure_runs_the_shipped_example_config():
    """The README's sweep figure is the grid of examples/accuracy_vs_T.toml (kept in the package as a string)."""
    import tomllib

    from neuroconv.experiments.figures.runners import ACCURACY_VS_T_CONFIG

    shipped = tomllib.loads((ROOT / "examples" / "accuracy_vs_T.toml").read_text())
    assert tomllib.loads(ACCURACY_VS_T_CONFIG) == shipped
