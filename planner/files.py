"""The one reader of input files and the one writer of output files.

Reading: every file a user names (model, hardware, workload and engine TOML, HF config.json,
proposals, plans) is read here, and only when it is a regular file of at most `MAX_INPUT_BYTES`:
`/dev/zero`, a FIFO or a 50 MB TOML is one clear error, not minutes of parsing or an exhausted
memory. Presets shipped with the package are trusted and read from the package instead.

Writing: `write_output` never replaces anything but a regular file. A regular target is written
to a unique temporary file in its folder and renamed over it (atomic: readers see the old file
or the new one, never half of it; concurrent writers each have their own temporary file and the
last rename wins). A symlink is followed and its target written that way; FIFOs, devices and
sockets are refused, except the standard streams (`-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`),
which are written in place as streams. SIGTERM while a temporary file exists removes it before
the process exits (SIGINT already does, as KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from planner.errors import InputError

MAX_INPUT_BYTES = 4 * 2**20          # the largest HF config.json is ~100 kB; 4 MiB leaves room and stays fast
STREAMS = ("-", "/dev/stdout", "/dev/stderr")
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


# ---- reading -------------------------------------------------------------------------------------

def read_input(path: Path | str) -> str:
    """A user's input file as text: a regular file, at most MAX_INPUT_BYTES, UTF-8.

    Opened non-blocking so that a FIFO cannot hang the open; the kind and size are checked on the
    open descriptor (no window between the check and the read), and the read itself stops one
    byte past the cap in case the file grows."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc.__class__.__name__})", source=source) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"is {_kind(info.st_mode)}, expected a regular file", source=source)
        if info.st_size > MAX_INPUT_BYTES:
            raise InputError(f"is {info.st_size / 1e6:,.1f} MB; input files are limited to "
                             f"{MAX_INPUT_BYTES // 2**20} MiB", source=source)
        os.set_blocking(fd, True)
        data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"is larger than {MAX_INPUT_BYTES // 2**20} MiB (input files are limited to that)",
                         source=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=source) from None


# ---- writing -------------------------------------------------------------------------------------

def is_stream(path: Path | str) -> bool:
    """`-` and the names of the standard streams: written in place, never replaced."""
    text = str(path)
    return text in STREAMS or text.startswith(("/dev/fd/", "/proc/self/fd/"))


def check_target(path: Path, force: bool) -> Path:
    """Where `path` would be written (a symlink's final target), or an InputError saying why not.

    Called before any work (so a refused target costs nothing) and again by `write_output`."""
    if is_stream(path):
        return path
    source = str(path)
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = os.stat(real)
    except FileNotFoundError:
        folder = real.parent
        if not folder.is_dir():
            raise InputError("folder does not exist", source=str(folder)) from None
        return real
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc.__class__.__name__})", source=source) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is a directory", source=source)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"is {_kind(info.st_mode)}, not a regular file; it is never replaced",
                         source=source, hint="write to a regular file, or to - for stdout")
    if not force:
        raise InputError("file exists", source=source, hint="use --force to replace it")
    return real


@contextlib.contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    """While a temporary file exists, turn SIGTERM into SystemExit so the `finally` that removes
    the file runs (the default action kills the process on the spot and leaves it behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield                       # signal handlers can only be set from the main thread
        return

    owner = os.getpid()

    def terminate(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:
            # A process forked meanwhile (a sweep's pool worker) inherits this handler but not the
            # file: it dies as SIGTERM's default action says, as whoever signals it expects, rather
            # than raising SystemExit into whatever it was doing (a pool worker: inside the task
            # queue's lock).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_output(path: Path | str, content: str | bytes | Callable[[IO[bytes]], None], force: bool) -> None:
    """Write text, bytes, or whatever `content(binary_file)` writes, to `path` (see the module
    docstring for what is refused). An existing regular file is replaced only with `force`."""
    path = Path(path)
    if is_stream(path):
        _write_stream(path, content)
        return
    target = check_target(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with _cleanup_on_sigterm():
            with os.fdopen(fd, "wb") as handle:
                _emit(handle, content)
                handle.flush()
                os.fsync(handle.fileno())
            _copy_mode(target, tmp)
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _emit(handle: IO[bytes], content: str | bytes | Callable[[IO[bytes]], None]) -> None:
    if isinstance(content, str):
        handle.write(content.encode("utf-8"))
    elif isinstance(content, bytes):
        handle.write(content)
    else:
        content(handle)


def _copy_mode(target: Path, tmp: str) -> None:
    """mkstemp creates 0600; give the file the mode it had, or the umask's default for a new one."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)


def _write_stream(path: Path, content: str | bytes | Callable[[IO[bytes]], None]) -> None:
    """`-` and /dev/stdout go to sys.stdout (so redirection inside the process works too);
    other stream names are opened for appending, which never truncates or replaces them."""
    text = str(path)
    if text in ("-", "/dev/stdout"):
        stream = sys.stdout
    elif text == "/dev/stderr":
        stream = sys.stderr
    else:
        with open(path, "ab") as handle:
            _emit(handle, content)
        return
    if isinstance(content, str):
        stream.write(content)          # through the text layer: its encoding and error handler apply
        stream.flush()
        return
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        raise InputError("cannot write binary output to this stream", source=text)
    _emit(buffer, content)
    buffer.flush()
