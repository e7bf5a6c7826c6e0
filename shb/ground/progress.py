"""Progress on stderr: a minimal bar drawn only on a terminal (`progress`), and a bar with the time left for long
runs (`Bar`), which writes an occasional line when stderr is a log file."""
import sys
import time


def progress(iterable, total=None, desc="", initial=0):
    """Yield from `iterable`, redrawing `desc [####....] i/total` on a terminal (counting from `initial`, the items
    a resumed run had already done); silent otherwise."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    if not sys.stderr.isatty():
        yield from iterable
        return
    start = time.monotonic()
    for i, item in enumerate(iterable):
        yield item
        _draw(desc, initial + i + 1, total, time.monotonic() - start)
    sys.stderr.write("\n")
    sys.stderr.flush()


def _draw(desc, done, total, elapsed):
    if total:
        width = 30
        filled = int(width * done / total)
        bar = "#" * filled + "." * (width - filled)
        line = f"\r{desc} [{bar}] {done}/{total} {elapsed:5.1f}s"
    else:
        line = f"\r{desc} {done} {elapsed:5.1f}s"
    sys.stderr.write(line)
    sys.stderr.flush()


def time_left(elapsed, work_done, work_left):
    """Seconds left at the pace so far: work_left x elapsed / work_done (None before any work is done)."""
    if work_done <= 0:
        return None
    return work_left * elapsed / work_done


def clock(seconds):
    """'1h02m', '12m05s' or '42s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Bar:
    """Units done of a total, time elapsed and time left: redrawn in place on a terminal, else (a log file) one
    line every `every` seconds. The time left weighs units by their cost: `advance(cost)` per finished unit,
    `draw(done, total, work_left)` with the work left in the same units (None: total - done units)."""

    def __init__(self, desc, every=300.0, stream=None):
        self.desc, self.every, self.stream = desc, every, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = self.last_line = time.monotonic()
        self.work_done, self.drawn = 0.0, False

    def advance(self, cost=1.0):
        self.work_done += cost

    def line(self, done, total, work_left=None, now=None):
        elapsed = (time.monotonic() if now is None else now) - self.start
        left = time_left(elapsed, self.work_done, total - done if work_left is None else work_left)
        filled = int(30 * done / total) if total else 0
        text = f"{self.desc} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} units, {clock(elapsed)} elapsed"
        return text + (f", about {clock(left)} left" if left is not None else "")

    def draw(self, done, total, work_left=None):
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line(done, total, work_left, now) + "   ")
        elif now - self.last_line >= self.every:
            self.stream.write(self.line(done, total, work_left, now) + "\n")
            self.last_line = now
        else:
            return
        self.drawn = True
        self.stream.flush()

    def close(self):
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
