"""A cache of compiled standalone binaries, keyed by the generated source code.

Brian2 standalone projects keep the data (weights, thresholds, connectivity, inputs) in
files that the binary reads at start-up; the compiled code depends only on the network's
structure, sizes, T and the device. So each call generates the project into its own
private directory (cheap), hashes the generated sources, and either copies a cached binary
built from identical sources or compiles and publishes one. Networks that differ only in
their weights share one compile.

Safety: a binary is published by writing a complete entry (binary + manifest with its
SHA-256) into a temporary folder in the cache root and renaming it into place, an atomic
step; a killed build leaves at most a stray temporary folder, never a half entry. An entry
whose binary no longer matches its manifest is discarded and rebuilt. Runs never execute
inside the cache, so concurrent processes do not share result files.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import time
import uuid

__all__ = ["cache_root", "source_digest", "fetch", "publish"]

_SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".c", ".cu", ".cuh")
_BINARY = "main"
_MANIFEST = "manifest.json"
_STALE_SECONDS = 24 * 3600


def cache_root() -> str:
    """``$NEUROCONV_CACHE`` or ``~/.cache/neuroconv``, with a ``standalone`` sub-folder."""
    base = os.environ.get("NEUROCONV_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "neuroconv")
    return os.path.join(base, "standalone")


def _sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_digest(directory, device_name: str) -> str:
    """SHA-256 over the generated sources and makefile (not the data files) plus device and platform."""
    h = hashlib.sha256(f"{device_name}|{platform.machine()}|{platform.system()}".encode())
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in ("static_arrays", "results", "curand_lib"))
        for name in sorted(files):
            if name.endswith(_SOURCE_SUFFIXES) or name in ("makefile", "win_makefile", "sourcefiles.txt"):
                path = os.path.join(root, name)
                h.update(os.path.relpath(path, directory).encode() + b"\0")
                with open(path, "rb") as fh:
                    h.update(_canonical(fh.read()))
                h.update(b"\0")
    return h.hexdigest()


#: A clock's initialisation in ``main.cpp`` (``_array_<clock>_t[0] = 0.0;``); Brian2 emits one
#: pair per clock in the iteration order of a set, which varies between processes.
_CLOCK_INIT = re.compile(rb"^\s*_array_\w+_(?:timestep|t)\[0\] = [^;]+;\s*$")


def _canonical(source: bytes) -> bytes:
    """``source`` with every run of consecutive clock initialisations sorted, for hashing only.

    Assignments of constants to distinct variables commute, so two sources that differ only
    in that order are the same program and may share a binary.
    """
    lines = source.split(b"\n")
    out, run = [], []
    for line in lines + [b""]:
        if _CLOCK_INIT.match(line):
            run.append(line)
            continue
        names = [r.split(b"=")[0].strip() for r in run]
        out.extend(sorted(run) if len(set(names)) == len(names) else run)
        run = []
        out.append(line)
    return b"\n".join(out[:-1])


def _entry(key: str) -> str:
    return os.path.join(cache_root(), key)


def fetch(key: str, directory) -> bool:
    """Copy the cached binary for ``key`` into ``directory``; False if absent or corrupted (then removed)."""
    entry = _entry(key)
    manifest_path = os.path.join(entry, _MANIFEST)
    binary = os.path.join(entry, _BINARY)
    try:
        with open(manifest_path) as fh:
            manifest = json.load(fh)
        if manifest.get("key") != key or _sha256_file(binary) != manifest.get("sha256"):
            raise ValueError("manifest mismatch")
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        _discard(entry)
        return False
    target = os.path.join(os.fspath(directory), _BINARY)
    tmp = f"{target}.{uuid.uuid4().hex}"
    shutil.copy2(binary, tmp)
    os.replace(tmp, target)
    return True


def publish(key: str, directory) -> None:
    """Store ``directory``'s compiled binary under ``key`` (atomic; first writer wins)."""
    root = cache_root()
    os.makedirs(root, exist_ok=True)
    _remove_stale_temporaries(root)
    staging = os.path.join(root, f".tmp-{key[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.makedirs(staging)
    try:
        shutil.copy2(os.path.join(os.fspath(directory), _BINARY), os.path.join(staging, _BINARY))
        manifest = {"key": key, "sha256": _sha256_file(os.path.join(staging, _BINARY)), "created": time.time()}
        with open(os.path.join(staging, _MANIFEST), "w") as fh:
            json.dump(manifest, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.rename(staging, _entry(key))
        except OSError:  # another process published the same key first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard(entry: str) -> None:
    trash = f"{entry}.trash-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(entry, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale_temporaries(root: str) -> None:
    now = time.time()
    for name in os.listdir(root):
        if name.startswith(".tmp-") or ".trash-" in name:
            path = os.path.join(root, name)
            try:
                if now - os.path.getmtime(path) > _STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass
