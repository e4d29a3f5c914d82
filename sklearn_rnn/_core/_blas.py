"""The BLAS library NumPy calls, as threadpoolctl sees it."""

from functools import cache

import numpy as np  # noqa: F401  (loaded first, so that its BLAS is found)
from threadpoolctl import ThreadpoolController


@cache
def blas():
    """threadpoolctl's controller of the BLAS libraries loaded (made once)."""
    return ThreadpoolController().select(user_api="blas")


def blas_threads():
    """The number of threads the BLAS would use for a product now (about 1 us)."""
    return max((lib.num_threads for lib in blas().lib_controllers), default=1)
