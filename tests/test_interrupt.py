"""Ctrl-C and SIGTERM stop a real run in one line, keep its saved progress, and a rerun resumes it to the numbers
of an uninterrupted run.

Each test starts `shb offline` or `shb online` at tiny settings on a local Dask cluster of two worker processes
(`--workers 2`), waits until the first unit's result is saved, and sends the signal as a terminal (Ctrl-C: SIGINT
to the whole process group, the workers included) or `kill` (SIGTERM to the main process) would. Bugs caught:
worker tracebacks or leaked-semaphore warnings on the way out, a wrong exit status, a traceback instead of the
one line, progress written half or lost, and a resumed run whose numbers differ.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from shb.experiments.figures.offline.units import units_done

# Run alone (make test's serial pass): signals timed against real runs on a two-worker Dask cluster.
pytestmark = [pytest.mark.slow, pytest.mark.serial]


PROGRESS_LINE = ("offline: ", "online: ")  # the progress mechanism's own lines on stderr (not a log file here)


# The run to be interrupted pauses 0.5 s in its main process after each finished unit (Progress.advance). On an
# idle machine a tiny run finishes its 20-30 units within about 2 s, so without the pause the signal could land
# after the run had ended (a race in the test, not a bug in the run); the pause changes no number.
PACED = ("import sys, time; from shb.ground import progress; advance = progress.Progress.advance; "
         "progress.Progress.advance = lambda self, *a, **k: (advance(self, *a, **k), time.sleep(0.5))[0]; "
         "from shb.cli import main; sys.exit(main(sys.argv[1:]))")


def as_in_a_terminal():
    """Ctrl-C's default disposition in the child, as in a terminal's foreground job: the test suite itself may run
    with SIGINT ignored (started in the background by a script, `make test &`), which children inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def shb(argv, cwd, paced=False):
    program = ["-c", PACED] if paced else ["-m", "shb.cli"]
    return subprocess.Popen([sys.executable, *program, *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=as_in_a_terminal)


def interrupt_when(process, saved, how, timeout=300):
    """Send the signal once `saved()` is true (the first unit is saved); return (exit status, stderr)."""
    deadline = time.monotonic() + timeout
    while not saved():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no progress was saved"
        time.sleep(0.05)
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def run_to_end(argv, cwd):
    process = shb(argv, cwd)
    out, err = process.communicate(timeout=600)
    assert process.returncode in (0, 1), err
    return err


@pytest.fixture(scope="module")
def whole(tmp_path_factory, data_dir):
    """{experiment: its JSON result} of uninterrupted tiny runs, in this process."""
    out = tmp_path_factory.mktemp("whole")
    for experiment in ("offline", "online"):
        run_to_end([experiment, "--scale", "tiny", "--data-dir", data_dir, "--out", "whole"], out)
    return {e: json.loads((out / "whole" / f"{e}.json").read_text()) for e in ("offline", "online")}


def own_lines(err):
    return [line for line in err.splitlines() if not line.startswith(PROGRESS_LINE)]


@pytest.mark.parametrize("how, status", [("ctrl-c", 130), ("sigterm", 143)])
def test_offline_interrupted_resumes_to_the_same_numbers(tmp_path, data_dir, whole, how, status):
    argv = ["offline", "--scale", "tiny", "--data-dir", data_dir]
    progress = tmp_path / "part" / "offline_progress.json"
    code, err = interrupt_when(shb(argv + ["--workers", "2", "--out", "part"], tmp_path, paced=True), progress.exists, how)
    assert code == status, err
    assert own_lines(err) == [f"shb: interrupted; progress saved in {progress}"], err
    assert "Traceback" not in err and "leaked" not in err
    saved = json.loads(progress.read_text(), parse_constant=lambda token: pytest.fail(f"{token} in progress"))
    assert units_done(saved) >= 1
    assert not (tmp_path / "part" / "offline.json").exists()
    resumed = run_to_end(argv + ["--out", "part"], tmp_path)
    assert "resuming:" in resumed
    part = json.loads((tmp_path / "part" / "offline.json").read_text())
    assert part["horizons"] == whole["offline"]["horizons"] and part["checks"] == whole["offline"]["checks"]


def test_online_interrupted_resumes_to_the_same_numbers(tmp_path, data_dir, whole):
    argv = ["online", "--scale", "tiny", "--data-dir", data_dir]
    progress = tmp_path / "part" / "online_progress"
    saved = lambda: progress.is_dir() and any(progress.iterdir())  # noqa: E731
    code, err = interrupt_when(shb(argv + ["--workers", "2", "--out", "part"], tmp_path, paced=True), saved, "ctrl-c")
    assert code == 130, err
    assert own_lines(err) == [f"shb: interrupted; progress saved in {progress}"], err
    assert "Traceback" not in err and "leaked" not in err
    run_to_end(argv + ["--out", "part"], tmp_path)
    part = json.loads((tmp_path / "part" / "online.json").read_text())
    assert part["runs"] == whole["online"]["runs"] and part["hypergrad_check"] == whole["online"]["hypergrad_check"]
