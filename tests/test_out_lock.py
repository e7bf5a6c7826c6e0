"""One run per output folder at a time (shb/ground/lock.py): a second run is refused in one line naming the first
one's process, the first one's files stay intact, and a lock left by a killed run is taken over.

Bugs caught: two runs writing one folder (the folder ends with the second run's files, the first run's printed
report no longer matches the disk), a refusal that does not say who holds the folder, a lock that outlives its run
(a killed run would block the folder forever), and lock files or directories left behind.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from shb.ground.errors import Busy
from shb.ground.lock import LOCK_NAME, output_lock

HOLD = ("import sys, time; from shb.ground.lock import output_lock; lock = output_lock(sys.argv[1], 'shb holder "
        "--out X'); lock.__enter__(); print('held', flush=True); time.sleep(120)")

# `shb ...` whose run waits after its first finished unit until the file $SHB_TEST_GO exists: the test decides when
# it may go on, so the second run surely starts while the first holds the folder (no race in the test).
GATED = ("import os, sys, time; from shb.ground import progress; advance = progress.Progress.advance\n"
         "def gated(self, *a, **k):\n"
         "    advance(self, *a, **k)\n"
         "    while not os.path.exists(os.environ['SHB_TEST_GO']):\n"
         "        time.sleep(0.05)\n"
         "progress.Progress.advance = gated\n"
         "from shb.cli import main\n"
         "sys.exit(main(sys.argv[1:]))")


def holder(directory):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_folder_is_refused_naming_its_holder_and_a_dead_holders_lock_is_taken_over(tmp_path):
    out = tmp_path / "out"
    process = holder(out)
    try:
        with pytest.raises(Busy) as refused:
            with output_lock(out, "shb second"):
                pytest.fail("a second lock on a held folder")
        message = str(refused.value)
        assert f"process {process.pid} " in message and "`shb holder --out X`" in message and "\n" not in message
        assert str(out) in message and "--out" in message
        assert sorted(os.listdir(out)) == [LOCK_NAME]  # the refused run touched nothing
    finally:
        process.send_signal(signal.SIGKILL)  # dies holding the lock: no clean-up
        process.wait()
    assert (out / LOCK_NAME).exists()  # a stale lock file ...
    with output_lock(out, "shb third") as path:  # ... is taken over
        record = json.loads(open(path).read())
        assert record["pid"] == os.getpid() and record["command"] == "shb third"
    assert not (out / LOCK_NAME).exists()  # released: removed


def test_one_process_cannot_hold_a_folder_twice_and_the_lock_is_released_on_an_error(tmp_path):
    with output_lock(tmp_path, "shb first"):
        with pytest.raises(Busy, match=f"process {os.getpid()} "):
            with output_lock(tmp_path, "shb second"):
                pass
    with pytest.raises(KeyboardInterrupt):
        with output_lock(tmp_path, "shb interrupted"):
            raise KeyboardInterrupt
    with output_lock(tmp_path, "shb after"):
        pass
    assert os.listdir(tmp_path) == []


def test_directories_the_lock_made_are_removed_only_when_left_empty(tmp_path):
    with output_lock(tmp_path / "a" / "b", "shb refused later"):
        assert (tmp_path / "a" / "b" / LOCK_NAME).exists()
    assert not (tmp_path / "a").exists()  # a run refused after the lock (bad data) leaves nothing
    with output_lock(tmp_path / "a" / "b", "shb writes"):
        (tmp_path / "a" / "b" / "result.json").write_text("{}")
    assert os.listdir(tmp_path / "a" / "b") == ["result.json"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory, data_dir):
    """offline.json of an uninterrupted tiny run, in this process."""
    from shb.experiments.figures import offline
    from shb.experiments.figures.offline.config import TINY

    out = str(tmp_path_factory.mktemp("whole"))
    offline.run(out, config=TINY, data_dir=data_dir, log=lambda line: None)
    return json.loads(open(os.path.join(out, "offline.json")).read())


def gated_run(tmp_path, argv):
    env = dict(os.environ, SHB_TEST_GO=str(tmp_path / "go"))
    return subprocess.Popen([sys.executable, "-c", GATED, *argv], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(path, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_runs_into_one_folder_one_is_refused_and_the_others_files_are_intact(tmp_path, data_dir, whole):
    argv = ["offline", "--scale", "tiny", "--data-dir", data_dir, "--out", "o"]
    first = gated_run(tmp_path, argv)
    progress = tmp_path / "o" / "offline_progress.json"
    try:
        wait_for(progress, first)  # the first run holds the folder and has saved a unit
        saved = progress.read_bytes()
        second = subprocess.run([sys.executable, "-m", "shb.cli", *argv, "--float32"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=300)  # another configuration, as in the issue
        assert second.returncode == 2, second.stderr
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("shb: --out ") and "in use by another shb run" in lines[0]
        assert f"process {first.pid} " in lines[0] and "`shb offline --scale tiny" in lines[0], lines[0]
        assert progress.read_bytes() == saved and not (tmp_path / "o" / "offline.json").exists()
        (tmp_path / "go").touch()
        _, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode in (0, 1), err
    result = json.loads((tmp_path / "o" / "offline.json").read_text())
    assert result["horizons"] == whole["horizons"] and "dtype" not in result["config"]  # the first run's, whole
    assert not (tmp_path / "o" / LOCK_NAME).exists()


@pytest.mark.slow
def test_a_killed_runs_lock_does_not_block_the_folder(tmp_path, data_dir, whole):
    argv = ["offline", "--scale", "tiny", "--data-dir", data_dir, "--out", "o"]
    first = gated_run(tmp_path, argv)
    try:
        wait_for(tmp_path / "o" / "offline_progress.json", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (tmp_path / "o" / LOCK_NAME).exists()  # left behind by the killed run
    rerun = subprocess.run([sys.executable, "-m", "shb.cli", *argv], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode in (0, 1) and "resuming:" in rerun.stderr, rerun.stderr
    assert json.loads((tmp_path / "o" / "offline.json").read_text())["horizons"] == whole["horizons"]
