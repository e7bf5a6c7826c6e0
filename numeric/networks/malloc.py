"""Memory settings that let numpy's short-lived arrays reuse warm pages (the MLP's and the CNN's steps).

By default glibc serves a block over its mmap threshold (128 kB, raised adaptively up to the
largest block freed so far) by mmap, and gives free memory at the top of the heap back to the
system once it exceeds twice that threshold. A training or hypergradient step creates and frees
many arrays: 0.1-1.4 MB for the MLP (gradient, Hessian-vector products, R-operator intermediates),
20-140 MB for the paper's CNN (patch matrices, convolution outputs and their tangents, ~0.5 GB live
at the peak of a hypergradient step at batch 100). Fresh pages cost a page fault each: measured in
this project's virtual machine, ~1 ms of a ~3.7 ms MLP hypergradient step, and more than half of a CNN
hypergradient step (1.3 s of system time in a 1.9 s step). So:

- glibc never serves a block by mmap (mmap_max 0; blocks above 32 MB would otherwise always be: glibc
  caps the mmap threshold there), and trims the top of the heap only above `trim_threshold` (1 GB), so
  a step's arrays come from memory the previous step freed;
- numpy does not madvise its large arrays (>= 4 MB) as transparent huge pages: in the same virtual
  machine a CNN hypergradient step took 2-4x the CPU time with them (0.6 s without).

Settings given through glibc's environment variables (MALLOC_*_) or NUMPY_MADVISE_HUGEPAGE win; elsewhere
than glibc the malloc part is a no-op. Nothing here changes a number, only where arrays live.
"""
import ctypes
import os

import numpy as np

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # mallopt parameters (glibc malloc.h)
ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_")


def keep_freed_memory(mmap_threshold=32 << 20, trim_threshold=1 << 30, mmap_max=0):
    """Set glibc's mmap threshold, trim threshold (bytes) and mmap count for this process, and turn numpy's
    huge-page advice off; True if the three malloc settings were made (False when the environment sets any)."""
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
        getattr(core.multiarray, "_set_madvise_hugepage", lambda enabled: None)(False)
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold), (M_MMAP_MAX, mmap_max))
    return all([bool(mallopt(param, value)) for param, value in settings])
