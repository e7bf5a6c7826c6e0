"""`shb reproduce` runs the NQM lane in a second process beside the neural-network lane
(experiments/reproduce.py, run_lanes).

Catches: the lanes not running at the same time (no time saved), a part run in the wrong lane or twice, the
report's order following completion instead of the plan, and an interrupted reproduce leaving the second
process running on.
"""
import os
import time

import pytest

from shb.experiments import reproduce
from shb.experiments.result import Result
from shb.ground.errors import Interrupted


def _part(label, beside, seconds=0.0, marker=None, wait_for=None):
    """A picklable plan part (the lane's process imports this module) that records its process id."""
    return label, _Part(label, beside, seconds, marker, wait_for)


def _appears(path, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


class _Part:
    def __init__(self, label, beside, seconds, marker, wait_for):
        self.label, self.beside, self.chapter = label, beside, None
        self.seconds, self.marker, self.wait_for = seconds, marker, wait_for

    def __call__(self, out_dir, scale, **options):
        if self.marker:  # written when the part starts: its process id (renamed into place: read whole)
            with open(self.marker + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(str(os.getpid()))
            os.replace(self.marker + ".tmp", self.marker)
        seen = "-"
        if self.wait_for:  # only another process running at the same time can write it
            seen = "seen" if _appears(self.wait_for) else "never"
        time.sleep(self.seconds)
        return Result(self.label, True, report=f"{os.getpid()} {seen} {options['token']}")


def _run(tmp_path, steps):
    return reproduce.run_lanes(steps, str(tmp_path), "tiny", lambda *a: None, {"token": "t"})


@pytest.mark.slow
def test_the_nqm_lane_runs_in_a_second_process_at_the_same_time(tmp_path):
    d_started, p_started = str(tmp_path / "D started"), str(tmp_path / "P started")
    # N1 (this process) waits for D (the second process) to start: the lanes overlap. D then waits for P, which only
    # this process can run while the second one is busy with D: once its own parts are done, this process takes the
    # beside parts not yet started.
    steps = [_part("D", True, 0.2, marker=d_started, wait_for=p_started), _part("P", True, marker=p_started),
             _part("N1", False, wait_for=d_started), _part("N2", False), _part("Q", True)]
    results = _run(tmp_path, steps)
    assert sorted(results) == ["D", "N1", "N2", "P", "Q"], "each part exactly once"
    info = {label: r.report.split() for label, r in results.items()}
    pids = {label: int(v[0]) for label, v in info.items()}
    assert pids["N1"] == pids["N2"] == pids["P"] == os.getpid() != pids["D"]
    assert pids["Q"] in (os.getpid(), pids["D"])
    assert all(v[2] == "t" for v in info.values()), "the options reach both lanes"
    assert info["N1"][1] == "seen", "the NQM lane ran while this one waited"
    assert info["D"][1] == "seen", "this process took a beside part while the second one was busy"
    assert all(r.seconds is not None for r in results.values())
    lanes = {label: r.lane for label, r in results.items()}
    assert lanes == {"N1": "main", "N2": "main", "P": "main", "D": "beside",
                     "Q": "main" if pids["Q"] == os.getpid() else "beside"}


def test_claims_hand_out_each_part_once_then_none():
    # Catches: a counter that hands a part out twice (run twice, in both processes) or runs past the last one.
    import multiprocessing

    counter = multiprocessing.get_context("spawn").Value("i", 0)
    assert [reproduce.claim(counter, 3) for _ in range(5)] == [0, 1, 2, None, None]


@pytest.mark.slow
def test_reproduce_keeps_the_plan_order_whatever_finishes_first(monkeypatch, tmp_path):
    steps = [_part("Slow NQM", True, 1.0), _part("Net", False), _part("Fast NQM", True)]
    monkeypatch.setattr(reproduce, "plan", lambda only=None, scale=None: steps)
    sections = reproduce.reproduce(str(tmp_path), "tiny", log=lambda *a: None, token="t")
    assert [s.title for s in sections] == ["Slow NQM", "Net", "Fast NQM"]
    text = (tmp_path / "REPORT.md").read_text()
    assert text.index("## Slow NQM") < text.index("## Net") < text.index("## Fast NQM")
    # Each part's row names the lane (process) that ran it.
    for s in sections:
        assert s.lane in ("main", "beside") and text.split(f"| {s.title} |")[1].split("\n")[0].endswith(f" {s.lane} |")


def test_the_report_names_the_longer_lane_as_the_critical_path(tmp_path):
    # Catches: lane totals summed over the wrong parts, or the critical path named from the shorter lane.
    from shb.experiments.report import write_report

    parts = [Result("A", True, seconds=5.0, lane="main"), Result("B", True, seconds=3.0, lane="beside"),
             Result("C", True, seconds=4.0, lane="beside")]
    write_report(str(tmp_path), "tiny", "cmd", parts, 9.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert "- main lane (the neural-network experiments on the Dask workers, then the NQM parts not yet started): " \
           "5 s" in text
    assert "- beside lane (the derivations, the proofs and the NQM figures, in a second process at a lower " \
           "priority): 7 s" in text
    assert "- the critical path is the beside lane" in text
    write_report(str(tmp_path), "tiny", "cmd", [Result("A", True, seconds=5.0)], 5.0)  # run alone: no lane column
    assert "lane" not in (tmp_path / "REPORT.md").read_text()


def test_one_lane_only_runs_in_this_process(tmp_path):
    results = _run(tmp_path, [_part("A", True), _part("B", True)])
    assert {int(r.report.split()[0]) for r in results.values()} == {os.getpid()}


class _Interrupt:
    beside, chapter = False, None

    def __init__(self, marker):
        self.marker = marker

    def __call__(self, out_dir, scale, **options):
        assert _appears(self.marker)  # the lane's part is running
        raise KeyboardInterrupt


def test_an_interrupt_stops_the_second_process(tmp_path):
    marker = str(tmp_path / "lane.pid")
    steps = [_part("Long NQM", True, 60.0, marker), ("Net", _Interrupt(marker))]
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, steps)
    pid = int(open(marker, encoding="utf-8").read())
    with pytest.raises(ProcessLookupError):  # gone (and reaped), not still sleeping its 60 s
        os.kill(pid, 0)


def test_the_plan_puts_the_nqm_parts_beside_and_the_network_experiments_here():
    lanes = {label: getattr(part, "beside", False) for label, part in reproduce.plan()}
    assert lanes["Derivations"] and lanes["Proofs"] and lanes["Figure 1"] and lanes["Lookahead on the NQM"]
    assert not lanes["Offline meta-optimization"] and not lanes["Online meta-optimization"]


class _Interrupted:
    beside, chapter = False, None

    def __call__(self, out_dir, scale, **options):
        raise Interrupted("interrupted; progress saved in somewhere", 143)


def test_an_interrupted_experiment_stops_reproduce_instead_of_going_on_to_the_next(monkeypatch, tmp_path):
    # A long experiment turns Ctrl-C or SIGTERM into Interrupted (a library error, like bad input): catches
    # reproduce reporting it as "Not run" and starting the next part.
    ran = tmp_path / "next ran"
    monkeypatch.setattr(reproduce, "plan", lambda only=None, scale=None: [("Net", _Interrupted()),
                                                              _part("Next", False, marker=str(ran))])
    with pytest.raises(Interrupted) as stopped:
        reproduce.reproduce(str(tmp_path), "tiny", log=lambda *a: None, token="t")
    assert stopped.value.status == 143 and not ran.exists() and not (tmp_path / "REPORT.md").exists()


def test_the_heavy_nqm_parts_are_claimed_first_and_the_report_keeps_the_plan_order():
    # Catches a claim order that leaves a long NQM part for the end (one core then idles while the other runs it)
    # and a reordering that leaks into the report's order.
    plan = reproduce.plan()
    beside = [step for step in plan if getattr(step[1], "beside", False)]
    order = [label for label, _ in reproduce.claim_order(beside)]
    heavy = [label for label, part in beside if getattr(part, "heavy", False)]
    assert heavy and order[:2] == ["Derivations", "Proofs"] and order[2:2 + len(heavy)] == heavy
    assert sorted(order) == sorted(label for label, _ in beside)
    assert [label for label, _ in beside] == [label for label, _ in plan if label in order]  # the plan is untouched
