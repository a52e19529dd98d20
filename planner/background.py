"""Work run on a second core while this process does its own: a forked child computes a pure
function of data both processes already hold, and hands back its pickled result.

Used where one command has independent searches (the scale-up domain comparison of `size`) and
a process pool would cost more than it saves: a fork shares the imported modules and the loaded
inputs at no cost (~2 ms here), where a spawned worker pays the imports again (~0.2 s).

Fork copies only the calling thread, so a lock another thread holds at that moment would stay
locked in the child: only a single-threaded process forks (`fork_is_safe`, the sweep's pool follows
the same rule); otherwise, and where fork does not exist, the work runs in this process when asked
for. A child that fails for any reason is not an error either: its work is redone here, so the
result never depends on whether the child ran.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def fork_is_safe() -> bool:
    """Fork exists here and no other thread runs (whose held locks the child would inherit locked)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def worker_count(jobs: int | None) -> int:
    """Processes to use: `jobs`, or every core when None."""
    return max(1, jobs or os.cpu_count() or 1)


class Background(Generic[T]):
    """`work()` running in a forked child (or deferred, where forking is unsafe); `result()`
    returns its value, computed here when the child could not deliver it. As a context manager,
    a child whose result was not collected (an early return, an error, an interrupt) is stopped."""

    __slots__ = ("_pid", "_read", "_work")

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._pid = 0
        self._read = -1
        if not fork_is_safe():
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:                                      # the child: compute, send, and leave at once
            try:
                os.close(read)
                data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)            # no atexit handlers, no flushing of the parent's buffers
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> T:
        if self._pid:
            with os.fdopen(self._read, "rb") as source:
                data = source.read()
            os.waitpid(self._pid, 0)
            self._pid = 0
            try:
                return pickle.loads(data)           # noqa: S301 - our own child's bytes
            except Exception:                          # noqa: BLE001 - the child failed: do it here
                pass
        return self._work()

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Stop a child whose result is no longer wanted."""
        if self._pid:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            os.close(self._read)
            self._pid = 0
