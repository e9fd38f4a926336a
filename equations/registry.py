"""Neuron models by name: what the CLI's ``--neuron``, sweep configs and saved networks use.

A model is registered once, beside its class (``register("if", IF)``); a *spec* is the
JSON-ready dict ``{"family": name, **parameters}`` that describes one instance. Adding a
model to the package is its own file plus one ``register`` line in ``equations/__init__.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["register", "registered", "model_spec", "model_from_spec", "MODELS"]

#: name -> model class, in registration order.
MODELS: dict = {}


def register(name: str, cls):
    """Make ``cls`` (a dataclass implementing :class:`~neuroconv.equations.NeuronModel`) available as ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise NeuroconvError(f"a neuron model's registry name must be an identifier, got {name!r}.")
    if name in MODELS and MODELS[name] is not cls:
        raise NeuroconvError(f"neuron model name {name!r} is taken by {MODELS[name].__name__}.")
    MODELS[name] = cls
    cls.registry_name = name
    return cls


def registered() -> tuple:
    """The registered model names."""
    return tuple(MODELS)


def _json_value(value):
    return value.item() if isinstance(value, np.generic) else value


def model_spec(model) -> dict:
    """``{"family": name, **parameters}`` of a registered model instance (JSON-ready).

    Models made from Brian2 strings describe themselves (their strings; a ``reference_step``
    function is not saved).
    """
    spec = getattr(model, "spec", None)
    if callable(spec):
        return spec()
    for name, cls in MODELS.items():
        if type(model) is cls:
            params = {f.name: _json_value(getattr(model, f.name)) for f in dataclasses.fields(model) if f.init}
            return {"family": name, **params}
    raise NeuroconvError(f"cannot describe neuron model {model!r}: it is not registered "
                         f"(neuroconv.equations.register); registered: {list(MODELS)}.")


def model_from_spec(spec: dict, where: str = "neuron"):
    """The model a :func:`model_spec` dict describes; clear errors name ``where``."""
    if not isinstance(spec, dict) or "family" not in spec:
        raise NeuroconvError(f"{where}: expected a table with a 'family' key ({', '.join(MODELS)}), got {spec!r}.")
    params = dict(spec)
    family = params.pop("family")
    if family not in MODELS:
        raise NeuroconvError(f"{where}: unknown neuron family {family!r}; choose one of {list(MODELS)}.")
    cls = MODELS[family]
    from_spec = getattr(cls, "from_spec", None)
    if from_spec is not None:
        try:
            return from_spec(params)
        except (TypeError, ValueError) as exc:
            raise NeuroconvError(f"{where}: {exc}") from None
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(params) - known)
    if unknown:
        raise NeuroconvError(f"{where}: {family} has no parameter(s) {unknown}; its parameters are {sorted(known)}.")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:  # NeuroconvError included
        raise NeuroconvError(f"{where}: {exc}") from None
