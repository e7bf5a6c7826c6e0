"""A minimal progress bar: drawn on stderr only when stderr is a terminal."""
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
