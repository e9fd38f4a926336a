"""Probe: the semantics of NIR spiking nodes as snnTorch (and Norse) write and read them.

Builds small snnTorch networks, exports them with ``snntorch.export_to_nir``, writes them with
``nir.write`` and reads them back with ``nir.read``, then simulates the graph with a pure-numpy
simulator (:func:`simulate_nir_numpy`) that sees ONLY the NIR node parameters, and compares spike
for spike with

* snnTorch's own forward of the original network (step by step, ``init_hidden=True``), and
* snnTorch's own forward of ``snntorch.import_from_nir(graph)`` (the NIR reading snnTorch makes).

Findings are written up in ``docs/notes/nir_spiking_semantics.md``.

Run (about 10-15 s on 2 CPU cores)::

    .venv/bin/python benchmarks/nir_snntorch_probe.py            # snnTorch probes + Norse probes
    .venv/bin/python benchmarks/nir_snntorch_probe.py --no-norse
    .venv/bin/python benchmarks/nir_snntorch_probe.py --show-graphs   # print every exported graph

Needs ``nir``, ``torch``, ``snntorch`` (and ``nirtorch``, which snnTorch's export imports);
Norse is optional. Install snnTorch/nirtorch/norse with ``pip install --no-deps`` so that torch
stays the pinned one.

The discretisation (what reproduces snnTorch; see the note for the derivation)
------------------------------------------------------------------------------
snnTorch writes every LIF with ``dt = 1e-4`` baked in (the value is NOT stored in the graph):
``tau = dt/(1-beta)``, ``r = tau/dt``, ``v_leak = 0``, ``v_reset = 0``, ``v_threshold = threshold``.
Forward Euler of NIR's ``tau dv/dt = (v_leak - v) + r I`` with that dt gives back exactly
snnTorch's update::

    v[t] = a v[t-1] + c I[t] + (1-a) v_leak,   a = 1 - dt/tau  (= beta),   c = r dt/tau  (= 1)

(``exp(-dt/tau)`` does not: 0.9048 instead of 0.9 for beta = 0.9). ``tau = r = inf``
(snnTorch's beta = 1) means a = 1, c = 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
import zlib
from collections import defaultdict

import numpy as np

SNNTORCH_DT = 1e-4  # hard-coded in snntorch/export_nir.py and snntorch/import_nir.py (not in the graph)
NORSE_DT = 1e-3     # default dt of norse.torch.to_nir / from_nir (not in the graph either)

SPIKING = ("LIF", "IF", "CubaLIF", "Threshold")
STATEFUL = ("LIF", "IF", "CubaLIF", "LI", "I")  # CubaLI, Delay: not handled (NotImplementedError)


# ----------------------------------------------------------------------------------------------
# parameter mapping NIR -> discrete coefficients
# ----------------------------------------------------------------------------------------------

def _f32_export_tau(beta32, dt):
    """tau exactly as snnTorch's export computes it: ``dt / (1 - beta)`` on a float32 numpy array
    (NumPy >= 2 keeps float32: the Python float dt is a 'weak' scalar)."""
    beta32 = np.asarray(beta32, np.float32)
    return np.float32(dt) / (np.float32(1) - beta32)


def decay_from_tau(tau, dt, mode="exact_inverse"):
    """The per-step decay a (snnTorch's beta / alpha) for a NIR time constant ``tau``.

    mode:
      "float64"        a = 1 - dt/tau in float64 (what a float64 simulator such as Brian2 gets);
      "exp"            a = exp(-dt/tau) (shown to be wrong for snnTorch files);
      "float32_naive"  a = 1 - dt/tau in float32 arithmetic: what snntorch.import_from_nir computes;
      "exact_inverse"  the float32 beta that snnTorch's export maps to this (float32) tau, found by
                       searching the float32 neighbours of the naive value; falls back to the nearest
                       float32 of the float64 value where the map is not invertible (beta < 0.5
                       loses bits in 1-beta) or tau is not float32.
    tau = inf gives a = 1 (no leak). Returned as float64 (cast to the simulation dtype by the caller).
    """
    tau = np.asarray(tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        a64 = 1.0 - dt / tau.astype(np.float64)
    if mode == "float64":
        return a64
    if mode == "exp":  # exponential (exact-ODE) discretisation: NOT what snnTorch does
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.exp(-dt / tau.astype(np.float64))
    if mode == "float32_naive":
        t32 = tau.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.float32(1) - np.float32(dt) / t32).astype(np.float64)
    if mode != "exact_inverse":
        raise ValueError(mode)
    a32 = a64.astype(np.float32)
    if tau.dtype != np.float32:
        return a32.astype(np.float64)
    best = a32.copy()
    found = np.zeros(a32.shape, bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for k in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            cand = a32.copy()
            step = np.float32(np.inf) if k > 0 else np.float32(-np.inf)
            for _ in range(abs(k)):
                cand = np.nextafter(cand, step)
            ok = (_f32_export_tau(cand, dt) == tau) & ~found
            best = np.where(ok, cand, best)
            found |= ok
    return best.astype(np.float64)


def gain_from_r_tau(r, tau, dt, snap=1e-6):
    """The input coefficient c = r dt / tau (forward Euler). tau = r = inf (snnTorch's beta = 1:
    r = tau/dt on both sides) gives c = 1; |c - 1| <= snap is snapped to exactly 1 (snnTorch writes
    r = tau/dt in float32, so r dt/tau is 1 up to ~1.2e-7; snnTorch itself multiplies by nothing)."""
    r = np.asarray(r, np.float64)
    tau = np.asarray(tau, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = r * dt / tau
    c = np.where(np.isinf(r) & np.isinf(tau), 1.0, c)
    if snap:
        c = np.where(np.abs(c - 1.0) <= snap, 1.0, c)
    return c


# ----------------------------------------------------------------------------------------------
# graph handling
# ----------------------------------------------------------------------------------------------

def _flatten_graph(graph, prefix=""):
    """Nodes and edges of a (possibly nested) NIRGraph with subgraphs inlined (names prefixed with the
    subgraph's name and a dot); a subgraph's Input/Output nodes become identity nodes so edges into and
    out of the subgraph keep working."""
    import nir
    nodes, edges = {}, []
    sub_io = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            n2, e2 = _flatten_graph(node, full + ".")
            nodes.update(n2)
            edges.extend(e2)
            ins = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [full + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            sub_io[full] = (ins, outs)
            for k in ins + outs:  # a subgraph's Input/Output nodes pass values through
                nodes[k] = _Identity()
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        s, d = prefix + src, prefix + dst
        srcs = sub_io[s][1] if s in sub_io else [s]
        dsts = sub_io[d][0] if d in sub_io else [d]
        edges.extend((a, b) for a in srcs for b in dsts)
    return nodes, edges


class _Identity:
    pass


def _schedule(nodes, edges):
    """Evaluation order for one time step, and the set of 'delayed' edges (they carry the source's
    value from the previous step). Feed-forward edges are instantaneous (snnTorch: the spikes of layer
    k at step t drive layer k+1 at step t). A cycle is broken on an edge leaving a stateful node, so
    a recurrent weight W_rec is applied at step t to the neuron's spikes of step t-1 (snnTorch RLeaky:
    ``beta*mem + input + recurrent(spk_prev)``, with the recurrent bias present from t = 0)."""
    preds, succs = defaultdict(list), defaultdict(list)
    for s, d in edges:
        preds[d].append(s)
        succs[s].append(d)

    def reaches(a, b):
        seen, stack = set(), [a]
        while stack:
            n = stack.pop()
            if n == b:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(succs[n])
        return False

    done, order, delayed = set(), [], set()
    remaining = list(nodes)
    while remaining:
        ready = [n for n in remaining if all(p in done for p in preds[n])]
        if not ready:  # a cycle: take a node whose missing predecessors are stateful nodes it feeds back to
            for n in remaining:
                miss = [p for p in preds[n] if p not in done]
                if all(type(nodes[p]).__name__ in STATEFUL and reaches(n, p) for p in miss):
                    ready = [n]
                    delayed.update((p, n) for p in miss)
                    break
            else:
                raise ValueError("cycle without a stateful node: cannot order the graph")
        for n in ready:
            order.append(n)
            done.add(n)
            remaining.remove(n)
    return order, delayed


# ----------------------------------------------------------------------------------------------
# stateless nodes
# ----------------------------------------------------------------------------------------------

def _pair(v):
    v = np.atleast_1d(np.asarray(v)).astype(int).ravel()
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _conv2d(x, w, b, stride, padding, dilation, groups):
    from numpy.lib.stride_tricks import sliding_window_view
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    kh, kw = w.shape[-2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        else:  # 'same' as torch: extra padding goes right/bottom
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        ph, pw = _pair(padding)
        pads = ((ph, ph), (pw, pw))
    x = np.pad(x, ((0, 0), (0, 0)) + pads)
    win = sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # (B, Cin, Ho, Wo, kh, kw)
    g = int(groups)
    cin_g, cout_g = x.shape[1] // g, w.shape[0] // g
    outs = [np.einsum("bchwij,ocij->bohw", win[:, i * cin_g:(i + 1) * cin_g], w[i * cout_g:(i + 1) * cout_g])
            for i in range(g)]
    out = np.concatenate(outs, axis=1)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1).astype(out.dtype)
    return out


def _pool2d(x, kernel, stride, padding, mean):
    from numpy.lib.stride_tricks import sliding_window_view
    kh, kw = _pair(kernel)
    sh, sw = _pair(stride) if stride is not None else (kh, kw)
    ph, pw = _pair(padding) if padding is not None else (0, 0)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    s = win.sum(axis=(-2, -1))
    return s / x.dtype.type(kh * kw) if mean else s


def _flatten(x, start_dim, end_dim):
    # NIR dims exclude the batch dimension (snnTorch's export subtracts 1 from torch's start_dim)
    nd = x.ndim - 1
    sd = int(start_dim) % nd + 1 if int(start_dim) < 0 else int(start_dim) + 1
    ed = int(end_dim) % nd + 1 if int(end_dim) < 0 else int(end_dim) + 1
    return x.reshape(x.shape[:sd] + (-1,) + x.shape[ed + 1:])


def _stateless(node, x, dtype):
    import nir
    if isinstance(node, (nir.Input, nir.Output, _Identity)):
        return x
    if isinstance(node, nir.Affine):
        return x @ np.asarray(node.weight, dtype).T + np.asarray(node.bias, dtype)
    if isinstance(node, nir.Linear):
        return x @ np.asarray(node.weight, dtype).T
    if isinstance(node, nir.Scale):
        return x * np.asarray(node.scale, dtype)
    if isinstance(node, nir.Conv2d):
        b = None if node.bias is None else np.asarray(node.bias, dtype)
        return _conv2d(x, np.asarray(node.weight, dtype), b, node.stride, node.padding, node.dilation, node.groups)
    if isinstance(node, nir.AvgPool2d):
        return _pool2d(x, node.kernel_size, node.stride, node.padding, mean=True)
    if isinstance(node, nir.SumPool2d):
        return _pool2d(x, node.kernel_size, node.stride, node.padding, mean=False)
    if isinstance(node, nir.Flatten):
        return _flatten(x, node.start_dim, node.end_dim)
    raise NotImplementedError(type(node).__name__)


# ----------------------------------------------------------------------------------------------
# the simulator
# ----------------------------------------------------------------------------------------------

def _neuron_params(node, dt, dtype, beta_mode, clamp, snap=1e-6):
    import nir
    p = {}
    cast = lambda v: np.asarray(v, np.float64).astype(dtype)
    if isinstance(node, (nir.LIF, nir.LI)):
        a = decay_from_tau(node.tau, dt, beta_mode)
        p["a"] = cast(np.clip(a, 0, 1) if clamp else a)
        p["c"] = cast(gain_from_r_tau(node.r, node.tau, dt, snap))
        p["leak"] = cast((1 - np.asarray(p["a"], np.float64)) * np.asarray(node.v_leak, np.float64))
    elif isinstance(node, nir.CubaLIF):
        a = decay_from_tau(node.tau_mem, dt, beta_mode)
        p["a"] = cast(np.clip(a, 0, 1) if clamp else a)
        p["c"] = cast(gain_from_r_tau(node.r, node.tau_mem, dt, snap))
        p["leak"] = cast((1 - np.asarray(p["a"], np.float64)) * np.asarray(node.v_leak, np.float64))
        a_s = decay_from_tau(node.tau_syn, dt, beta_mode)
        p["a_syn"] = cast(np.clip(a_s, 0, 1) if clamp else a_s)
        p["c_syn"] = cast(gain_from_r_tau(node.w_in, node.tau_syn, dt, snap))  # w_in dt / tau_syn
    elif isinstance(node, (nir.IF, nir.I)):
        p["a"] = cast(1.0)
        p["c"] = cast(node.r)  # dv = r I per step (dt-free; Norse and neuroconv's own nir.IF do this)
        p["leak"] = cast(0.0)
    if hasattr(node, "v_threshold"):
        p["thr"] = cast(node.v_threshold)
        p["v_reset"] = cast(node.v_reset if node.v_reset is not None else np.zeros_like(node.v_threshold))
    p["any_leak"] = bool(np.any(p.get("leak", 0) != 0))
    return p


def simulate_nir_numpy(graph, x_seq, dt=SNNTORCH_DT, dtype=np.float32, beta_mode="exact_inverse",
                       clamp_decay=True, snntorch_emulation=None, gain_snap=1e-6):
    """Simulate a NIR graph in discrete time with numpy.

    graph        nir.NIRGraph (e.g. from nir.read); nested subgraphs are inlined.
    x_seq        array (T, batch, *input_shape) fed to the (single) Input node at every step.
    dt           the time step used to discretise tau (snnTorch: 1e-4; it is not in the file).
    dtype        np.float32 reproduces snnTorch's float32 arithmetic; np.float64 is what Brian2 uses.
    beta_mode    see :func:`decay_from_tau`.
    gain_snap    |c - 1| <= gain_snap is taken as c = 1 (0 disables; see gain_from_r_tau).
    clamp_decay  clip a into [0, 1] as snnTorch's forward does (``beta.clamp(0, 1)``); the export
                 writes the unclamped learnt beta (beta > 1 gives tau < 0).
    snntorch_emulation
                 None (default): the NIR semantics, one step =
                     v = a v + c I (+ (1-a) v_leak);  s = v > v_threshold;  v = v_reset where s
                 i.e. immediate reset to v_reset (what snntorch.import_from_nir builds: reset "zero",
                 reset_delay=False). Otherwise a dict node-name -> options describing the snnTorch
                 layer the node came from (information NIR does not carry):
                     {"reset": "subtract"|"zero"|"none", "reset_delay": True|False,
                      "cls": "Leaky"|"RLeaky"|"Synaptic"}   (cls defaults from the node type)
                 and the node is stepped exactly like that snnTorch class (see the note).

    Returns dict: "output" (T, batch, ...) of the Output node; "spikes"/"v"/"v_pre"/"syn": dicts
    node -> (T, batch, ...) for spiking / stateful nodes ("v" is the stored state after the step,
    "v_pre" the value compared with the threshold).
    """
    import nir
    nodes, edges = _flatten_graph(graph)
    order, delayed = _schedule(nodes, edges)
    preds = defaultdict(list)
    for s, d in edges:
        preds[d].append(s)
    emul = snntorch_emulation or {}
    x_seq = np.asarray(x_seq, dtype)
    T = x_seq.shape[0]
    params = {n: _neuron_params(nd, dt, dtype, beta_mode, clamp_decay, gain_snap)
              for n, nd in nodes.items() if type(nd).__name__ in STATEFUL}
    state = {}
    # previous-step outputs, for delayed (recurrent) edges; zeros before the first step
    prev = {n: np.zeros((x_seq.shape[1],) + _node_shape(nd), dtype) for n, nd in nodes.items()
            if type(nd).__name__ in STATEFUL}
    rec = {k: defaultdict(list) for k in ("spikes", "v", "v_pre", "syn")}
    outputs = []
    inputs = [n for n, nd in nodes.items() if isinstance(nd, nir.Input)]
    out_nodes = [n for n, nd in nodes.items() if isinstance(nd, nir.Output)]
    for t in range(T):
        cur = {}
        for n in order:
            nd = nodes[n]
            if n in inputs:
                cur[n] = x_seq[t]
                continue
            xs = []
            for p in preds[n]:
                if (p, n) in delayed:
                    xs.append(prev.get(p))
                else:
                    xs.append(cur[p])
            x = xs[0]
            for v in xs[1:]:
                x = x + v
            tname = type(nd).__name__
            if tname in STATEFUL:
                cur[n] = _neuron_step(n, nd, x, params[n], state, emul.get(n), rec, dtype)
            elif isinstance(nd, nir.Threshold):
                s = (x > np.asarray(nd.threshold, dtype)).astype(dtype)
                rec["spikes"][n].append(s)
                cur[n] = s
            else:
                cur[n] = _stateless(nd, x, dtype)
        prev = cur
        outputs.append(cur[out_nodes[0]] if out_nodes else None)
    res = {"output": np.stack(outputs) if out_nodes else None, "order": order, "delayed": sorted(delayed)}
    for k, d in rec.items():
        res[k] = {n: np.stack(v) for n, v in d.items()}
    return res


def _node_shape(node):
    ot = getattr(node, "output_type", None) or {}
    shp = next(iter(ot.values()), None) if ot else None
    if shp is not None:
        return tuple(int(d) for d in np.asarray(shp).ravel())
    for a in ("tau", "tau_mem", "r", "v_threshold"):
        if hasattr(node, a):
            return tuple(np.shape(getattr(node, a)))
    return ()


def _neuron_step(name, node, x, p, state, emul, rec, dtype):
    tname = type(node).__name__
    st = state.setdefault(name, {})
    if "v" not in st:
        st["v"] = np.zeros(np.broadcast_shapes(x.shape, np.shape(p["a"])), dtype)
        if tname == "CubaLIF":
            st["syn"] = np.zeros_like(st["v"])
    v = st["v"]
    a, c = p["a"], p["c"]
    one = dtype(1)

    if tname == "CubaLIF":
        syn = p["a_syn"] * st["syn"] + (x if np.all(p["c_syn"] == 1) else p["c_syn"] * x)
        st["syn"] = syn
        rec["syn"][name].append(syn)
        drive = syn
    else:
        drive = x
    cI = drive if np.all(c == 1) else c * drive  # c == 1 exactly for snnTorch graphs: no extra rounding

    if tname in ("LI", "I"):
        v = a * v + cI
        if p["any_leak"]:
            v = v + p["leak"]
        st["v"] = v
        rec["v"][name].append(v)
        return v

    thr = p["thr"]
    if emul is None:  # NIR semantics: integrate, compare (>), reset to v_reset at once
        v = a * v + cI
        if p["any_leak"]:
            v = v + p["leak"]
        s = v > thr
        rec["v_pre"][name].append(v)
        v = np.where(s, p["v_reset"], v).astype(dtype)
    else:  # the snnTorch class, operation for operation (snntorch/_neurons/{leaky,synaptic,rleaky}.py)
        mech = emul.get("reset", "subtract")
        delay = emul.get("reset_delay", True)
        cls = emul.get("cls", "Synaptic" if tname == "CubaLIF" else "Leaky")
        reset = (v > thr).astype(dtype)  # mem_reset(mem): from the STORED membrane of the last step
        if cls == "Leaky" and mech == "zero":
            v = a * ((one - reset) * v) + cI
        else:
            base = a * v + cI
            if mech == "subtract":
                v = base - reset * thr
            elif mech == "zero":  # Synaptic / RLeaky: the whole new membrane is zeroed on the step after
                v = base - reset * base
            else:
                v = base
        s = v > thr  # fire(mem): Heaviside(mem - threshold), strict
        rec["v_pre"][name].append(v)
        if not delay:
            do_reset = s.astype(dtype) - reset
            if mech == "subtract":
                v = v - do_reset * thr
            elif mech == "zero":
                v = v - do_reset * v
    s = s.astype(dtype)
    st["v"] = v
    rec["v"][name].append(v)
    rec["spikes"][name].append(s)
    return s


# ----------------------------------------------------------------------------------------------
# snnTorch side
# ----------------------------------------------------------------------------------------------

def run_torch_stepwise(net, x_seq, dtype=None):
    """Run a stateful (init_hidden=True) snnTorch / nirtorch module step by step; record the spikes and
    the stored membrane (module.mem after the call) of every snnTorch neuron, keyed by module name."""
    import torch
    import snntorch as snn
    neurons = {n: m for n, m in net.named_modules() if isinstance(m, snn.SpikingNeuron)}
    for m in neurons.values():  # fresh state
        for attr in ("mem", "syn", "spk"):
            if hasattr(m, attr) and isinstance(getattr(m, attr), torch.Tensor):
                setattr(m, attr, torch.zeros(0))
    rec = {"spikes": defaultdict(list), "v": defaultdict(list), "syn": defaultdict(list)}
    hooks = []
    for n, m in neurons.items():
        def hook(mod, inp, out, n=n):
            s = out[0] if isinstance(out, tuple) else out
            rec["spikes"][n].append(s.detach().double().numpy().copy())
            rec["v"][n].append(mod.mem.detach().double().numpy().copy())
            if hasattr(mod, "syn") and isinstance(mod.syn, torch.Tensor) and mod.syn.numel():
                rec["syn"][n].append(mod.syn.detach().double().numpy().copy())
        hooks.append(m.register_forward_hook(hook))
    outs = []
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    with torch.no_grad():
        for t in range(x_seq.shape[0]):
            o = net(torch.as_tensor(np.asarray(x_seq[t]), dtype=tdt))
            while isinstance(o, tuple):
                o = o[0]
            outs.append(o.detach().double().numpy().copy())
    for h in hooks:
        h.remove()
    res = {"output": np.stack(outs)}
    for k, d in rec.items():
        res[k] = {n: np.stack(v) for n, v in d.items()}
    return res


def export_roundtrip(net, sample, path):
    """export_to_nir -> nir.write -> nir.read."""
    import nir
    from snntorch.export_nir import export_to_nir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = export_to_nir(net, sample, ignore_dims=[0])
    nir.write(path, g)
    return nir.read(path)


def describe_graph(graph, indent="  "):
    import nir
    lines = []
    nodes, edges = _flatten_graph(graph)
    for k, n in graph.nodes.items():
        tn = type(n).__name__
        if isinstance(n, nir.NIRGraph):
            lines.append(f"{indent}{k}: NIRGraph")
            lines.extend(describe_graph(n, indent + "    "))
            continue
        fields = []
        for a in ("tau", "tau_mem", "tau_syn", "w_in", "r", "v_leak", "v_threshold", "v_reset"):
            if hasattr(n, a) and getattr(n, a) is not None:
                v = np.asarray(getattr(n, a))
                u = np.unique(v)
                vs = (f"{u[0]:.9g}" if u.size == 1 else f"[{v.ravel()[0]:.6g} .. {v.ravel()[-1]:.6g}] ({u.size} distinct)")
                fields.append(f"{a}={vs} {v.dtype} {v.shape}")
        for a in ("weight", "bias"):
            if hasattr(n, a) and getattr(n, a) is not None:
                fields.append(f"{a}{tuple(np.shape(getattr(n, a)))}")
        for a in ("kernel_size", "stride", "padding", "dilation", "groups", "start_dim", "end_dim", "scale"):
            if hasattr(n, a):
                fields.append(f"{a}={np.asarray(getattr(n, a)).tolist()}")
        if getattr(n, "metadata", None):
            fields.append(f"metadata={n.metadata}")
        lines.append(f"{indent}{k}: {tn} " + ", ".join(fields))
    lines.append(f"{indent}edges: {sorted(graph.edges)}")
    if getattr(graph, "metadata", None):
        lines.append(f"{indent}graph metadata: {graph.metadata}")
    return lines


# ----------------------------------------------------------------------------------------------
# the probes
# ----------------------------------------------------------------------------------------------

def _leaky(n, beta, thr=1.0, **kw):
    import torch
    import snntorch as snn
    beta_t = torch.as_tensor(beta, dtype=torch.float32)
    if beta_t.ndim == 0:
        beta_t = torch.full((n,) if isinstance(n, int) else n, float(beta))
    # snnTorch 1.0.0 + nir 1.0.8: scalar beta/threshold make export_to_nir fail (see the note), so
    # the probes give every neuron its own (equal) value
    return snn.Leaky(beta=beta_t, threshold=torch.full(beta_t.shape, float(thr)), init_hidden=True, **kw)


def build_variants():
    """name -> (net, sample_input_with_batch, input_shape, emulation-options per NIR node, w2 scale)."""
    import torch
    import snntorch as snn
    V = {}

    def mlp(l1, l2, scale2=3.0, seed=0, bias2=True):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(20, 16), l1, torch.nn.Linear(16, 5, bias=bias2), l2)
        with torch.no_grad():
            net[2].weight.mul_(scale2)
        return net

    # (a) the brief's network: Leaky(0.9) hidden, Leaky(0.8, output=True); snnTorch default reset = subtract
    V["leaky_subtract"] = (mlp(_leaky(16, 0.9), _leaky(5, 0.8, output=True)), (20,),
                           {"1": {"reset": "subtract"}, "3": {"reset": "subtract"}})
    V["leaky_zero"] = (mlp(_leaky(16, 0.9, reset_mechanism="zero"), _leaky(5, 0.8, output=True, reset_mechanism="zero")),
                       (20,), {"1": {"reset": "zero"}, "3": {"reset": "zero"}})
    V["if_beta1_subtract"] = (mlp(_leaky(16, 1.0), _leaky(5, 1.0, output=True)), (20,),
                              {"1": {"reset": "subtract"}, "3": {"reset": "subtract"}})
    V["if_beta1_zero"] = (mlp(_leaky(16, 1.0, reset_mechanism="zero"), _leaky(5, 1.0, output=True, reset_mechanism="zero")),
                          (20,), {"1": {"reset": "zero"}, "3": {"reset": "zero"}})
    V["thr_0.6_1.7_subtract"] = (mlp(_leaky(16, 0.9, thr=0.6), _leaky(5, 0.8, thr=1.7, output=True)), (20,),
                                 {"1": {"reset": "subtract"}, "3": {"reset": "subtract"}})
    V["thr_0.6_1.7_zero_nobias"] = (mlp(_leaky(16, 0.9, thr=0.6, reset_mechanism="zero"),
                                        _leaky(5, 0.8, thr=1.7, output=True, reset_mechanism="zero"), bias2=False),
                                    (20,), {"1": {"reset": "zero"}, "3": {"reset": "zero"}})
    # learn_beta with per-neuron betas, some pushed outside [0, 1] as training can do
    torch.manual_seed(1)
    b1 = torch.rand(16) * 0.6 + 0.4
    b1[0], b1[1], b1[2] = 1.05, -0.1, 1.0
    l1 = snn.Leaky(beta=b1, threshold=torch.ones(16), learn_beta=True, init_hidden=True)
    l2 = snn.Leaky(beta=torch.rand(5) * 0.5 + 0.5, threshold=torch.ones(5), learn_beta=True, init_hidden=True, output=True)
    V["learn_beta_random_subtract"] = (mlp(l1, l2, seed=2), (20,), {"1": {"reset": "subtract"}, "3": {"reset": "subtract"}})
    l1 = snn.Leaky(beta=b1.clone(), threshold=torch.ones(16), learn_beta=True, init_hidden=True, reset_mechanism="zero")
    l2 = snn.Leaky(beta=torch.rand(5) * 0.5 + 0.5, threshold=torch.ones(5), learn_beta=True, init_hidden=True, output=True,
                   reset_mechanism="zero")
    V["learn_beta_random_zero"] = (mlp(l1, l2, seed=2), (20,), {"1": {"reset": "zero"}, "3": {"reset": "zero"}})

    # (b) conv net: Conv2d -> Leaky -> AvgPool2d -> Flatten -> Linear -> Leaky (MaxPool2d is not exported)
    for mech in ("subtract", "zero"):
        torch.manual_seed(3)
        C, H = 4, 8
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, C, 3, padding=1), _leaky((C, H, H), 0.9, reset_mechanism=mech),
            torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(C * 16, 5),
            _leaky(5, 0.8, output=True, reset_mechanism=mech))
        with torch.no_grad():
            net[0].weight.mul_(2.0)
            net[4].weight.mul_(4.0)
        V[f"conv_avgpool_{mech}"] = (net, (1, H, H), {"1": {"reset": mech}, "5": {"reset": mech}})
    # the same with AvgPool2d((2, 2)): the export then writes kernel_size as an array, which
    # snnTorch's import can read (AvgPool2d(2) is written as a scalar, which it cannot)
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, C, 3, padding=1), _leaky((C, H, H), 0.9, reset_mechanism="zero"),
        torch.nn.AvgPool2d((2, 2)), torch.nn.Flatten(), torch.nn.Linear(C * 16, 5),
        _leaky(5, 0.8, output=True, reset_mechanism="zero"))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[4].weight.mul_(4.0)
    V["conv_avgpool_tuple_kernel_zero"] = (net, (1, H, H), {"1": {"reset": "zero"}, "5": {"reset": "zero"}})

    # Synaptic -> CubaLIF, RLeaky -> LIF + recurrent Affine (a cycle in the graph)
    for mech in ("subtract", "zero"):
        torch.manual_seed(4)
        syn = snn.Synaptic(alpha=torch.full((16,), 0.7), beta=torch.full((16,), 0.9), threshold=torch.ones(16),
                           init_hidden=True, reset_mechanism=mech)
        V[f"synaptic_{mech}"] = (mlp(syn, _leaky(5, 0.8, output=True, reset_mechanism=mech), scale2=3.0, seed=4), (20,),
                                 {"1": {"reset": mech, "cls": "Synaptic"}, "3": {"reset": mech}})
        torch.manual_seed(5)
        rl = snn.RLeaky(beta=torch.full((16,), 0.9), threshold=torch.ones(16), linear_features=16, init_hidden=True,
                        reset_mechanism=mech)
        V[f"rleaky_{mech}"] = (mlp(rl, _leaky(5, 0.8, output=True, reset_mechanism=mech), seed=5), (20,),
                               {"1.lif": {"reset": mech, "cls": "RLeaky"}, "3": {"reset": mech}})
    return V


def _inputs(shape, kind, T, batch, seed):
    rng = np.random.default_rng(seed)
    if kind == "constant":
        x = rng.uniform(0.0, 0.6, (batch,) + shape).astype(np.float32)
        return np.broadcast_to(x, (T, batch) + shape).copy()
    return rng.uniform(-0.2, 1.0, (T, batch) + shape).astype(np.float32)


def _node_for_module(graph_nodes, module_name):
    """NIR node name for an snnTorch module name (Sequential index; RLeaky -> '<idx>.lif')."""
    if module_name in graph_nodes:
        return module_name
    if module_name + ".lif" in graph_nodes:
        return module_name + ".lif"
    return None


def compare(ref, sim, graph_nodes, use_pre=False):
    """(spike mismatches, spikes total, max |v diff|, max |syn diff|) over all snnTorch neurons."""
    mism = total = 0
    dv = dsyn = 0.0
    for mname, s_ref in ref["spikes"].items():
        n = _node_for_module(graph_nodes, mname) or _node_for_module(graph_nodes, mname.replace("_", "."))
        if n is None or n not in sim["spikes"]:
            continue
        s_sim = sim["spikes"][n]
        mism += int(np.sum(s_ref != s_sim))
        total += int(np.sum(s_ref))
        v_sim = sim["v_pre" if use_pre else "v"][n]
        dv = max(dv, float(np.max(np.abs(ref["v"][mname] - v_sim))))
        if mname in ref["syn"] and n in sim["syn"]:
            dsyn = max(dsyn, float(np.max(np.abs(ref["syn"][mname] - sim["syn"][n]))))
    return mism, total, dv, dsyn


def _near_ties(ref, sim, graph_nodes, thr_of):
    """For mismatched spikes: |v - threshold| of the reference at the first mismatch of each neuron."""
    out = []
    for mname, s_ref in ref["spikes"].items():
        n = _node_for_module(graph_nodes, mname)
        if n is None or n not in sim["spikes"]:
            continue
        bad = np.argwhere(ref["spikes"][mname] != sim["spikes"][n])
        if bad.size:
            t = bad[:, 0].min()
            first = bad[bad[:, 0] == t][0]
            v = ref["v"][mname][tuple(first)]
            out.append((mname, int(t), float(abs(v - thr_of(n, first)))))
    return out


def probe_snntorch(T=32, batch=4, show_graphs=False, tmp=None):
    import torch
    from snntorch.import_nir import import_from_nir
    torch.set_num_threads(1)
    tmp = tmp or tempfile.mkdtemp(prefix="nirprobe_")
    rows = []
    for vname, (net, in_shape, emul) in build_variants().items():
        path = os.path.join(tmp, vname + ".nir")
        g = export_roundtrip(net, torch.zeros((1,) + in_shape), path)
        nodes, _ = _flatten_graph(g)
        if show_graphs:
            print(f"\n== {vname}: NIR graph as written by snnTorch and read back ==")
            print("\n".join(describe_graph(g)))
        # snnTorch's own reading of the file
        try:
            with warnings.catch_warnings(), _quiet():
                warnings.simplefilter("ignore")
                imported = import_from_nir(nir_read(path))
        except Exception as e:  # noqa: BLE001
            imported = e
        for kind in ("constant", "random"):
            x = _inputs(in_shape, kind, T, batch, seed=zlib.crc32(f"{vname}/{kind}".encode()))
            ref = run_torch_stepwise(net, x)
            sims = {
                "nir": simulate_nir_numpy(g, x),
                "emul": simulate_nir_numpy(g, x, snntorch_emulation=emul),
                "emul_f64": simulate_nir_numpy(g, x, snntorch_emulation=emul, dtype=np.float64),
                "emul_naive": simulate_nir_numpy(g, x, snntorch_emulation=emul, beta_mode="float32_naive"),
                "nir_naive": simulate_nir_numpy(g, x, beta_mode="float32_naive"),
                "emul_exp": simulate_nir_numpy(g, x, snntorch_emulation=emul, beta_mode="exp"),
            }
            row = {"variant": vname, "input": kind, "spikes": sum(int(v.sum()) for v in ref["spikes"].values()),
                   "steps": T * batch, "neurons": sum(int(np.prod(v.shape[2:])) for v in ref["spikes"].values())}
            # the network output (snnTorch: spk of the last layer; NIR: what reaches the Output node)
            row["out_mism"] = int(np.sum(ref["output"].reshape(sims["emul"]["output"].shape) != sims["emul"]["output"]))
            zero_reset = all(o.get("reset") == "zero" for o in emul.values())
            for key, sim in sims.items():
                m, tot, dv, dsyn = compare(ref, sim, nodes, use_pre=(key.startswith("nir") and zero_reset))
                row[key] = (m, dv, dsyn)
            if isinstance(imported, Exception):
                row["import"] = f"{type(imported).__name__}: {str(imported)[:90]}"
                row["import_vs_nir"] = None
            else:
                try:
                    try:
                        ref_i = run_torch_stepwise(imported, x)
                        note = ""
                    except RuntimeError:
                        # snnTorch's import maps nir.Flatten(start_dim=0) to torch Flatten(0, -1), which
                        # also flattens the batch: run each sample unbatched
                        per = [run_torch_stepwise(imported, x[:, b]) for b in range(x.shape[1])]
                        ref_i = {k: {n: np.stack([pp[k][n] for pp in per], axis=1) for n in per[0][k]}
                                 for k in ("spikes", "v", "syn")}
                        note = " (batch>1 fails: Flatten(0) eats the batch; run per sample)"
                    m, tot, dv, dsyn = compare(ref_i, sims["nir_naive"], nodes)
                    row["import_vs_nir"] = (m, dv, dsyn)
                    # imported network vs the original one (spikes only)
                    mi = sum(int(np.sum(ref["spikes"][k] != ref_i["spikes"].get(k.replace(".", "_"), ref_i["spikes"].get(k))))
                             for k in ref["spikes"] if (k.replace(".", "_") in ref_i["spikes"] or k in ref_i["spikes"]))
                    row["import"] = f"orig-vs-imported spike mismatches {mi}{note}"
                except Exception as e:  # noqa: BLE001
                    row["import"] = f"run failed: {type(e).__name__}: {str(e)[:90]}"
                    row["import_vs_nir"] = None
            rows.append(row)
    return rows


class _quiet:
    """Silence snnTorch's prints during import_from_nir."""
    def __enter__(self):
        self._stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")

    def __exit__(self, *a):
        sys.stdout.close()
        sys.stdout = self._stdout


def nir_read(path):
    import nir
    return nir.read(path)


def print_rows(rows):
    def f(t):
        if t is None:
            return "-"
        m, dv, dsyn = t
        return f"{m:>4d} {dv:8.1e}" + (f" syn{dsyn:7.1e}" if dsyn else "")
    print("\nspike mismatches / max|v diff| against snnTorch's forward of the ORIGINAL network (T x batch steps):")
    print("  emul      = simulate_nir_numpy(..., snntorch_emulation=<reset/reset_delay/class of the layer>) float32")
    print("  emul_f64  = same in float64;  emul_naive = same with a = 1 - dt/tau in float32 (snnTorch's import)")
    print("  nir       = pure NIR semantics (reset to v_reset at once), float32, exact-inverse beta")
    print("  import_vs_nir = snnTorch's forward of import_from_nir(graph) vs nir_naive (pure NIR, float32 naive a)")
    print("  emul_exp  = emulation with a = exp(-dt/tau) instead of 1 - dt/tau")
    print("  out       = mismatches of the network output (original net's returned spk vs emul's Output node)")
    print("  import    = snnTorch's forward of import_from_nir(graph) vs the original network, or why it failed")
    hdr = (f"{'variant':30s} {'input':8s} {'spk':>5s} | {'emul':>13s} | {'emul_f64':>13s} | {'emul_naive':>13s} | "
           f"{'emul_exp':>13s} | {'nir':>13s} | {'import_vs_nir':>13s} | out | import")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['variant']:30s} {r['input']:8s} {r['spikes']:5d} | {f(r['emul']):>13s} | {f(r['emul_f64']):>13s} | "
              f"{f(r['emul_naive']):>13s} | {f(r['emul_exp']):>13s} | {f(r['nir']):>13s} | {f(r['import_vs_nir']):>13s} | {r['out_mism']:>3d} | {r['import']}")


def probe_beta_roundtrip(n=200000, seed=0):
    """How often does the float32 beta survive snnTorch's export (tau = dt/(1-beta), float32)?"""
    rng = np.random.default_rng(seed)
    common = np.float32([0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999])
    beta = np.concatenate([common, rng.uniform(0, 1, n).astype(np.float32)])
    tau = _f32_export_tau(beta, SNNTORCH_DT)
    r = tau / np.float32(SNNTORCH_DT)
    out = {}
    for mode in ("float32_naive", "float64", "exact_inverse"):
        a = decay_from_tau(tau, SNNTORCH_DT, mode)
        out[mode] = (float(np.mean(a.astype(np.float32) == beta)), float(np.max(np.abs(a - beta.astype(np.float64)))),
                     float(np.mean(a[beta >= 0.5].astype(np.float32) == beta[beta >= 0.5])))
    a_exp = np.exp(-SNNTORCH_DT / tau.astype(np.float64))
    out["exp(-dt/tau)"] = (float(np.mean(a_exp.astype(np.float32) == beta)), float(np.max(np.abs(a_exp - beta))), None)
    c = r.astype(np.float64) * SNNTORCH_DT / tau.astype(np.float64)
    naive_common = decay_from_tau(tau[:len(common)], SNNTORCH_DT, "float32_naive").astype(np.float32)
    return out, float(np.max(np.abs(c - 1))), dict(zip(common.tolist(), (naive_common == common).tolist()))


def probe_tie():
    """v == threshold exactly: snnTorch does not fire (Heaviside(mem - thr) is (x > 0)); nor does the
    simulator (v > v_threshold). One neuron, weight 1, beta 0.5, threshold 1, input 1.0 every step:
    v = 1.0 (tie, no spike), 1.5 (spike), ..."""
    import torch
    import snntorch as snn
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), snn.Leaky(beta=torch.full((1,), 0.5), threshold=torch.ones(1),
                                                               init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    g = export_roundtrip(net, torch.zeros(1, 1), os.path.join(tempfile.mkdtemp(prefix="nirprobe_"), "tie.nir"))
    x = np.ones((6, 1, 1), np.float32)
    ref = run_torch_stepwise(net, x)
    sim = simulate_nir_numpy(g, x, snntorch_emulation={"1": {"reset": "subtract"}})
    return ref["v"]["1"].ravel().tolist(), ref["spikes"]["1"].ravel().tolist(), sim["spikes"]["1"].ravel().tolist()


def probe_rounding_ties(beta=0.9, max_n=12, ulps=4):
    """Inputs engineered so that v crosses the threshold within rounding: one neuron, weight 1, constant
    input x near 1/sum_{k<n} beta^k (the value at which v reaches 1.0 exactly at step n), each x one
    batch entry. Returns (cells, spikes, mismatches float32 numpy, mismatches float64 numpy)."""
    import torch
    import snntorch as snn
    xs = []
    bsum = np.cumsum(np.float64(np.float32(beta)) ** np.arange(max_n))
    for n in range(1, max_n):
        x0 = np.float32(1.0 / bsum[n])
        for k in range(-ulps, ulps + 1):
            x = x0
            for _ in range(abs(k)):
                x = np.nextafter(x, np.float32(np.inf if k > 0 else -np.inf))
            xs.append(x)
    xs = np.asarray(xs, np.float32)
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), snn.Leaky(beta=torch.full((1,), beta), threshold=torch.ones(1),
                                                               init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(0.0)
    g = export_roundtrip(net, torch.zeros(1, 1), os.path.join(tempfile.mkdtemp(prefix="nirprobe_"), "ties.nir"))
    x_seq = np.broadcast_to(xs[None, :, None], (max_n + 2, xs.size, 1)).copy()
    ref = run_torch_stepwise(net, x_seq)["spikes"]["1"]
    out = [int(ref.size), int(ref.sum())]
    for dtype in (np.float32, np.float64):
        sim = simulate_nir_numpy(g, x_seq, dtype=dtype, snntorch_emulation={"1": {"reset": "subtract"}})["spikes"]["1"]
        out.append(int(np.sum(sim != ref)))
    return tuple(out)


def probe_stress(T=32, batch=256):
    """Many more steps, to see whether rounding (float32 vs float64, BLAS summation order, the
    1-ulp beta ambiguity, c = r dt / tau != 1) ever flips a spike."""
    import torch
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="nirprobe_")
    V = build_variants()
    rows = []
    for vname in ("leaky_subtract", "leaky_zero", "learn_beta_random_subtract", "synaptic_subtract", "conv_avgpool_zero"):
        net, in_shape, emul = V[vname]
        g = export_roundtrip(net, torch.zeros((1,) + in_shape), os.path.join(tmp, vname + ".nir"))
        nodes, _ = _flatten_graph(g)
        x = _inputs(in_shape, "random", T, batch, seed=zlib.crc32(vname.encode()))
        ref = run_torch_stepwise(net, x)
        row = {"variant": vname, "spikes": sum(int(v.sum()) for v in ref["spikes"].values()),
               "cells": sum(int(v.size) for v in ref["spikes"].values())}
        for key, kw in (("f32 exact", {}), ("f64 exact", {"dtype": np.float64}),
                        ("f32 naive", {"beta_mode": "float32_naive"}),
                        ("f64 brian-like", {"dtype": np.float64, "beta_mode": "float64", "gain_snap": 0}),
                        ("f32 nosnap", {"gain_snap": 0})):
            sim = simulate_nir_numpy(g, x, snntorch_emulation=emul, **kw)
            m, _, dv, _ = compare(ref, sim, nodes)
            ties = _near_ties(ref, sim, nodes, lambda n, idx: 1.0)
            row[key] = (m, dv, max((t[2] for t in ties), default=None))
        rows.append(row)
    return rows


def probe_handwritten_nodes():
    """What snntorch.import_from_nir makes of node types snnTorch never writes (nir.IF, nir.LI)."""
    import nir
    from snntorch.import_nir import import_from_nir
    lines = []
    W = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    for neuron in (nir.IF(r=np.ones(4, np.float32), v_threshold=np.ones(4, np.float32)),
                   nir.LI(tau=np.full(4, 1e-3, np.float32), r=np.full(4, 10, np.float32), v_leak=np.zeros(4, np.float32))):
        g = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "fc": nir.Linear(W), "n": neuron,
                                "output": nir.Output(np.array([4]))},
                         edges=[("input", "fc"), ("fc", "n"), ("n", "output")])
        try:
            with _quiet():
                m = import_from_nir(g)
            mod = dict(m.named_modules())["n"]
            lines.append(f"nir.{type(neuron).__name__} -> {type(mod).__name__}(beta={mod.beta.tolist()}, threshold="
                         f"{mod.threshold.tolist()}, reset_mechanism={mod._reset_mechanism!r}, reset_delay={mod.reset_delay})")
        except Exception as e:  # noqa: BLE001
            lines.append(f"nir.{type(neuron).__name__} -> import fails: {type(e).__name__}: {str(e)[:120]}")
    return lines


# ----------------------------------------------------------------------------------------------
# Norse
# ----------------------------------------------------------------------------------------------

def probe_norse(T=32, batch=4, tmp=None):
    """What Norse writes (to_nir) and how it reads (from_nir) a LIF; returns printable lines."""
    lines = []
    try:
        import logging
        import torch
        import nir
        import norse.torch as norse
    except Exception as e:  # noqa: BLE001
        return [f"norse not importable: {type(e).__name__}: {e}"]
    tmp = tmp or tempfile.mkdtemp(prefix="nirprobe_")
    logging.disable(logging.WARNING)  # from_nir logs a warning for r != 1
    try:
        # 1) Norse's own export and re-import of a LIFBoxCell (tau_mem = 10 ms, dt = 1 ms)
        torch.manual_seed(0)
        p = norse.LIFBoxParameters(tau_mem_inv=torch.full((16,), 100.0), v_th=torch.full((16,), 1.0),
                                   v_leak=torch.zeros(16), v_reset=torch.zeros(16))
        net = norse.SequentialState(torch.nn.Linear(20, 16), norse.LIFBoxCell(p))
        with torch.no_grad():
            net[0].weight.mul_(4.0)
        path = os.path.join(tmp, "norse_lif.nir")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # a batched sample puts the batch into the Input type and nir.read then fails type inference
            nir.write(path, norse.to_nir(net, torch.zeros(20)))
        g = nir.read(path)
        lines.append("norse.to_nir(Linear -> LIFBoxCell(tau_mem_inv=100/s, i.e. tau_mem = 10 ms)), default dt=1e-3, read back:")
        lines.extend(describe_graph(g, "    "))
        x = 3.0 * _inputs((20,), "random", T, batch, seed=11)
        z_orig = _run_norse(net, x)
        m = norse.from_nir(g)
        z_rt = _run_norse(m, x)
        tinv = [mod.p.tau_mem_inv.ravel()[0].item() for _, mod in m.named_modules() if type(mod).__name__ == "LIFBoxCell"]
        z_np = _simulate_norse_reading(g, x, NORSE_DT)["1"]
        lines.append(f"Norse net: {int(z_orig.sum())} spikes; norse.from_nir(norse.to_nir(net)): {int(z_rt.sum())} spikes, "
                     f"{int(np.sum(z_orig != z_rt))} mismatches (re-imported tau_mem_inv = {tinv[0]:.6g}/s, not 100/s); "
                     f"numpy 'Norse reading' of the file vs the re-imported net: {int(np.sum(z_np != z_rt))} mismatches")
        # the file reproduces the Norse net once its tau is read as dt * tau_mem (i.e. tau_mem = tau / dt)
        g_fix = nir.read(path)
        g_fix.nodes["1"].tau = (np.asarray(g_fix.nodes["1"].tau, np.float64) / NORSE_DT).astype(np.float32)
        z_fix = _simulate_norse_reading(g_fix, x, NORSE_DT)["1"]
        lines.append(f"numpy 'Norse reading' with tau replaced by tau/dt (= 10 ms) vs the original Norse net: "
                     f"{int(np.sum(z_fix != z_orig))} mismatches")
        # 2) Norse reading a graph written by snnTorch
        import torch as _t
        net_s, in_shape, _ = build_variants()["leaky_zero"]
        path = os.path.join(tmp, "snntorch_for_norse.nir")
        g = export_roundtrip(net_s, _t.zeros((1,) + in_shape), path)
        x = 5.0 * _inputs(in_shape, "random", T, batch, seed=7)
        ours = simulate_nir_numpy(g, x)["spikes"]  # the snnTorch-consistent reading (dt = 1e-4, r used)
        for dt in (NORSE_DT, SNNTORCH_DT):
            m = norse.from_nir(nir.read(path), dt=dt)
            zs = _run_norse(m, x, record=("1", "3"))
            nl = _simulate_norse_reading(g, x, dt)
            lines.append(
                f"norse.from_nir(snnTorch graph, dt={dt:g}), input x5: Norse spikes {sum(int(v.sum()) for v in zs.values())} "
                f"vs {sum(int(v.sum()) for v in ours.values())} in the snnTorch-consistent reading "
                f"({sum(int(np.sum(zs[k] != ours[k])) for k in zs)} mismatches); numpy 'Norse reading' (c = dt/tau, r ignored) "
                f"vs Norse: {sum(int(np.sum(zs[k] != nl[k])) for k in zs)} mismatches")
    except Exception as e:  # noqa: BLE001
        import traceback
        lines.append(f"norse probe failed: {type(e).__name__}: {str(e)[:300]}")
        lines.append(traceback.format_exc(limit=-2))
    finally:
        logging.disable(logging.NOTSET)
    return lines


def _run_norse(module, x, record=None):
    """Step a Norse (or nirtorch GraphExecutor) module: out, state = module(x_t, state). With record,
    the spikes of the LIFBoxCells of those names, else the module output."""
    import torch
    rec = defaultdict(list)
    hooks = []
    if record:
        for name, mod in module.named_modules():
            if name in record and type(mod).__name__ == "LIFBoxCell":
                hooks.append(mod.register_forward_hook(
                    lambda mod, i, o, name=name: rec[name].append(o[0].detach().double().numpy().copy())))
    outs, state = [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            out, state = module(torch.as_tensor(x[t]), state)
            outs.append(out.detach().double().numpy().copy())
    for h in hooks:
        h.remove()
    if record:
        return {k: np.stack(v) for k, v in rec.items()}
    return np.stack(outs)


def _simulate_norse_reading(graph, x_seq, dt):
    """Norse's LIFBoxCell on a NIR LIF: tau_mem_inv = 1/tau (float32), r ignored, reset to v_reset
    (reset_value), v_new = v + dt*tau_mem_inv*((I + v_leak) - v), z = v_new > v_th (float32)."""
    import nir
    nodes, edges = _flatten_graph(graph)
    order, _ = _schedule(nodes, edges)
    f = np.float32
    v, out, cur = {}, defaultdict(list), {}
    for t in range(x_seq.shape[0]):
        for n in order:
            nd = nodes[n]
            if isinstance(nd, nir.Input):
                cur[n] = np.asarray(x_seq[t], f)
                continue
            x = cur[[s for s, d in edges if d == n][0]]
            if isinstance(nd, nir.LIF):
                tinv = (f(1) / np.asarray(nd.tau, f)).astype(f)
                vv = v.get(n, np.zeros_like(x))
                dv = f(dt) * tinv * ((x + np.asarray(nd.v_leak, f)) - vv)
                vn = vv + dv
                z = (vn - np.asarray(nd.v_threshold, f) > 0).astype(f)
                v[n] = (f(1) - z) * vn + z * np.asarray(nd.v_reset, f)
                out[n].append(z)
                cur[n] = z
            else:
                cur[n] = _stateless(nd, x, f)
    return {k: np.stack(vs) for k, vs in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--show-graphs", action="store_true")
    ap.add_argument("--no-norse", action="store_true")
    ap.add_argument("--stress", type=int, default=256, metavar="BATCH",
                    help="batch size of the rounding stress test (0 skips it)")
    args = ap.parse_args(argv)
    import nir
    import snntorch
    import torch
    print(f"versions: snntorch {snntorch.__version__}, nir {getattr(nir, '__version__', '?')}, torch {torch.__version__}, "
          f"numpy {np.__version__}")
    rt, cmax, common = probe_beta_roundtrip()
    print("\nbeta -> tau (snnTorch export, float32) -> a: fraction recovering beta exactly, max|a-beta|, fraction for beta>=0.5")
    for k, v in rt.items():
        print(f"  {k:15s} {v}")
    print(f"  max |r*dt/tau - 1| = {cmax:.3g};  naive float32 recovers these common betas exactly: {common}")
    rows = probe_snntorch(args.T, args.batch, args.show_graphs)
    print_rows(rows)
    v, s_ref, s_sim = probe_tie()
    print(f"\ntie probe (v == threshold): snnTorch mem {v}\n  snnTorch spikes {s_ref}\n  numpy    spikes {s_sim}")
    cells, spk, m32, m64 = probe_rounding_ties()
    print(f"\nrounding ties (inputs engineered to land v within a few ulps of the threshold): {cells} cells, {spk} spikes; "
          f"mismatches vs snnTorch: numpy float32 {m32}, numpy float64 {m64}")
    print("\nsnnTorch's import of node types it never writes:")
    for line in probe_handwritten_nodes():
        print("  " + line)
    if args.stress:
        print(f"\nstress: random input, T={args.T}, batch={args.stress}; emulation of the original layers; "
              "(mismatches, max|v diff|, |v-thr| at first mismatch):")
        for r in probe_stress(args.T, args.stress):
            print(f"  {r['variant']:28s} spikes {r['spikes']:6d}/{r['cells']:7d}  " +
                  "  ".join(f"{k}: {r[k][0]} {r[k][1]:.1e}" + (f" tie {r[k][2]:.1e}" if r[k][2] is not None else "")
                            for k in ("f32 exact", "f64 exact", "f32 naive", "f64 brian-like", "f32 nosnap")))
    if not args.no_norse:
        print("\nNorse:")
        for line in probe_norse(args.T, args.batch):
            print("  " + line)


if __name__ == "__main__":
    main()
