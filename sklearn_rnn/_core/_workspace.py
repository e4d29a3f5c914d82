"""Scratch memory that one training step hands on to the next.

A training step allocates the same large arrays every time: the input
projection, the trace of every layer and direction, the gate gradients.  Taken
fresh for every batch, each costs page faults, because NumPy gets large blocks
from the C allocator, which maps them from the kernel, returns them when they
are freed, and the kernel zeroes every page again on first touch.  On this
project's 2-core KVM machines that was 20 to 35% of a training step at
(B=64, T=50, H=128) (measured by running the same epochs with glibc told to keep
freed memory: ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``).

A :class:`Workspace` keeps those arrays from one step to the next.  Requests are
served in order: after :meth:`Workspace.reset`, the ``k``-th request gets the
``k``-th buffer, grown when it is too small, so a run of steps with the same
structure reuses the same memory whatever the batch's shape.  Arrays handed out
stay valid until the next reset; nothing that outlives a step (outputs, loss
gradients, parameter gradients) comes from here.  Arrays that die within a step
are handed on (:meth:`Workspace.recycle`, :meth:`Workspace.release_side`), so
reuse costs no more peak memory than fresh arrays would.

A workspace serves one thread at a time: the estimators borrow one for each
``fit``, ``partial_fit`` or ``predict`` call (:func:`borrowed_workspace`), so
concurrent calls, on one fitted estimator or on several, never share scratch
memory.  A small workspace is kept from one call to the next: the C allocator
does not always keep freed memory, and a call on fresh memory pays the same page
faults again (see :func:`borrowed_workspace`).
"""

import math
import os
import threading
from contextlib import contextmanager

import numpy as np


class Workspace:
    """Scratch arrays reused from one pass to the next (see the module docstring)."""

    def __init__(self):
        self._buffers = []
        self._next = 0
        self._side = None
        self._dead = []

    def reset(self):
        """Start a new pass: earlier arrays may be handed out again."""
        self._next = 0
        self._dead.clear()
        return self

    def recycle(self, array):
        """Declare ``array`` (contiguous) dead until the next reset: a later
        request of the same size gets its memory instead of a buffer of its own.

        The input projection of a direction is dead once its time loop has run,
        and the gate gradients that its backward pass asks for later have the
        same shape; without this hand-over, a training step would hold both.
        """
        self._dead.append(array)

    def side(self):
        """A second workspace, reset, for requests that only some steps make.

        The truncated prefix of a step runs a varying number of chunks, and only
        when the batch's sequences are long enough; taking its arrays from here
        keeps the positions of the step's other requests, so each position keeps
        serving arrays of the same role and size.
        """
        if self._side is None:
            self._side = Workspace()
        return self._side.reset()

    def release_side(self):
        """Declare everything the side workspace holds dead until the next reset
        (the requests it served are over), so later requests can reuse it."""
        if self._side is not None:
            self._dead.extend(b for b in self._side._buffers if b is not None)

    def mark(self):
        """The current position, to :meth:`rewind` to."""
        return self._next

    def rewind(self, mark):
        """Hand out again the arrays requested since ``mark`` (now dead)."""
        self._next = mark

    def empty(self, shape, dtype):
        """An uninitialised array of ``shape`` and ``dtype``."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        k = self._next
        self._next += 1
        if k == len(self._buffers):
            self._buffers.append(None)
        for i, dead in enumerate(self._dead):
            if dead.nbytes == nbytes:
                del self._dead[i]
                return dead.reshape(-1).view(np.uint8).view(dtype).reshape(shape)
        buffer = self._buffers[k]
        if buffer is None or buffer.size < nbytes:
            buffer = self._buffers[k] = np.empty(nbytes, np.uint8)
        return buffer[:nbytes].view(dtype).reshape(shape)

    def zeros(self, shape, dtype):
        """An array of zeros of ``shape`` and ``dtype``."""
        out = self.empty(shape, dtype)
        out.fill(0)
        return out

    @property
    def nbytes(self):
        """Bytes held (the side workspace's included)."""
        side = 0 if self._side is None else self._side.nbytes
        return side + sum(b.size for b in self._buffers if b is not None)


class FreshArrays:
    """The :class:`Workspace` interface without reuse: every request is new memory."""

    def reset(self):
        return self

    def side(self):
        return self

    def recycle(self, array):
        pass  # the array is freed when its last reference goes

    def release_side(self):
        pass

    def mark(self):
        return 0

    def rewind(self, mark):
        pass

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)


FRESH = FreshArrays()


# Workspaces kept between calls (see borrowed_workspace): at most KEEP_COUNT
# idle ones, each holding at most KEEP_BYTES.
KEEP_BYTES = 16 * 2**20
KEEP_COUNT = 2
_idle = []
_idle_lock = threading.Lock()


def _after_fork_in_child():
    """A forked child starts with a lock of its own: another thread of the
    parent may have held ``_idle_lock`` at the fork, and no thread of the
    child would ever release it."""
    global _idle_lock
    _idle_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def borrowed_workspace():
    """A reset :class:`Workspace` for one call: an idle one kept from an earlier
    call, else a new one.  When the call returns, the workspace is kept for a
    later call if it holds at most ``KEEP_BYTES`` and fewer than ``KEEP_COUNT``
    are kept (a call that raises does not give its workspace back).

    Each call that takes fresh scratch memory pays a page fault per page on
    first touch, unless the C allocator kept the memory freed by the call
    before.  glibc does that for some sizes and not for others (it gives the
    top of its heap back to the system once the free part there exceeds twice
    the largest block freed so far): ``RNNClassifier(cell="elman",
    hidden_layer_sizes=(128,)).predict`` on the 1,797 digits made 870 to
    1,382 page faults a call on fresh memory and none on a kept workspace,
    0.85 of the time in process (benchmarks/README.md, item 31).  Kept, the
    memory stays with the process after the call: at most ``KEEP_COUNT *
    KEEP_BYTES``, two for a ``fit`` and the validation passes inside it, or
    for two threads predicting at once.
    """
    with _idle_lock:
        workspace = _idle.pop() if _idle else Workspace()
    yield workspace.reset()
    workspace.reset()  # forget the arrays declared dead during the call
    if workspace.nbytes <= KEEP_BYTES:
        with _idle_lock:
            if len(_idle) < KEEP_COUNT:
                _idle.append(workspace)
