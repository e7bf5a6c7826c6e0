"""One BLAS thread per process: the configuration the experiments' worker processes run in.

BLAS libraries read their thread count once, when they are loaded, so the setting only reaches
processes started while it is in place (Dask's nanny and the online runs' spawned pool do this).
On a busy 2-core machine a multi-threaded BLAS makes the MLP's small matrix products slower.
"""
import contextlib
import os

VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_thread_environment():
    """os.environ with every BLAS thread count set to 1 for processes started inside; restored on exit."""
    saved = {k: os.environ.get(k) for k in VARIABLES}
    os.environ.update({k: "1" for k in VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
