"""Counter-based random numbers: the same uniform for the same (seed, layer, neuron, image, step) everywhere.

Stochastic neurons (TPP) draw ``neuroconv_uniform(rng_key, image, step)`` instead of
Brian2's ``rand()``. The value is a pure function of its three integer arguments (a hash,
no state), implemented identically for numpy, Cython, C++ and CUDA, and used by the numpy
reference simulator too. So a seed gives the same spikes on every device, for every batch
size, number of rounds and process, and the reference and Brian2 agree spike for spike.

``rng_key`` is per neuron, computed here from (seed, layer index, neuron index within one
image); ``image`` is the image's position in the array given to ``run``; ``step`` the
timestep within the inference (``-1`` for a once-per-inference draw).

The mixing function is the 32-bit integer hash "lowbias32" (two multiply-xorshift rounds,
constants found by C. Wellons' hash-prospector search); three chained applications take
the step, then the image, then the key. The uniform is the top 24 bits, centred in their
bin: ``((h >> 8) + 0.5) / 2**24``, in ``(0, 1)`` and never exactly 0 or 1.
"""

from __future__ import annotations

import numpy as np

__all__ = ["uniform", "neuron_keys", "random_seed", "brian2_function", "FUNCTION_NAME"]

FUNCTION_NAME = "neuroconv_uniform"

_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)
_STEP_SALT = np.uint32(0x632BE5AB)
_SEED_SALT = np.uint32(0x9E3779B9)


def _u32(x) -> np.ndarray:
    """Integers (any sign, int64 range) -> uint32 modulo 2**32, as C's conversion does."""
    return np.asarray(x, dtype=np.int64).astype(np.uint32)


def _mix(h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint32(16))
        h = h * _M1
        h = h ^ (h >> np.uint32(15))
        h = h * _M2
        return h ^ (h >> np.uint32(16))


def uniform(key, image, step) -> np.ndarray:
    """The uniform in (0, 1) for integer arrays ``key``, ``image``, ``step`` (broadcast together)."""
    h = _mix(_u32(step) ^ _STEP_SALT)
    h = _mix(h ^ _u32(image))
    h = _mix(h ^ _u32(key))
    return ((h >> np.uint32(8)).astype(np.float64) + 0.5) * (1.0 / 16777216.0)


def neuron_keys(seed: int, layer_index: int, size: int) -> np.ndarray:
    """``rng_key`` of the ``size`` neurons of population ``layer_index``, as int32 (Brian2's integer type)."""
    seed = int(seed)
    h = _mix(_u32(seed & 0xFFFFFFFF) ^ _SEED_SALT)
    h = _mix(h ^ _u32(seed >> 32))
    h = _mix(h ^ _u32(layer_index))
    keys = _mix(h ^ _u32(np.arange(size)))
    return keys.view(np.int32)


def random_seed() -> int:
    """The seed used when ``seed=None`` (the result records it): drawn from numpy's global generator, the
    one ``brian2.seed(n)`` (runtime device) and ``np.random.seed(n)`` set. So a script that calls
    ``brian2.seed(123)`` gets the same spikes every time it runs, as with Brian2's own random numbers;
    without that, numpy seeds its generator from the operating system and every process differs."""
    return int(np.random.randint(0, 2**32, dtype=np.int64))


_C_MIX = """
    h ^= h >> 16; h *= 0x7FEB352Du; h ^= h >> 15; h *= 0x846CA68Bu; h ^= h >> 16;"""

_CPP_CODE = f"""
static inline uint32_t _neuroconv_mix(uint32_t h)
{{{_C_MIX}
    return h;
}}
static inline double {FUNCTION_NAME}(int64_t key, int64_t image, int64_t step)
{{
    uint32_t h = _neuroconv_mix((uint32_t)step ^ 0x632BE5ABu);
    h = _neuroconv_mix(h ^ (uint32_t)image);
    h = _neuroconv_mix(h ^ (uint32_t)key);
    return ((double)(h >> 8) + 0.5) * (1.0 / 16777216.0);
}}
"""

_CUDA_CODE = (_CPP_CODE.replace("static inline uint32_t", "__host__ __device__ static inline uint32_t")
              .replace("static inline double", "__host__ __device__ static inline double"))

_CYTHON_CODE = f"""
cdef inline unsigned int _neuroconv_mix(unsigned int h):
    h ^= h >> 16
    h *= <unsigned int>0x7FEB352D
    h ^= h >> 15
    h *= <unsigned int>0x846CA68B
    h ^= h >> 16
    return h

cdef double {FUNCTION_NAME}(long long key, long long image, long long step):
    cdef unsigned int h = _neuroconv_mix((<unsigned int>step) ^ <unsigned int>0x632BE5AB)
    h = _neuroconv_mix(h ^ <unsigned int>image)
    h = _neuroconv_mix(h ^ <unsigned int>key)
    return ((<double>(h >> 8)) + 0.5) * (1.0 / 16777216.0)
"""

_FUNCTION = None


def brian2_function():
    """The ``brian2.Function`` ``neuroconv_uniform(key, image, step)`` with numpy, Cython, C++ and CUDA code."""
    global _FUNCTION
    if _FUNCTION is None:
        from brian2 import Function

        def pyfunc(key, image, step):
            return uniform(key, image, step)

        f = Function(pyfunc, arg_units=[1, 1, 1], arg_names=["key", "image", "step"], return_unit=1,
                     arg_types=["integer", "integer", "integer"], return_type="float", stateless=True)
        f.implementations.add_implementation("cpp", code=_CPP_CODE, name=FUNCTION_NAME)
        f.implementations.add_implementation("cython", code=_CYTHON_CODE, name=FUNCTION_NAME)
        f.implementations.add_implementation("cuda", code=_CUDA_CODE, name=FUNCTION_NAME)
        _FUNCTION = f
    return _FUNCTION
