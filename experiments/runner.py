"""Units of work, run anywhere and resumed: the one runner of the experiments that train networks.

An experiment describes its work as an object with

    ready()              the units whose inputs are ready and whose results are missing, most urgent first
    record(key, result)  store a finished unit's result and save the progress atomically
    total, done          how many units there are in all, and how many have finished (for the progress bar)
    location             where the progress is saved (said when a run is interrupted)

and optionally

    cost_left()          the work left, in the units of Unit.cost (else: total - done units), for the time left
    record_time(key, cpu, wall)  the CPU (thread) and wall seconds the unit took where it ran

A unit is (key, fn, args, urgent, cost): fn(*args) is a pure function of its arguments (its seeds among them), so
where and in which order units run does not change a number, and an interrupted run resumes from its saved progress
with the same results as an uninterrupted one; cost is its share of the work, for the time left. `run_units` runs
ready units until none is left: on a Dask cluster (`client`: a local cluster of worker processes, or the scheduler
at --scheduler ADDRESS) or, without a client, here one at a time with one BLAS thread, as a worker runs. Urgent
units (on a sequential chain, the critical path) are always in flight; the others fill the worker threads that
are free, so chain steps never queue behind them.
Progress shows with the time left (shb.ground.progress): the work left at the pace of the work done in this
session, units weighed by their cost where the work gives cost_left(). Ctrl-C or SIGTERM (which the front end
turns into a KeyboardInterrupt) cancels what is in flight and raises Interrupted, naming where the progress is
saved: every finished unit is in it.

`load_progress` is the one contract for saved progress: the state saved with this configuration from these inputs
(the data set's fingerprint), a fresh one when none is saved, a ProgressError in one line when the file was made
with another configuration or from other data, cannot be read, or is wrong inside (its schema).
"""
import contextlib
import logging
import os
import signal
import time
from collections import namedtuple

from shb.ground import fingerprint, schema
from shb.ground.blas import single_blas_thread
from shb.ground.errors import InputError, Interrupted, ProgressError
from shb.ground.limits import check_workers
from shb.ground.progress import Progress

Unit = namedtuple("Unit", ["key", "fn", "args", "urgent", "cost"], defaults=[False, 1.0])


def run_units(work, client=None, stop_after=None, desc="units"):
    """Run `work`'s ready units until none is left (True) or `stop_after` units finished in this call (False)."""
    in_flight = {}
    try:
        with Progress(work.total, desc, done=work.done) as bar:
            if client is None:
                bar.say(f"{desc}: running in this process, one unit at a time (no Dask cluster)")
                with single_blas_thread():
                    return _run(work, client, stop_after, in_flight, bar)
            return _run(work, client, stop_after, in_flight, bar)
    except KeyboardInterrupt as err:
        for future in in_flight.values():
            future.cancel()
        raise Interrupted(f"interrupted; progress saved in {work.location}",
                          getattr(err, "status", Interrupted.status)) from None


def _run(work, client, stop_after, in_flight, bar):
    finished, costs = 0, {}
    while True:
        units = [u for u in work.ready() if u.key not in in_flight]
        costs.update((u.key, u.cost) for u in units)
        if client is None:
            if not units:
                return True
            unit = units[0]
            done = [(unit.key, timed(unit.fn, *unit.args))]
        else:
            capacity = sum(client.nthreads().values())
            for unit in units:
                if unit.urgent or len(in_flight) < capacity:
                    in_flight[unit.key] = client.submit(timed, unit.fn, *unit.args, pure=False,
                                                        priority=10 if unit.urgent else 0)
            if not in_flight:
                return True
            done = _wait_first(in_flight)
        for key, (result, cpu, wall) in done:
            work.record(key, result)
            if hasattr(work, "record_time"):
                work.record_time(key, cpu, wall)
            if hasattr(work, "cost_left"):
                bar.advance(cost=costs.pop(key, 1.0), cost_left=work.cost_left(), total=work.total)
            else:
                bar.advance()
            finished += 1
            if stop_after is not None and finished >= stop_after:
                for future in in_flight.values():
                    future.cancel()
                return False


def timed(fn, *args):
    """(fn(*args), CPU seconds of this thread, wall seconds): how a unit runs, here or on a worker."""
    cpu, wall = time.thread_time(), time.perf_counter()
    result = fn(*args)
    return result, time.thread_time() - cpu, time.perf_counter() - wall


def _wait_first(in_flight):
    """Pop and return [(key, result)] of the futures that finished first (polling: Ctrl-C stays live)."""
    while not any(future.done() for future in in_flight.values()):
        time.sleep(0.05)
    keys = [key for key, future in in_flight.items() if future.done()]
    return [(key, in_flight.pop(key).result()) for key in keys]


@contextlib.contextmanager
def dask_client(scheduler=None, workers=0, required=False):
    """A Dask client of the cluster at `scheduler`, or of a new local cluster of `workers` processes (one thread
    each); None (run in this process) when workers <= 1 and no scheduler is given, or when Dask is not installed
    and not `required`. The cluster is closed on exit.

    Dask's nanny starts workers with one BLAS thread (OPENBLAS_NUM_THREADS=1 and friends), one process per core.
    """
    if not scheduler:
        check_workers(workers, "workers")
    if not scheduler and workers <= 1:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        if required or scheduler:
            raise InputError("this run needs Dask: pip install 'shb[dist]' (dask[distributed])") from None
        yield None
        return
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(f"cannot connect to Dask scheduler {scheduler}: {err}") from None
        with client:
            yield client
        return
    import dask

    # Dask's nanny gives workers MALLOC_TRIM_THRESHOLD_=65536, which makes many short-lived arrays cost a trim
    # system call each; keep its one-thread BLAS settings, drop that one.
    worker_environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                      if k != "MALLOC_TRIM_THRESHOLD_"}
    environ = dict(os.environ)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ}), _sigint_ignored():
        # The workers start with Ctrl-C ignored (a disposition a new process keeps), so Ctrl-C in a terminal
        # interrupts this process alone, which closes them; their logs are silenced for the same reason.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.CRITICAL)
    # Starting the cluster also writes those settings into this process's environment, where processes
    # started later would inherit them: restore it.
    os.environ.clear()
    os.environ.update(environ)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored inside the block (main thread only; elsewhere a no-op)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def load_progress(path, identity, fresh, read, inputs=None, validate=None):
    """The state saved at `path` if it was made with `identity` (the configuration) from `inputs` (the fingerprint
    of the data it reads, shb.ground.fingerprint), `fresh()` if none is saved; a ProgressError otherwise, in one
    line naming what differs.

    read(path) -> (identity saved with it, state), raising ProgressError if the file cannot be read; the state
    holds the fingerprint it was made from under "inputs" (progress saved before shb recorded it has none, and is
    refused: which data made it cannot be told). Only what decides the numbers is compared: a data set read from
    another directory with the same content resumes. validate(state) raises schema.Invalid (or ProgressError) where
    the state is wrong inside; it is called after both comparisons, so a file made from other data says so.
    """
    if not os.path.exists(path):
        return fresh()
    saved, state = read(path)
    if saved != identity:
        raise ProgressError(f"progress file {path} was made with a different configuration "
                            f"({fingerprint.summary(fingerprint.differences(saved, identity))}); "
                            "delete it or choose another --out")
    if inputs is not None:
        if not isinstance(state, dict) or not isinstance(state.get("inputs"), dict):
            raise ProgressError(f"progress file {path} does not record which data it was made from (saved by an "
                                "older shb), so it cannot be resumed safely; delete it to start over")
        found = fingerprint.differences(state["inputs"], inputs, ignore=UNCOMPARED)
        if found:
            where = {name: record.get("data_dir") for name, record in (("saved", state["inputs"]), ("now", inputs))}
            raise ProgressError(f"progress file {path} was made from other data ({fingerprint.summary(found)}; "
                                f"read from {where['saved']}, now {where['now']}); delete it or choose another --out")
    if validate is not None:
        try:
            validate(state)
        except schema.Invalid as err:
            raise ProgressError(f"progress file {path} is not valid inside: {err}; delete it to start over") from None
    return state


# Recorded in a fingerprint, not compared: the same content read from elsewhere gives the same numbers (the name of a
# data set shb does not recognize, 'IDX data in DIR', holds its directory).
UNCOMPARED = ("data_dir", "dataset")
