"""Process-pool worker start-up: one core per worker, one thread per numeric library.

A spawn worker may import numpy before its initializer runs (the parent's main module is
re-imported), and OpenBLAS, XLA and OpenMP size their thread pools from the cores they
see. Two threads on the one core a worker owns thrash: a 1000 x 1000 SVD took 5 s
instead of 0.4 s. So the initializer pins the process, limits the libraries already
loaded (threadpoolctl) and, through the environment, those loaded later.
"""

import contextlib
import os

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_to_core(cores) -> None:
    """Takes one core id from the `cores` queue and restricts this process to it."""
    core = cores.get()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def one_thread() -> contextlib.AbstractContextManager:
    """Context in which BLAS, LAPACK and OpenMP run one thread each, as in a pooled or dask
    worker. The in-process executor computes its cells in it: a LAPACK solve's last bits
    depend on its thread count (the RMSE claim's kernel rows moved by 1e-10 relative), so
    the same threading everywhere is what makes a cell's results independent of where it
    ran. JAX's own CPU programs are unaffected (the kernels and networks sum in a fixed
    order), and so is an accelerator."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)
