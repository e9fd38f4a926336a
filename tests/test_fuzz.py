"""Property-based fuzzing of the public API with invalid input (the catalogue is tests/fuzz.py).

Every case must be refused with a NeuroconvError (a ValueError) whose message names the bad
parameter: never a numpy/Brian2 traceback, a MemoryError, a hang or a silent answer. The
default run draws a fast slice per category; ``-m slow`` draws many more.
"""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings

import fuzz

FAST, SLOW = 25, 400


def check(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, message = fuzz.outcome(case)
    assert result == "refused", f"{case.category}: {case.description}: {result}: {message}"


def category_test(category, examples):
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=fuzz.invalid_calls([category]))
    def test(case):
        check(case)

    return test


for _category in fuzz.CATEGORIES:
    globals()[f"test_invalid_{_category}"] = category_test(_category, FAST)
    globals()[f"test_invalid_{_category}_many"] = pytest.mark.slow(category_test(_category, SLOW))


def test_outcome_classifies_every_failure_kind():
    """The classifier itself: each failure kind is reported, not passed (so the tests above can fail)."""
    import neuroconv as nc

    def raise_(exc):
        raise exc

    def case(call, *names):
        return fuzz.Case("shape", "synthetic", call, names or ("x",))

    assert fuzz.outcome(case(lambda: raise_(nc.NeuroconvError("x is bad"))))[0] == "refused"
    assert fuzz.outcome(case(lambda: raise_(nc.NeuroconvError("something is bad")), "timesteps"))[0] \
        == "wrong_message"
    assert fuzz.outcome(case(lambda: raise_(IndexError("deep inside numpy"))))[0] == "crash"
    assert fuzz.outcome(case(lambda: raise_(MemoryError())))[0] == "crash"
    assert fuzz.outcome(case(lambda: None))[0] == "accepted"
