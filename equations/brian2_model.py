"""Neuron models written as Brian2 strings: bring your own equations (``NeuronModel.from_brian2``).

The converter drives such a model the way it drives IF: every step the group integrates its
equations, in which ``I`` is the input current per step (the first layer's constant input,
``sum_k w_k x_k``), ``b`` the bias and ``theta`` the threshold; a spike from the layer below
adds ``w * theta_pre`` to ``v``. The output layer keeps IF's membrane readout (the input
averaged over T) unless ``output_equations`` say otherwise. Conditions that depend on time
use ``step`` (the timestep within the inference), which the builder defines.

A leaky IF neuron, for example::

    from brian2 import ms
    from neuroconv.equations import NeuronModel
    lif = NeuronModel.from_brian2(
        equations="dv/dt = -v / tau + (I + b) / dt : 1\\nI : 1\\nb : 1 (constant)\\ntheta : 1 (constant)",
        threshold="v >= theta", reset="v -= theta", method="exact", namespace={"tau": 20 * ms},
        name="lif")

The numpy reference simulator runs such a model only with ``reference_step(v, drive, theta)
-> spikes`` (advance one step in place, return the boolean spikes); without one it refuses
instead of simulating something else.
"""

from __future__ import annotations

import warnings

import numpy as np

from neuroconv.equations.model import NeuronModel
from neuroconv.errors import NeuroconvError, NeuroconvWarning

__all__ = ["Brian2Model"]

#: Variables the converter drives; each must be in the equations.
REQUIRED = {"v": "the membrane", "I": "the input current per step (a parameter: the first layer's input adds to it)",
            "b": "the bias", "theta": "the threshold (a spike carries w * theta_pre)"}

#: The non-spiking output layer of models that do not give their own: it sums its input (readout v / T).
MEMBRANE_READOUT_EQUATIONS = """
dv/dt = (I + b) / dt : 1  # accumulates the weighted input; the readout is v / T
I : 1
b : 1 (constant)
"""

_STOCHASTIC_NAMES = ("xi", "rand", "randn", "poisson")


class Brian2Model(NeuronModel):
    """A neuron model made from Brian2 strings; build it with :meth:`NeuronModel.from_brian2`."""

    def __init__(self, equations, threshold, reset, method="euler", namespace=None, initial_v=0.0,
                 reference_step=None, name=None, output_equations=None):
        self.name = "brian2_model" if name is None else str(name)
        for what, value in (("equations", equations), ("threshold", threshold), ("reset", reset),
                            ("method", method)):
            if not isinstance(value, str) or not value.strip():
                raise NeuroconvError(f"neuron model {self.name!r}: {what} must be a non-empty Brian2 string, "
                                     f"got {value!r}.")
        if namespace is not None and not isinstance(namespace, dict):
            raise NeuroconvError(f"neuron model {self.name!r}: namespace must be a dict of names used in the "
                                 f"strings, got {type(namespace).__name__}.")
        if reference_step is not None and not callable(reference_step):
            raise NeuroconvError(f"neuron model {self.name!r}: reference_step must be a function "
                                 "(v, drive, theta) -> spikes, got {type(reference_step).__name__}.")
        if callable(initial_v):
            self._initial_v = initial_v
        else:
            try:
                fraction = float(initial_v)
            except (TypeError, ValueError):
                fraction = float("nan")
            if not np.isfinite(fraction):
                raise NeuroconvError(f"neuron model {self.name!r}: initial_v must be a finite number (a fraction of "
                                     f"theta: 0.5 is IF's shift) or a function theta -> v, got {initial_v!r}.")
            self._initial_v = fraction
        self.equations = equations
        self.threshold = threshold
        self.reset_code = reset
        self.method = method
        self.output_equations = MEMBRANE_READOUT_EQUATIONS if output_equations is None else output_equations
        self._namespace = dict(namespace or {})
        self._reference_step = reference_step
        self.stochastic = self._uses_random_numbers()
        self._check_strings()

    # --- the interface --------------------------------------------------------------------
    @property
    def namespace(self) -> dict:
        return dict(self._namespace)

    def initial_v(self, theta: np.ndarray) -> np.ndarray:
        if callable(self._initial_v):
            return np.broadcast_to(np.asarray(self._initial_v(theta), dtype=np.float64), np.shape(theta)).copy()
        return self._initial_v * np.asarray(theta, dtype=np.float64)

    def reference_step(self, v, drive, theta):
        if self._reference_step is None:
            raise NeuroconvError(self._no_reference())
        spikes = np.asarray(self._reference_step(v, drive, theta))
        if spikes.shape != v.shape:
            raise NeuroconvError(f"neuron model {self.name!r}: reference_step returned shape {spikes.shape}; it "
                                 f"must return one boolean per neuron, shape {v.shape}.")
        return spikes.astype(bool, copy=False)

    @property
    def has_reference(self) -> bool:
        return self._reference_step is not None

    def reference_margin(self, v, drive, theta):
        return None  # the dynamics are the user's: no tie is excused

    def spec(self) -> dict:
        """JSON-ready description (the strings; a ``reference_step`` function is not saved)."""
        if callable(self._initial_v):
            raise NeuroconvError(f"neuron model {self.name!r}: an initial_v function cannot be saved; give it as a "
                                 "number (a fraction of theta).")
        namespace = {}
        for key, value in self._namespace.items():
            namespace[key] = _namespace_value(self.name, key, value)
        if self._reference_step is not None:
            warnings.warn(f"neuron model {self.name!r}: its reference_step function is not saved (no code is stored "
                          "in saved files); give it again to NeuronModel.from_brian2 to run a loaded network on the "
                          "reference device.", NeuroconvWarning, stacklevel=3)
        return {"family": "brian2", "name": self.name, "equations": self.equations, "threshold": self.threshold,
                "reset": self.reset_code, "method": self.method, "namespace": namespace,
                "initial_v": self._initial_v, "output_equations": self.output_equations}

    @classmethod
    def from_spec(cls, params: dict):
        params = dict(params)
        params["namespace"] = {k: _namespace_quantity(k, v) for k, v in (params.get("namespace") or {}).items()}
        return cls(**params)

    def __repr__(self):
        return f"NeuronModel.from_brian2(name={self.name!r})"

    def __eq__(self, other):
        return isinstance(other, Brian2Model) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key()[:5])

    def _key(self):
        return (self.name, self.equations, self.threshold, self.reset_code, self.method, self.output_equations,
                repr(sorted(self._namespace.items())), repr(self._initial_v), self._reference_step)

    # --- checks -----------------------------------------------------------------------
    def _uses_random_numbers(self) -> bool:
        from brian2.utils.stringtools import get_identifiers

        names = set()
        for text in (self.equations, self.threshold, self.reset_code):
            names |= get_identifiers(text)
        return any(n in names for n in _STOCHASTIC_NAMES) or any(n.startswith("xi_") for n in names)

    def _check_strings(self):
        """Refuse strings Brian2 cannot use, with Brian2's message and the model named (no simulation)."""
        from brian2 import Equations

        where = f"neuron model {self.name!r}"
        try:
            eqs = Equations(self.equations)
            Equations(self.output_equations)
        except Exception as exc:  # Brian2 raises EquationError, SyntaxError, ValueError, ...
            raise NeuroconvError(f"{where}: Brian2 cannot read the equations: {exc}") from None
        missing = [f"{n} ({what})" for n, what in REQUIRED.items() if n not in eqs.names]
        if missing:
            raise NeuroconvError(f"{where}: the equations must define {', '.join(missing)}; the converter drives "
                                 "these variables (see NeuronModel.from_brian2).")
        if eqs["I"].type != "parameter" or "constant" in eqs["I"].flags:
            raise NeuroconvError(f"{where}: I must be a non-constant parameter ('I : 1'): the first layer's input "
                                 "adds to it once, then the equations integrate it every step.")
        self._check_with_brian2()

    def _check_with_brian2(self):
        """Let Brian2 check the threshold, reset and method on one neuron, without simulating it."""
        from brian2 import Network, NeuronGroup, ms
        from brian2.devices.device import RuntimeDevice, get_device
        from brian2.utils.logger import catch_logs

        if not isinstance(get_device(), RuntimeDevice):
            return  # a user's standalone project must not get our test group; the build will say it
        extra = "\nstep : integer (constant, shared)\n"
        where = f"neuron model {self.name!r}"
        group = None
        try:
            with catch_logs():  # Brian2 logs each integration method it tried; the exception says enough
                group = NeuronGroup(1, self.equations + extra, threshold=self.threshold, reset=self.reset_code,
                                    method=self.method, namespace=self.namespace, name="neuroconv_model_check*",
                                    codeobj_class=_numpy_codeobject())
                Network(group).run(0 * ms, namespace={})  # prepares every code object, simulates no step
        except Exception as exc:
            if group is not None:
                group._network = "neuroconv model check"  # a throw-away group: no "never included" warning

            cause = exc.__cause__ or exc  # Brian2 wraps the original error in a BrianObjectException
            message = " ".join(line.strip() for line in str(cause).strip().splitlines()) or "(no message)"
            hint = (" (method='exact' needs equations Brian2 can solve in closed form, with constant "
                    "coefficients; the input current I is a changing parameter, so use method='euler')"
                    if self.method == "exact" and "stateupdater" in message else "")
            raise NeuroconvError(f"{where}: Brian2 refuses the model: {type(cause).__name__}: {message}{hint}") from None


def _numpy_codeobject():
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    return NumpyCodeObject


def _namespace_value(model, key, value):
    """A namespace entry as JSON: a number, or ``[value, "unit"]`` for a Brian2 quantity."""
    from brian2 import Quantity

    if isinstance(value, Quantity):
        unit = value.get_best_unit()
        return [float(value / unit), str(unit)]
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        return float(value) if not isinstance(value, (bool, int)) else value
    raise NeuroconvError(f"neuron model {model!r}: namespace entry {key!r} ({type(value).__name__}) cannot be saved; "
                         "only numbers and Brian2 quantities can.")


def _namespace_quantity(key, value):
    import brian2

    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        unit = getattr(brian2, value[1], None)
        if not isinstance(unit, brian2.Unit):
            raise NeuroconvError(f"namespace entry {key!r}: unknown unit {value[1]!r}.")
        return float(value[0]) * unit
    if isinstance(value, (bool, int, float)):
        return value
    raise NeuroconvError(f"namespace entry {key!r}: expected a number or [value, unit], got {value!r}.")
