"""One run per output folder at a time: a lock file in the folder that names the run holding it.

`output_lock(directory, command)` holds an exclusive lock (flock(2)) on DIR/.shb.lock while a command writes into
DIR; a second command that asks for it is refused at once with a Busy error naming the first one's process, its
command line and when it started (written into the lock file). The kernel releases a flock when its holder's
file is closed, so also when the holder is killed (even by SIGKILL): a lock file left behind by a dead run holds
no lock, and the next run takes it over (stale-lock recovery needs no guessing from process ids). The lock file is
removed when the run ends; so are the directories the lock had to create, when the run left them empty (a
refused run leaves nothing behind).

Why the standard library's fcntl and not a lock package (filelock): the same flock call, plus what a package does
not give, the holder's process in the refusal. Locks are advisory and local: they keep shb runs on this machine
apart (not runs on other machines sharing a network file system).
"""
import contextlib
import fcntl
import json
import os
import socket
import time

from shb.ground.errors import Busy

LOCK_NAME = ".shb.lock"
READ_TRIES = 20  # a holder writes its record right after taking the lock: a reader retries an empty one briefly


@contextlib.contextmanager
def output_lock(directory, command, what="--out"):
    """Hold DIR/.shb.lock for the block (see the module docstring); Busy if another run holds it."""
    directory = os.path.abspath(directory)
    made = _make_directories(directory)
    path = os.path.join(directory, LOCK_NAME)
    fd = None
    try:
        fd = _acquire(path, directory, what)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        yield path
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding the lock (see _acquire)
            os.close(fd)
        for made_dir in reversed(made):
            with contextlib.suppress(OSError):  # not empty: the run wrote its results there
                os.rmdir(made_dir)


def _make_directories(directory):
    """Make `directory` and its missing parents; the list of those made, top first."""
    missing = []
    while not os.path.lexists(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    made = []
    for parent in reversed(missing):
        try:
            os.mkdir(parent)
        except FileExistsError:  # another run made it meanwhile: not ours to remove
            continue
        made.append(parent)
    return made


def _acquire(path, directory, what):
    """A descriptor of the lock file at `path`, locked. The file a holder unlinks on release may still be open here
    (opened just before): a lock taken on it would lock nothing, so it must still be the file at `path`."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise Busy(f"{what} {directory} is in use by another shb run ({holder}); wait for it to end or choose "
                       f"another {what}") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            return fd
        os.close(fd)


def _holder(fd):
    """'process 1234 on HOST, `shb offline ...`, started ...' from the lock file's record."""
    for _ in range(READ_TRIES):
        try:
            record = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
            return (f"process {record['pid']} on {record['host']}, `{record['command']}`, started "
                    f"{record['started']}")
        except (ValueError, KeyError, TypeError):
            time.sleep(0.01)
    return "a process that has not said which yet"
