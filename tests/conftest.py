import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    """Tests that forget a random_state still run the same way every time."""
    np.random.seed(0)  # noqa: NPY002 (the legacy global state is what we pin)
