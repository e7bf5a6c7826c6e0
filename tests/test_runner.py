"""The shared runner (experiments/runner.py) and the time left of its progress (shb.ground.progress.Progress)."""
import io

import pytest

from shb.experiments.runner import Unit, run_units
from shb.ground.progress import Progress, time_left


def test_time_left_is_the_work_left_at_the_pace_so_far():
    # 10 units of cost done in 60 s, 30 left: 180 s. Catches a pace taken from unit counts instead of costs.
    assert time_left(60.0, 10.0, 30.0) == 180.0
    assert time_left(60.0, 0.0, 30.0) is None


def test_the_time_left_weighs_units_by_their_cost():
    # One cheap unit done in 100 s of 10 units; the 9 left weigh 75 cost units against the 25 done: 5 minutes
    # (counting units alone would say 15). A changed total (a chain stopped early) is shown.
    now = [0.0]
    stream = io.StringIO()  # not a terminal: a line at the start and every `every` seconds
    bar = Progress(10, "work", stream=stream, every=0.0, clock=lambda: now[0])
    now[0] = 100.0
    bar.advance(cost=25.0, cost_left=75.0, total=12)
    line = stream.getvalue().splitlines()[-1]
    assert "1/12 units" in line and "about 5m00s left" in line
    plain = io.StringIO()
    bar = Progress(10, "work", stream=plain, every=0.0, clock=lambda: now[0])
    now[0] = 200.0
    bar.advance()
    assert "about 15m00s left" in plain.getvalue().splitlines()[-1]


class FakeWork:
    """Three units in a row; the second weighs 9 times the others."""

    def __init__(self, with_costs=True):
        self.results, self.times = {}, {}
        self.with_costs = with_costs

    total = 3

    @property
    def done(self):
        return len(self.results)

    def ready(self):
        n = len(self.results)
        return [] if n == 3 else [Unit(("u", n), pow, (2, n), False, 9.0 if n == 1 else 1.0)]

    def record(self, key, result):
        self.results[key] = result


class TimedWork(FakeWork):
    def cost_left(self):
        return sum(9.0 if n == 1 else 1.0 for n in range(len(self.results), 3))

    def record_time(self, key, cpu, wall):
        self.times[key] = (cpu, wall)


@pytest.mark.parametrize("work", [FakeWork(), TimedWork()])
def test_run_units_records_results_and_where_asked_their_times(work):
    # A work without cost_left/record_time (as the online experiment's) runs as before; one with them gets each
    # unit's CPU and wall seconds. Catches a runner that records the timing tuple as the result.
    assert run_units(work) is True
    assert work.results == {("u", 0): 1, ("u", 1): 2, ("u", 2): 4}
    if isinstance(work, TimedWork):
        assert set(work.times) == set(work.results) and all(c >= 0 and w >= 0 for c, w in work.times.values())


def test_stop_after_returns_early():
    work = TimedWork()
    assert run_units(work, stop_after=2) is False and work.done == 2
    assert run_units(work) is True and work.done == 3


def test_a_local_cluster_is_bounded_by_the_cores():
    # `--workers 1000000` started no worker in a minute and a SIGTERM then ended in a traceback: refused up front,
    # by the front end and by the runner for a library caller, at one past the bound and not at the bound.
    import argparse

    from shb.cli.options import _workers
    from shb.experiments.runner import dask_client
    from shb.ground.errors import InputError
    from shb.ground.limits import WORKERS_PER_CORE, most_workers, usable_cores

    assert most_workers() == WORKERS_PER_CORE * usable_cores() >= WORKERS_PER_CORE
    assert _workers(str(most_workers())) == most_workers() and _workers("0") == 0
    for bad in (str(most_workers() + 1), "-1", "2.5"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad) if bad == "2.5" else bad):
            _workers(bad)
    with pytest.raises(InputError, match=f"workers must be an integer from 0 to {most_workers()}"):
        with dask_client(None, most_workers() + 1):
            pytest.fail("a cluster beyond the bound")
