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

A workspace serves one thread at a time: the estimators create one per ``fit``,
``partial_fit`` or ``predict`` call, so concurrent predictions on one fitted
estimator never share scratch memory.
"""

import math

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
