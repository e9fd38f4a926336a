"""brian2cuda support: the settings that make ``cuda_standalone`` build here, applied by the package.

brian2cuda (extra ``cuda``; Python >= 3.12, it pins brian2 2.10.1) generates a CUDA project.
Three things stand between that project and a working binary on current toolkits, and this
module handles each of them so that users do not edit generated files by hand:

* GPU detection: without a GPU (e.g. a build machine with nvcc only) brian2cuda's
  detection fails; we turn it off and name a compute capability (``compute_capability``,
  default 9.0 = Hopper) so that code generation and compilation still work.
* C++ standard: the generated makefile hard-codes ``-std=c++11``; CUDA 12+/13 headers need
  C++17. We rewrite that flag in the generated makefile before compiling.
* cuRAND: brian2cuda links ``-lcurand``. Where the toolkit lacks it, the ``nvidia-curand``
  wheel provides headers and ``libcurand.so.N``; we add its include/library folders and an
  unversioned ``libcurand.so`` link in the build directory.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

from neuroconv.errors import NeuroconvError

__all__ = ["gpu_available", "require_brian2cuda", "configure", "patch_makefile", "find_curand"]

DEFAULT_COMPUTE_CAPABILITY = 9.0


def gpu_available() -> bool:
    """True if ``nvidia-smi`` lists at least one GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def require_brian2cuda():
    """Import brian2cuda (registering the ``cuda_standalone`` device) or explain how to get it."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError as exc:
        raise NeuroconvError(
            "device='cuda_standalone' needs brian2cuda: pip install 'brian2-neuroconv[cuda]' "
            f"(Python >= 3.12; it pins brian2==2.10.1). Import failed with: {exc}"
        ) from None
    if shutil.which("nvcc") is None and not os.environ.get("CUDA_PATH"):
        raise NeuroconvError("device='cuda_standalone' needs the CUDA compiler nvcc on PATH (or CUDA_PATH set).")
    return brian2cuda


def find_curand():
    """``(include_dir, library_file)`` of cuRAND from the ``nvidia-curand`` wheel, or None."""
    try:
        import nvidia
    except ImportError:
        return None
    for root in getattr(nvidia, "__path__", []):
        for sub in ("cu13", "cu12", "curand"):
            inc = os.path.join(root, sub, "include")
            libs = sorted(glob.glob(os.path.join(root, sub, "lib", "libcurand.so*")))
            if os.path.exists(os.path.join(inc, "curand.h")) and libs:
                return inc, libs[0]
    return None


def _toolkit_has_curand() -> bool:
    nvcc = shutil.which("nvcc")
    roots = [os.environ.get("CUDA_PATH", ""), os.path.dirname(os.path.dirname(os.path.realpath(nvcc))) if nvcc else ""]
    return any(glob.glob(os.path.join(r, "lib*", "libcurand.so")) + glob.glob(os.path.join(r, "targets", "*", "lib",
                                                                                       "libcurand.so"))
               for r in roots if r)


def configure(directory, compute_capability=None, has_gpu=None):
    """Set brian2cuda preferences for a build in ``directory``; returns whether a GPU is present."""
    from brian2 import prefs

    require_brian2cuda()
    has_gpu = gpu_available() if has_gpu is None else has_gpu
    backend = prefs.devices.cuda_standalone.cuda_backend
    if not has_gpu:
        backend.detect_gpus = False
        backend.gpu_id = 0
        backend.compute_capability = float(compute_capability or DEFAULT_COMPUTE_CAPABILITY)
    elif compute_capability is not None:
        backend.compute_capability = float(compute_capability)
    curand = None if _toolkit_has_curand() else find_curand()
    if curand is not None:
        include_dir, library = curand
        link_dir = os.path.join(os.fspath(directory), "curand_lib")
        os.makedirs(link_dir, exist_ok=True)
        link = os.path.join(link_dir, "libcurand.so")
        if not os.path.exists(link):
            os.symlink(library, link)
        for pref, value in (("include_dirs", include_dir), ("library_dirs", link_dir),
                            ("runtime_library_dirs", os.path.dirname(library))):
            current = list(prefs[f"codegen.cpp.{pref}"])
            if value not in current:
                prefs[f"codegen.cpp.{pref}"] = current + [value]
    return has_gpu


def patch_makefile(directory, standard: str = "c++17") -> None:
    """Replace the generated makefile's C++ standard flag (brian2cuda writes ``-std=c++11``)."""
    path = os.path.join(os.fspath(directory), "makefile")
    with open(path) as fh:
        text = fh.read()
    patched = re.sub(r"-std=c\+\+\d+", f"-std={standard}", text)
    if patched != text:
        with open(path, "w") as fh:
            fh.write(patched)
