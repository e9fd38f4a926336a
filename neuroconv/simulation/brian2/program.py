"""A compiled C++ standalone project kept ready in this process: run its binary on new images without
generating the project again (the per-call cost of a cached network is the binary's own run).

The first call for a network (its structure and parameters, copies per round, most rounds per binary
run, what is recorded, seed, threads) generates the project through Brian2, compiles it or takes the
binary from :mod:`neuroconv.simulation.brian2.build_cache`, and notes which files hold what: the
command-line names of the inputs (the round images or the input group's values, the stochastic
groups' ``image_base``) and the result files of every monitor :func:`read_results` reads. Every
later call writes the input file, runs ``./main`` and reads those files, with no Brian2 objects.

The number of rounds is a run-time input: the generated ``main.cpp`` is patched to take the run's
length from ``--neuroconv_duration`` (compiled length otherwise), so one binary runs 1 to ``rounds``
rounds, and so any number of images, without another compile. The round images' ``TimedArray``
keeps its compiled size; rounds past the ones run are zeros. What is recorded is a run-time input
too: every hidden layer has a monitor of its trains (``<layer>_trains``, the round's spikes as bits), and
``--neuroconv_record`` says which of them run.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["Program", "fingerprint", "patch_duration", "remember", "recall", "forget_all"]

#: Programs kept per process (their project folders live until evicted or the process ends).
MAX_PROGRAMS = 4
#: The command-line flag the patched ``main.cpp`` reads the run's length from.
DURATION_FLAG = "--neuroconv_duration"
#: The command-line flag that says which gated spike monitors run (``1``/``0`` per monitor, in order).
RECORD_FLAG = "--neuroconv_record"

_RUN_CALL = re.compile(r"(\bneuroconv_network\.run\()([^,]+)(,)")
_START = "\tbrian_start();"


def patch_duration(directory, gated=()) -> None:
    """Make the generated ``main.cpp`` take the run's length from ``--neuroconv_duration SECONDS`` and, for the
    monitors named in ``gated`` (in order), whether each runs from ``--neuroconv_record`` ``0``/``1`` per monitor
    (both given right after ``--results_dir DIR``, in any order). Without the flags it runs the compiled length
    and every monitor. A monitor that does not run costs nothing per step and records nothing."""
    path = os.path.join(os.fspath(directory), "main.cpp")
    with open(path) as fh:
        source = fh.read()
    adds = [re.findall(rf"neuroconv_network\.add\(&\w+, _run_{re.escape(name)}_codeobject\);", source)
            for name in gated]  # on the main or the round clock
    if len(_RUN_CALL.findall(source)) != 1 or source.count(_START) != 1 or any(len(a) != 1 for a in adds):
        raise NeuroconvError("this Brian2 version's main.cpp has an unexpected layout (one neuroconv_network.run call, "
                             "one brian_start and one network.add per monitor expected); please report the Brian2 "
                             "version.")
    reader = ("\tdouble neuroconv_duration = -1.0;\n\tstd::string neuroconv_record = \"\";\n"
              f"\twhile (args.size() >= 2 && (args[0] == \"{DURATION_FLAG}\" || args[0] == \"{RECORD_FLAG}\"))\n"
              f"\t{{\n\t\tif (args[0] == \"{DURATION_FLAG}\") neuroconv_duration = atof(args[1].c_str());\n"
              "\t\telse neuroconv_record = args[1];\n"
              "\t\targs.erase(args.begin(), args.begin()+2);\n\t}\n")
    source = source.replace(_START, reader + _START)
    source = _RUN_CALL.sub(lambda m: f"{m.group(1)}(neuroconv_duration >= 0 ? neuroconv_duration : {m.group(2)})"
                                     f"{m.group(3)}", source)
    for i, (add,) in enumerate(adds):
        source = source.replace(add, f"if (neuroconv_record.size() <= {i} || neuroconv_record[{i}] == '1') {add}")
    with open(path, "w") as fh:
        fh.write(source)


def fingerprint(snn) -> str:
    """A digest of everything in ``snn`` that a standalone project's code or data files hold."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((snn.neuron, snn.timesteps, float(snn.dt), snn.readout, repr(snn.delays),
                   tuple(snn.ann.input_shape))).encode())
    for k, layer in enumerate(snn.layers):
        h.update(repr((layer.name, layer.kind, layer.size, tuple(layer.sources), snn.model_of(k))).encode())
        matrices, bias = layer.pathways
        arrays = [bias, layer.theta, layer.v_init]
        for m in matrices:
            m = m.tocsr()
            arrays += [np.asarray(m.shape), m.indptr, m.indices, m.data]
        for a in arrays:
            h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@dataclass
class Program:
    """A built standalone project (see the module docstring)."""

    directory: str
    n_copies: int
    rounds: int
    #: ``name=`` of the input on the command line, and the shape of the array it reads.
    input_name: str
    input_shape: tuple
    image_base_names: tuple
    #: ``(object, attribute) -> (file name under results/, dtype, columns of a 2-D record or 0)``.
    arrays: dict
    dt: float
    run_steps: int
    own_directory: bool = True
    environment: dict = field(default_factory=dict)
    build_time: float = 0.0
    #: Wall seconds of the last binary run (``./main`` alone), for overhead measurements.
    last_binary_seconds: float = 0.0
    #: Hidden layers whose spike monitors the binary runs only when asked (``RECORD_FLAG``), in flag order.
    gated: tuple = ()

    def run(self, x, image_start: int, rounds: int, record=True):
        """Run the binary on ``x`` (at most ``n_copies * rounds`` flattened images), recording the trains of the
        gated layers ``record`` names (True: all, False: none, or a tuple of hidden layer indices); return a
        view of its result files for :func:`neuroconv.simulation.brian2.run.read_results`."""
        from neuroconv.simulation.recording import records

        values = np.zeros(self.input_shape)
        flat = values.reshape(self.rounds if len(self.input_shape) == 2 else 1, -1)
        padded = np.zeros((rounds * self.n_copies, x.shape[1]))
        padded[:len(x)] = x
        flat[:rounds] = padded.reshape(rounds, -1)
        path = os.path.join(self.directory, "static_arrays", "neuroconv_input.dat")
        values.tofile(path)
        args = ["./main", "--results_dir", os.path.join(self.directory, "results", "")]
        if len(self.input_shape) == 2:  # time-multiplexed: this run's rounds and one step to record the last
            args += [DURATION_FLAG, repr((self.run_steps * rounds + 1) * self.dt)]
        if self.gated:
            args += [RECORD_FLAG, "".join("1" if records(record, k) else "0" for k in self.gated)]
        args.append(f"{self.input_name}={os.path.join('static_arrays', 'neuroconv_input.dat')}")
        args += [f"{name}={int(image_start)}" for name in self.image_base_names]
        t0 = time.perf_counter()
        proc = subprocess.run(args, cwd=self.directory, env={**os.environ, **self.environment},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.last_binary_seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"the standalone binary in {self.directory} failed (exit status {proc.returncode}):\n"
                               + proc.stdout.decode(errors="replace")[-2000:])
        return _ResultFiles(self)

    def close(self):
        if self.own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


class _ResultFiles:
    """``files[name].attribute[:]`` as Brian2's ``net[name].attribute[:]`` gives it after a standalone run."""

    def __init__(self, program):
        self._program = program

    def __getitem__(self, name):
        return _ResultObject(self._program, name)


class _ResultObject:
    def __init__(self, program, name):
        self._program, self._name = program, name

    def __getattr__(self, attribute):
        key = (self._name, attribute.rstrip("_"))  # ``t_``: seconds without units, as stored
        if key not in self._program.arrays:
            raise AttributeError(f"{self._name}.{attribute} was not recorded by this program")
        filename, dtype, columns = self._program.arrays[key]
        data = np.fromfile(os.path.join(self._program.directory, "results", filename), dtype=dtype)
        if columns:  # a StateMonitor's record: stored (times, neurons), read as (neurons, times)
            data = data.reshape(-1, columns).T
        return data


_PROGRAMS: "OrderedDict[tuple, Program]" = OrderedDict()


def recall(key):
    """The program built for ``key`` in this process, if its binary is still there."""
    program = _PROGRAMS.get(key)
    if program is not None and not os.path.exists(os.path.join(program.directory, "main")):
        del _PROGRAMS[key]
        return None
    if program is not None:
        _PROGRAMS.move_to_end(key)
    return program


def remember(key, program) -> None:
    _PROGRAMS[key] = program
    _PROGRAMS.move_to_end(key)
    while len(_PROGRAMS) > MAX_PROGRAMS:
        _, old = _PROGRAMS.popitem(last=False)
        old.close()


@atexit.register
def forget_all() -> None:
    """Remove every program's project folder that this process made."""
    while _PROGRAMS:
        _, program = _PROGRAMS.popitem()
        program.close()
