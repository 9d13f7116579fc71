"""One BLAS thread for a benchmark: for the whole process, or inside a block (see
``one_thread`` for why). The benchmarks and the engine-vs-PyTorch tests use:

* ``one_blas_thread()``, first thing in a benchmark's ``__main__``: sets the environment
  variables BLAS libraries read when they load (and starts the command afresh if numpy or
  torch is loaded already);
* ``one_thread()``: a block with one OpenBLAS and one torch thread, restored after;
* ``openblas_info()``: numpy's OpenBLAS core and threads as it runs (printed with results).

Imports nothing heavy, so a benchmark can call ``one_blas_thread()`` before numpy loads.
"""
import contextlib
import ctypes
import os
import sys

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread():
    """One BLAS thread for numpy and torch in this process: must be set before either loads."""
    if any(os.environ.get(v) != "1" for v in THREAD_VARS):
        os.environ.update({v: "1" for v in THREAD_VARS})
        if "numpy" in sys.modules or "torch" in sys.modules:  # too late here: start afresh
            os.execv(sys.executable, sys.orig_argv)


def _openblas():
    """``(library, symbol_suffix)`` for the OpenBLAS numpy has loaded, or None (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({ln.split()[-1] for ln in maps if "openblas" in ln.lower()})
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
                if hasattr(lib, f"{prefix}get_num_threads{suffix}"):
                    return lib, prefix, suffix
    except OSError:
        pass
    return None


def openblas_info():
    """``{"core": ..., "threads": ...}`` of numpy's OpenBLAS as it runs (None where unknown)."""
    found = _openblas()
    if not found:
        return {"core": None, "threads": None}
    lib, prefix, suffix = found
    corename = getattr(lib, f"{prefix}get_corename{suffix}")
    corename.restype = ctypes.c_char_p
    return {"core": corename().decode(), "threads": getattr(lib, f"{prefix}get_num_threads{suffix}")()}


@contextlib.contextmanager
def one_thread():
    """Run numpy's OpenBLAS and torch on one thread each inside the block, then restore.

    Multi-threaded BLAS on these small products gains little, and on a machine whose cores
    are busy with other jobs its spinning threads make it far slower: 40 MLP steps took
    9.8 s with 2 OpenBLAS threads and 0.43 s with one, at a load average of 13 on 2 cores.
    """
    import torch
    found = _openblas()
    if found:
        lib, prefix, suffix = found
        get_n = getattr(lib, f"{prefix}get_num_threads{suffix}")
        set_n = getattr(lib, f"{prefix}set_num_threads{suffix}")
        blas_before = get_n()
        set_n(1)
    torch_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        if found:
            set_n(blas_before)
