"""Fuzzing kit shared by tests/test_fuzz.py and benchmarks/reliability.py.

``invalid_calls()`` is a hypothesis strategy of :class:`Case`: a call into the public API
with one bad argument, from one of :data:`CATEGORIES`, and the words of which at least one
must appear in the error message (the parameter's name). :func:`outcome` runs a case and
says what happened: ``"refused"`` (a NeuroconvError, a ValueError subclass, naming the
parameter) is the only good answer; ``"wrong_message"``, ``"crash"`` (any other exception,
e.g. from deep inside numpy or Brian2) and ``"accepted"`` (no error: a silent wrong answer)
are failures.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st

import neuroconv as nc
from brian2 import ms
from neuroconv import ann
from neuroconv.equations import IF, TPP, OneSpike

CATEGORIES = ("shape", "dtype", "nonfinite", "nonpositive", "empty", "huge", "unknown_string", "wrong_object")
OUTCOMES = ("refused", "wrong_message", "crash", "accepted")


@dataclass
class Case:
    category: str
    description: str
    call: Callable = field(repr=False)
    names: tuple  # at least one of these (case-insensitive) must be in the message


def outcome(case: Case) -> tuple[str, str]:
    """Run ``case``: (one of OUTCOMES, the error's type and message or '')."""
    try:
        case.call()
    except nc.NeuroconvError as exc:
        message = str(exc)
        if not isinstance(exc, ValueError):  # pragma: no cover - NeuroconvError is a ValueError
            return "crash", f"{type(exc).__name__}: {message}"
        ok = any(name.lower() in message.lower() for name in case.names)
        return ("refused" if ok else "wrong_message"), message
    except Exception as exc:  # noqa: BLE001 - every other exception is what we are hunting
        return "crash", f"{type(exc).__name__}: {exc}"
    return "accepted", ""


@functools.lru_cache(maxsize=None)
def small_net():
    """A fixed 6-5-3 MLP and its IF conversion (thresholds given: no calibration needed)."""
    rng = np.random.default_rng(0)
    net = ann.Sequential([ann.Dense(rng.normal(0, 0.5, (5, 6)), rng.normal(0, 0.1, 5)), ann.ReLU(),
                          ann.Dense(rng.normal(0, 0.5, (3, 5)))], input_shape=(6,))
    return net, nc.convert(net, timesteps=4, thresholds=[1.0])


def _x(n=2):
    return np.random.default_rng(1).uniform(0, 1, (n, 6))


def _run(**kw):
    net, snn = small_net()
    kw.setdefault("progress", False)
    x = kw.pop("x", _x())
    return snn.run(x, **{"device": "reference", **kw})


def _convert(**kw):
    net, _ = small_net()
    kw.setdefault("thresholds", [1.0])
    return nc.convert(kw.pop("net", net), **kw)


def _case(category, description, call, *names):
    return Case(category, description, call, names)


# --- one strategy per category -------------------------------------------------------------

@st.composite
def _shape(draw):
    n = draw(st.integers(1, 4))
    width = draw(st.integers(2, 12).filter(lambda w: w not in (5, 6)))
    extra = draw(st.integers(1, 3))
    return draw(st.sampled_from([
        _case("shape", f"run x ({n}, {width})", lambda: _run(x=np.ones((n, width))), "x", "input"),
        _case("shape", f"run x with {extra} extra axes", lambda: _run(x=np.ones((n, 6) + (1,) * extra)), "x", "input"),
        _case("shape", "Dense weight 1-D", lambda: ann.Dense(np.ones(width)), "weight"),
        _case("shape", f"Dense bias {width} for 6 outputs", lambda: ann.Dense(np.ones((6, 3)), np.ones(width)), "bias"),
        _case("shape", f"Sequential input_shape ({width},) into Dense(5, 6)",
              lambda: ann.Sequential([ann.Dense(np.ones((5, 6)))], input_shape=(width,)), "shape", "input"),
        _case("shape", "Conv2d weight 3-D", lambda: ann.Conv2d(np.ones((2, 3, 3))), "weight"),
        _case("shape", f"calibration_data ({n}, {width})",
              lambda: _convert(thresholds=None, calibration_data=np.ones((n, width))), "calibration_data"),
        _case("shape", f"{extra + 1} thresholds for 1 layer", lambda: _convert(thresholds=[1.0] * (extra + 1)),
              "thresholds"),
        _case("shape", f"per-neuron thresholds of length {width}",
              lambda: _convert(thresholds=[np.ones(width)]), "threshold"),
    ]))


@st.composite
def _dtype(draw):
    bad_number = draw(st.sampled_from([2.5, "8", 8.0, [8], True]))  # (None means "the default")
    bad_array = draw(st.sampled_from(["complex", "text", "object"]))

    def array(shape):
        if bad_array == "complex":
            return np.ones(shape) * (1 + 1j)
        if bad_array == "text":
            return np.full(shape, "a")
        return np.array([object()] * int(np.prod(shape)), dtype=object).reshape(shape)

    return draw(st.sampled_from([
        _case("dtype", f"run x {bad_array}", lambda: _run(x=array((2, 6))), "x", "input"),
        _case("dtype", f"Dense weight {bad_array}", lambda: ann.Dense(array((3, 4))), "weight"),
        _case("dtype", f"thresholds {bad_array}", lambda: _convert(thresholds=[array((5,))]), "threshold"),
        _case("dtype", f"timesteps={bad_number!r}", lambda: _convert(timesteps=bad_number), "timesteps"),
        _case("dtype", f"batch_size={bad_number!r}", lambda: _run(batch_size=bad_number), "batch_size"),
        _case("dtype", f"seed={bad_number!r}", lambda: _run(seed=bad_number), "seed"),
        _case("dtype", f"OneSpike(window={bad_number!r})", lambda: OneSpike(window=bad_number), "window"),
        _case("dtype", f"TPP(unbiased={bad_number!r})", lambda: TPP(unbiased=bad_number)
              if not isinstance(bad_number, bool) else TPP(unbiased="yes"), "unbiased"),
    ]))


@st.composite
def _nonfinite(draw):
    value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    i = draw(st.integers(0, 5))

    def poke(shape):
        a = np.ones(shape)
        a.flat[i % a.size] = value
        return a

    return draw(st.sampled_from([
        _case("nonfinite", f"run x with {value}", lambda: _run(x=poke((2, 6))), "x", "input", "nan"),
        _case("nonfinite", f"Dense weight with {value}", lambda: ann.Dense(poke((3, 4))), "weight"),
        _case("nonfinite", f"Dense bias with {value}", lambda: ann.Dense(np.ones((3, 4)), poke(3)), "bias"),
        _case("nonfinite", f"threshold {value}", lambda: _convert(thresholds=[value]), "threshold"),
        _case("nonfinite", f"per-neuron thresholds with {value}", lambda: _convert(thresholds=[poke(5)]),
              "threshold"),
        _case("nonfinite", f"calibration_data with {value}",
              lambda: _convert(thresholds=None, calibration_data=poke((4, 6))), "calibration_data"),
        _case("nonfinite", f"timesteps={value}", lambda: _convert(timesteps=value), "timesteps"),
        _case("nonfinite", f"OneSpike(base={value})", lambda: OneSpike(base=value), "base"),
        _case("nonfinite", f"dt={value} ms", lambda: _convert(dt=value * ms), "dt"),
    ]))


@st.composite
def _nonpositive(draw):
    k = draw(st.integers(-5, 0))
    r = draw(st.floats(-10.0, 0.0))
    return draw(st.sampled_from([
        _case("nonpositive", f"timesteps={k}", lambda: _convert(timesteps=k), "timesteps"),
        _case("nonpositive", f"threshold {r}", lambda: _convert(thresholds=[r]), "threshold"),
        _case("nonpositive", f"OneSpike(base={1 + r / 10})", lambda: OneSpike(base=1 + r / 10), "base"),
        _case("nonpositive", f"OneSpike(window={k})", lambda: OneSpike(window=k), "window"),
        _case("nonpositive", f"TPP(timesteps={k})", lambda: TPP(timesteps=k), "timesteps", "phase length"),
        _case("nonpositive", f"batch_size={k}", lambda: _run(batch_size=k), "batch_size"),
        _case("nonpositive", f"rounds={k}", lambda: _run(device="cpp_standalone", rounds=k), "rounds"),
        _case("nonpositive", f"dt={r} ms", lambda: _convert(dt=r * ms), "dt"),
        _case("nonpositive", f"max_synapses={k}", lambda: _run(device="runtime", max_synapses=k), "max_synapses"),
        _case("nonpositive", f"seed={k - 1}", lambda: _run(seed=k - 1), "seed"),
        _case("nonpositive", f"percentile method={r}", lambda: _convert(thresholds=None, calibration_data=_x(8),
                                                                          method=r), "method"),
    ]))


@st.composite
def _empty(draw):
    return draw(st.sampled_from([
        _case("empty", "run x of 0 images", lambda: _run(x=np.ones((0, 6))), "x", "input"),
        _case("empty", "Dense weight (0, 4)", lambda: ann.Dense(np.ones((0, 4))), "weight"),
        _case("empty", "Sequential([])", lambda: ann.Sequential([], input_shape=(6,)), "layer"),
        _case("empty", "calibration_data of 0 samples",
              lambda: _convert(thresholds=None, calibration_data=np.ones((0, 6))), "calibration_data"),
        _case("empty", "thresholds=[]", lambda: _convert(thresholds=[]), "thresholds"),
        _case("empty", "input_shape=()", lambda: ann.Sequential([ann.Dense(np.ones((2, 6)))], input_shape=()),
              "input_shape"),
    ]))


@st.composite
def _huge(draw):
    e = draw(st.integers(10, 15))
    return draw(st.sampled_from([
        _case("huge", f"batch_size=1e{e} with max_synapses=1e{e - 5}",
              lambda: _run(device="runtime", batch_size=10**e, x=np.broadcast_to(_x(1), (10**e, 6)),
                           max_synapses=10**(e - 5)), "memory", "batch_size", "max_synapses"),
        _case("huge", f"timesteps=1e{e}", lambda: _convert(timesteps=10**e), "timesteps"),
        _case("huge", f"1e{e} images (a broadcast view) on the reference",
              lambda: _run(x=np.broadcast_to(_x(1), (10**e, 6)), record_spikes=True), "x", "memory", "images"),
        _case("huge", f"input_shape (1, 1e{e // 2}, 1e{e // 2}) conv net on runtime",
              lambda: _huge_conv(e // 2), "memory"),
        _case("huge", f"Conv2d 64x25x25 kernels on a {30 * e}x{30 * e} input (synapses per image)",
              lambda: _wide_conv(30 * e), "synapses", "memory"),
        _case("huge", f"seed=2**{60 + e}", lambda: _run(seed=2**(60 + e)), "seed"),
        _case("huge", f"OneSpike(window=1e{e})", lambda: _convert(neuron=OneSpike(window=10**e)), "window",
              "timesteps", "latency"),
    ]))


def _wide_conv(side):
    net = ann.Sequential([ann.Conv2d(np.full((64, 1, 25, 25), 0.01)), ann.ReLU(), ann.Flatten()],
                         input_shape=(1, side, side))
    snn = nc.convert(net, timesteps=2, thresholds=[1.0])
    return snn.run(np.zeros((1, 1, side, side)), device="runtime", progress=False)


def _huge_conv(e):
    side = 10**e
    net = ann.Sequential([ann.Conv2d(np.ones((1, 1, 3, 3))), ann.ReLU(), ann.Conv2d(np.ones((1, 1, 3, 3)))],
                         input_shape=(1, side, side))
    snn = nc.convert(net, timesteps=2, thresholds=[1.0])
    return snn.run(np.broadcast_to(np.zeros((1, 1, 1, 1)), (1, 1, side, side)), device="runtime", progress=False)


@st.composite
def _unknown_string(draw):
    word = draw(st.sampled_from(["gpu", "", "CPP", "runtime ", "lif", "máx", "../x"]))
    return draw(st.sampled_from([
        _case("unknown_string", f"device={word!r}", lambda: _run(device=word), "device"),
        _case("unknown_string", f"codegen_target={word!r}", lambda: _run(device="runtime", codegen_target=word),
              "codegen_target"),
        _case("unknown_string", f"method={word!r}", lambda: _convert(thresholds=None, calibration_data=_x(8),
                                                                       method=word), "method"),
        _case("unknown_string", f"readout={word!r}", lambda: _convert(readout=word), "readout"),
        _case("unknown_string", f"IF(reset={word!r})", lambda: IF(reset=word), "reset"),
        _case("unknown_string", f"neuron={word!r}", lambda: _convert(neuron=word), "neuron"),
        _case("unknown_string", f"datasets.load({word!r})", lambda: nc.datasets.load(word), "dataset"),
    ]))


@st.composite
def _wrong_object(draw):
    thing = draw(st.sampled_from([None, {"w": 1}, "model.onnx", object(), [1, 2], IF]))
    return draw(st.sampled_from([
        _case("wrong_object", f"convert(net={thing!r})", lambda: nc.convert(thing, timesteps=4, thresholds=[1.0]),
              "net"),
        _case("wrong_object", f"neuron={thing!r}", lambda: _convert(neuron=thing if thing is not None else IF),
              "neuron"),
        _case("wrong_object", f"calibration_data={thing!r}",
              lambda: _convert(thresholds=None, calibration_data=thing if thing is not None else "x"),
              "calibration_data"),
        _case("wrong_object", f"run x={thing!r}", lambda: _run(x=thing), "x", "input"),
        _case("wrong_object", f"Sequential([{thing!r}])", lambda: ann.Sequential([thing], input_shape=(6,)), "layer"),
        _case("wrong_object", f"thresholds={thing!r}", lambda: _convert(thresholds=thing if thing is not None
                                                                          else object()), "threshold"),
    ]))


STRATEGIES = {"shape": _shape(), "dtype": _dtype(), "nonfinite": _nonfinite(), "nonpositive": _nonpositive(),
              "empty": _empty(), "huge": _huge(), "unknown_string": _unknown_string(),
              "wrong_object": _wrong_object()}


def invalid_calls(categories=CATEGORIES):
    """A strategy of :class:`Case` from ``categories``."""
    return st.one_of(*[STRATEGIES[c] for c in categories])


