"""Progress of a long run, with the time left: a bar on a terminal, a line every few seconds in a log.

One mechanism for every long command (optimized fits, the experiments' units, figures). On a terminal the bar
is redrawn in place:

    offline [############..................] 12/40  1m05s elapsed, about 2m31s left

Anywhere else (a log file, CI) it writes a plain line at the start, then at most one every `every` seconds, and
at the end, so a log shows that the run is alive and how far it is. A resumed run starts its count at the units
it had already done and says so ("resuming: 12 of 40 units done"); the time left is estimated from the units
done in this session only. Where units differ in cost (a 20k-step run beside a 100-step one), the caller passes
each unit's cost and the work left in the same measure, and the time left is the work left at the pace of the
work done in this session; a total that changes as the run goes (chains that stop early) is passed along too.

Why not tqdm: its output away from a terminal is carriage-return redraws on one line, which a log file keeps as
one ever-growing line; the few lines here do what a log needs.
"""
import sys
import time


def duration(seconds):
    """'42s', '3m05s', '2h07m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def time_left(elapsed, work_done, work_left):
    """Seconds left at the pace so far: work_left x elapsed / work_done (None before any work is done)."""
    if work_done <= 0:
        return None
    return work_left * elapsed / work_done


class Progress:
    """Count units toward `total` on `stream` (stderr by default); `done` of them were finished before."""

    def __init__(self, total, desc, done=0, unit="units", stream=None, every=10.0, clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.start_done, self.done = done, None
        self.stream = sys.stderr if stream is None else stream
        self.every, self.clock = every, clock
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = self.last = clock()
        self.cost_done, self.cost_left = 0.0, None
        if done:
            self.say(f"{desc}: resuming: {done} of {total} {unit} done")
        self.done = done
        self._show(force=True)

    def advance(self, n=1, cost=None, cost_left=None, total=None):
        """Count n more units; with `cost` (theirs) and `cost_left` (the work left, the same measure) the time left
        weighs units by cost; `total` replaces the total."""
        self.done += n
        if total is not None:
            self.total = total
        if cost is not None and cost_left is not None:
            self.cost_done += cost
            self.cost_left = cost_left
        self._show(force=self.done >= self.total)

    def close(self):
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def status(self):
        """'12/40 units, 1m05s elapsed, about 2m31s left' (no estimate before the first unit of this session)."""
        elapsed = self.clock() - self.started
        text = f"{self.done}/{self.total} {self.unit}, {duration(elapsed)} elapsed"
        new = self.done - self.start_done
        if new > 0 and self.done < self.total:
            left = time_left(elapsed, new, self.total - self.done)
            if self.cost_left is not None and self.cost_done > 0:
                left = time_left(elapsed, self.cost_done, self.cost_left)
            text += f", about {duration(left)} left"
        return text

    def _show(self, force=False):
        now = self.clock()
        if self.terminal:
            width = 30
            filled = int(width * min(self.done, self.total) / self.total) if self.total else 0
            self.stream.write(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {self.status()}\033[K")
            self.stream.flush()
        elif force or now - self.last >= self.every:
            self.say(f"{self.desc}: {self.status()}")
            self.last = now

    def say(self, text):
        """One line of its own (on a terminal, in place of the bar, which is redrawn below it)."""
        self.stream.write(("\r\033[K" if self.terminal else "") + text + "\n")
        self.stream.flush()
        if self.terminal and self.done is not None:
            self._show()


LONG = 10.0  # seconds: work estimated to take at least this long shows its progress (`progress_if_long`)


def progress_if_long(iterable, total, desc, seconds, unit="steps"):
    """`iterable` counted on a Progress when its estimated `seconds` reach LONG, else as it is (no lines)."""
    return progress(iterable, total, desc, unit) if seconds >= LONG else iterable


def progress(iterable, total=None, desc="", unit="steps"):
    """Yield from `iterable`, counting each item on a Progress."""
    if total is None:
        total = len(iterable)
    with Progress(total, desc, unit=unit) as bar:
        for item in iterable:
            yield item
            bar.advance()
