"""Sizes checked before work starts: what a command will need against what the machine has.

Each command estimates the memory its arguments call for (and, where the time is what grows, the time) and
refuses, in one line naming the estimate and the limit, what cannot fit. The limit is the memory available now:
the smaller of the kernel's MemAvailable and the cgroup's memory.max less its current use, when either is known.
`--ignore-limits` (shb nqm, shb bench) skips the check for a user who knows better. The local Dask cluster's worker
processes are bounded by the cores (`check_workers`).
"""

import os

from shb.ground.errors import InputError

TIME_LIMIT_SECONDS = 24 * 3600.0  # a run estimated to take longer than a day is refused
WORKERS_PER_CORE = 4  # a local cluster has at most this many worker processes per usable core


def gib(n_bytes):
    return f"{n_bytes / 2**30:.3g} GiB"


def _read(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return None


def available_memory():
    """Bytes of memory available to this process now (None if the machine does not say)."""
    limits = []
    meminfo = _read("/proc/meminfo")
    if meminfo:
        for line in meminfo.splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    maximum, current = _read("/sys/fs/cgroup/memory.max"), _read("/sys/fs/cgroup/memory.current")
    if maximum and current and maximum.strip().isdigit():
        limits.append(int(maximum) - int(current))
    return min(limits) if limits else None


def check_memory(estimate, what, limit=None):
    """InputError if `estimate` bytes for `what` exceed the available memory (or `limit`)."""
    limit = available_memory() if limit is None else limit
    if limit is not None and estimate > limit:
        raise InputError(f"{what} needs about {gib(estimate)} of memory, more than the {gib(limit)} available "
                         "(--ignore-limits runs it anyway)")


def check_time(seconds, what, limit=TIME_LIMIT_SECONDS):
    """InputError if `what` is estimated to take longer than `limit` seconds."""
    if seconds > limit:
        raise InputError(f"{what} would take about {seconds / 3600:.3g} hours, more than the {limit / 3600:g} "
                         "allowed (--ignore-limits runs it anyway)")


def usable_cores():
    """The cores this process may run on (its CPU affinity where the system says, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def most_workers():
    """The largest local cluster allowed: WORKERS_PER_CORE per usable core. More processes than that only wait for a
    core, each holding its own copy of the data set; a million of them never start."""
    return WORKERS_PER_CORE * usable_cores()


def check_workers(n, what="--workers"):
    """InputError unless 0 <= n <= most_workers()."""
    most = most_workers()
    if not 0 <= n <= most:
        raise InputError(f"{what} must be an integer from 0 to {most} ({WORKERS_PER_CORE} per core, {usable_cores()} "
                         f"cores here), got {n}")
    return n
