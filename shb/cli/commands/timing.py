"""How `shb bench` times: medians over repeats, interleaved, in a spawned process with one BLAS thread."""
import multiprocessing
import time

from shb.ground.blas import single_thread_environment


def median_ms(fn, steps, repeats):
    """Median over `repeats` of the mean wall time (ms) of `steps` calls of fn (after one warm-up call)."""
    return medians_ms({"fn": fn}, steps, repeats)["fn"]


def medians_ms(fns, steps, repeats, clock=time.perf_counter):
    """{name: median ms} for the functions in `fns` ({name: fn}): the median over `repeats` of the mean time of
    `steps` calls (after one warm-up call each), their repeats interleaved (one repeat of each in turn), so that a
    slow spell of a busy machine falls on all of them alike and their ratios stay fair. `clock`: wall time by
    default; time.process_time for the CPU time of this (one-thread) process, which a loaded machine inflates less."""
    import numpy as np

    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            for _ in range(steps):
                fn()
            times[name].append((clock() - start) / steps * 1e3)
    return {name: float(np.median(t)) for name, t in times.items()}


def in_single_thread_process(fn, arguments):
    """[fn(*args) for args in arguments], computed one after another in one spawned process with one BLAS thread:
    measured as the experiments' workers run (shb/ground/blas.py)."""
    with single_thread_environment():
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.starmap(fn, arguments)
