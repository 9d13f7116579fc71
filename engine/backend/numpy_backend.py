"""The backend that is always there: numpy's matmul (contract.Backend, no extras)."""
import numpy as np


class NumpyBackend:
    name = "numpy"

    def accepts(self, m, k, n):
        return True

    def matmul(self, a, b, ta=False, tb=False):
        # swapaxes is a view, so the transposed forms cost no copy
        return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
