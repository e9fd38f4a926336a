"""The standalone build cache: keyed by generated sources, atomic, self-checking, safe to kill."""

import multiprocessing
import os

import numpy as np
import pytest

import neuroconv as nc
from neuroconv.simulation.brian2 import build_cache

import interrupts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROCONV_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "standalone"


def fake_project(path, source="int main(){}", binary=b"\x7fELF binary"):
    os.makedirs(path / "static_arrays", exist_ok=True)
    (path / "main.cpp").write_text(source)
    (path / "makefile").write_text("all: main")
    (path / "main").write_bytes(binary)
    return path


def test_digest_follows_sources_not_data(tmp_path):
    a = fake_project(tmp_path / "a")
    key = build_cache.source_digest(a, "cpp_standalone")
    (a / "static_arrays" / "_static_array_w").write_bytes(b"other weights")
    assert build_cache.source_digest(a, "cpp_standalone") == key
    assert build_cache.source_digest(a, "cuda_standalone") != key
    (a / "main.cpp").write_text("int main(){return 1;}")
    assert build_cache.source_digest(a, "cpp_standalone") != key


def test_publish_then_fetch(cache, tmp_path):
    src = fake_project(tmp_path / "src")
    key = build_cache.source_digest(src, "cpp_standalone")
    dst = tmp_path / "dst"
    dst.mkdir()
    assert not build_cache.fetch(key, dst)
    build_cache.publish(key, src)
    assert build_cache.fetch(key, dst)
    assert (dst / "main").read_bytes() == (src / "main").read_bytes()


def test_corrupted_entry_is_detected_and_replaced(cache, tmp_path):
    src = fake_project(tmp_path / "src")
    key = build_cache.source_digest(src, "cpp_standalone")
    build_cache.publish(key, src)
    (cache / key / "main").write_bytes(b"truncated")
    dst = tmp_path / "dst"
    dst.mkdir()
    assert not build_cache.fetch(key, dst)
    assert not (cache / key).exists() and not (dst / "main").exists()
    build_cache.publish(key, src)
    assert build_cache.fetch(key, dst)


def test_half_written_staging_folder_is_ignored(cache, tmp_path):
    src = fake_project(tmp_path / "src")
    key = build_cache.source_digest(src, "cpp_standalone")
    stray = cache / f".tmp-{key[:16]}-999-deadbeef"
    stray.mkdir(parents=True)
    (stray / "main").write_bytes(b"half")
    assert not build_cache.fetch(key, tmp_path)
    build_cache.publish(key, src)
    dst = tmp_path / "dst"
    dst.mkdir()
    assert build_cache.fetch(key, dst) and (dst / "main").read_bytes() == (src / "main").read_bytes()


def _publish_many(args):
    key, src, cache_dir = args
    os.environ["NEUROCONV_CACHE"] = cache_dir
    for _ in range(20):
        build_cache.publish(key, src)
    return True


def test_concurrent_publishers(cache, tmp_path):
    src = fake_project(tmp_path / "src")
    key = build_cache.source_digest(src, "cpp_standalone")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert all(pool.map(_publish_many, [(key, str(src), str(cache.parent))] * 4))
    dst = tmp_path / "dst"
    dst.mkdir()
    assert build_cache.fetch(key, dst)
    assert [p for p in os.listdir(cache) if p.startswith(".tmp-")] == []


@pytest.mark.standalone
def test_killed_build_then_cached_runs(cache, demo_net, digits, tmp_path):
    x_train, x_test, _, _ = digits
    # a build killed while compiling leaves nothing the next run trips over
    interrupts.kill(str(tmp_path), 4.0, images=8)  # its cache: tmp_path/cache, the one ``cache`` points at
    assert not cache.exists() or all(p.startswith(".tmp-") for p in os.listdir(cache))
    snn = nc.convert(demo_net, timesteps=8, calibration_data=x_train)
    ref = snn.run(x_test[:8], device="reference", progress=False)
    first = snn.run(x_test[:8], device="cpp_standalone", progress=False)
    # same structure, other thresholds: the binary is reused, the data files differ
    other = nc.convert(demo_net, timesteps=8, calibration_data=x_train, method=99.0)
    second = other.run(x_test[:8], device="cpp_standalone", progress=False)
    assert second.build_time < first.build_time / 3
    for res, expect in ((first, ref), (second, other.run(x_test[:8], device="reference", progress=False))):
        np.testing.assert_array_equal(res.predictions, expect.predictions)
        for a, b in zip(res.spike_counts, expect.spike_counts):
            np.testing.assert_array_equal(a, b)
