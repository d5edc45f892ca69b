"""Process-pool worker start-up: one core per worker, one thread per numeric library, and
compiled programs kept on disk.

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


def start(cores, programs: str | None) -> None:
    """A pool worker's initializer: `pin_to_core`, then `keep_programs(programs)` if given."""
    pin_to_core(cores)
    if programs:
        keep_programs(programs)


def keep_programs(folder: str) -> None:
    """Has JAX keep every program it compiles in `folder` and load it from there when this or
    another process compiles the same one again (the same computation, shapes, compiler
    options and jaxlib). Each worker compiled every program itself, and compiling was most
    of a cell's time in a worker's first cell of each shape (MNIST-1D's 1-D Myrtle-5: 110 s
    against 28 s). A loaded program is the same machine code, so it gives the same numbers."""
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def one_thread() -> contextlib.AbstractContextManager:
    """Context in which BLAS, LAPACK and OpenMP run one thread each, as in a pooled or dask
    worker. The in-process executor computes its cells in it: a LAPACK solve's last bits
    depend on its thread count (the RMSE claim's kernel rows moved by 1e-10 relative), so
    the same threading everywhere is what makes a cell's results independent of where it
    ran. JAX's own CPU programs are unaffected (the kernels and networks sum in a fixed
    order), and so is an accelerator."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)
