"""Every loader against hostile files (tests/untrusted.py): nothing executes, nothing is written outside
the target folder, and the file is refused with a NeuroconvError (not a traceback or a MemoryError)."""

import os

import pytest

import untrusted

CASES = [(group, maker) for group, makers in untrusted.MAKERS.items() for maker in makers]
NEEDS = {"onnx": "onnx", "nir": "nir", "torch": "torch"}


@pytest.mark.parametrize("group,maker", CASES, ids=[m.__name__ for _, m in CASES])
def test_hostile_file(group, maker, tmp_path):
    if group in NEEDS:
        pytest.importorskip(NEEDS[group])
    folder = tmp_path / "target"
    folder.mkdir()
    outcome, detail = untrusted.attack(maker, str(folder))
    assert outcome in untrusted.SAFE, f"{maker.__name__}: {outcome}: {detail}"
    assert not os.path.exists(folder / "PWNED")


def test_attack_detects_execution_and_escape(tmp_path):
    """The harness itself: a loader that runs the payload or writes outside is caught."""
    import pickle

    def runs_pickle(d):
        path = os.path.join(d, "x.pkl")
        with open(path, "wb") as fh:
            pickle.dump(untrusted._Payload(os.path.join(d, "PWNED")), fh)

        def load():
            with open(path, "rb") as fh:
                pickle.load(fh)  # what neuroconv must never do
        return load, "unpickles"

    def escapes(d):
        return lambda: open(os.path.join(os.path.dirname(d), "escaped"), "w").close(), "writes to the parent"

    for maker, expected in ((runs_pickle, "executed"), (escapes, "wrote outside")):
        folder = tmp_path / maker.__name__ / "target"
        folder.mkdir(parents=True)
        assert untrusted.attack(maker, str(folder))[0] == expected
