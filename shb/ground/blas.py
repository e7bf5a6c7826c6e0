"""One BLAS thread per process: the configuration the experiments' worker processes run in.

BLAS libraries read their thread count from the environment once, when they are loaded, so
`single_thread_environment` only reaches processes started while it is in place (Dask's nanny and
`shb bench` do this). Work that runs in this process instead (no Dask) limits the loaded BLAS at run
time with threadpoolctl (`single_blas_thread`). On a busy 2-core machine a multi-threaded BLAS makes
the MLP's small matrix products slower: one MLP gradient took 23.7 ms instead of 1.4 ms.
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


@contextlib.contextmanager
def single_blas_thread():
    """This process's BLAS limited to one thread inside the block (threadpoolctl), as a worker process runs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
