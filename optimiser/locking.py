"""An exclusive lock on a path shared by processes (a result folder, the options library).

The lock is ``flock`` on a hidden file beside the path (``.NAME.lock``), so it is released
by the kernel when its holder dies, even by ``kill -9``: a lock is never left stale. The
lock file is removed on release; a waiter that locked a file someone has just removed
notices (its inode is no longer the path's) and tries again.
"""

from __future__ import annotations

import errno
import os
import time
from contextlib import contextmanager
from pathlib import Path

from optimiser.errors import OptimiserError

try:
    import fcntl
except ImportError:  # Windows: no flock; fall back to exclusive creation
    fcntl = None


class BusyError(OptimiserError):
    """Someone else holds the lock."""


def lock_path_for(path: str | Path) -> Path:
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextmanager
def exclusive_lock(path: str | Path, what: str, wait_seconds: float = 0.0):
    """Hold an exclusive lock on ``path`` (which need not exist) for the ``with`` block.
    Waits up to ``wait_seconds`` for another holder, then raises :class:`BusyError`
    ``"<what> is in use by another run ..."``."""
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        fd = _try_lock(lock)
        if fd is not None:
            break
        if time.monotonic() >= deadline:
            raise BusyError(f"{what} is in use by another run (lock {lock}): wait for it to "
                            "finish, or choose another place")
        time.sleep(0.05)
    try:
        yield
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        os.close(fd)


def _try_lock(lock: Path) -> int | None:
    if fcntl is None:
        try:
            return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return None
    fd = os.open(lock, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    try:
        same = os.fstat(fd).st_ino == os.stat(lock).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # the previous holder removed the file after we opened it
        os.close(fd)
        return _try_lock(lock)
    return fd
