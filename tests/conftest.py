import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_report_header(config):
    import brian2

    import neuroconv

    return f"neuroconv {neuroconv.__version__} from {os.path.dirname(neuroconv.__file__)}; brian2 {brian2.__version__}"


@pytest.fixture(scope="session")
def digits():
    from neuroconv.experiments.demo import load_digits_split

    return load_digits_split()


@pytest.fixture(scope="session")
def demo_net():
    from neuroconv.experiments.demo import shipped_digits_mlp

    return shipped_digits_mlp()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
