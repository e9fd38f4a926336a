"""The results table of a sweep: one plain CSV row per cell, appended as cells finish."""

from __future__ import annotations

import csv
import os

from neuroconv.errors import NeuroconvError

__all__ = ["CELL_COLUMNS", "RESULT_COLUMNS", "COLUMNS", "DONE", "SILENT_SPIKES", "read_table", "write_rows"]

#: The parameters that make a cell (in the table's first columns).
CELL_COLUMNS = ["cell_id", "model", "dataset", "neuron", "timesteps", "calibration", "device", "seed", "images",
                "calibration_images", "batch_size"]
#: What a cell measured, and where and with what it ran.
RESULT_COLUMNS = ["status", "error", "warning", "accuracy", "ann_accuracy", "agreement_with_ann", "spikes_per_image",
                  "latency_steps", "synapses_per_image", "load_s", "convert_s", "run_s", "build_s", "cell_s",
                  "worker", "host", "neuroconv", "brian2", "numpy", "python", "finished"]
COLUMNS = CELL_COLUMNS + RESULT_COLUMNS
#: Statuses of cells that ran to the end (not run again): ``ok``, and ``silent`` for a network whose hidden
#: populations fire fewer than :data:`SILENT_SPIKES` spikes per image in all (it ran, but carries almost
#: nothing from its input: a window too short for the data's range, thresholds far too high).
DONE = ("ok", "silent")
SILENT_SPIKES = 1.0


def read_table(path) -> list:
    """The rows of a results table (empty if it does not exist); refuses a file that is not one."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NeuroconvError(f"cannot read the results table {path!r}: {exc}") from None
    if header and not {"cell_id", "status"} <= set(header):
        raise NeuroconvError(f"{path!r} exists and is not a neuroconv sweep table (no cell_id/status columns); "
                             "refusing to overwrite it. Choose another output.")
    return rows


def write_rows(path, rows, mode):
    """Write ``rows`` to the table at ``path`` (``mode`` ``"w"``: replace it, ``"a"``: append), with the
    header when the file is new or empty; flushed to disk before returning."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = mode == "w" or not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, mode, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
        fh.flush()
        os.fsync(fh.fileno())


#: The name tests and 0.1.0 callers import (``from neuroconv.sweep import _write_rows``).
_write_rows = write_rows
