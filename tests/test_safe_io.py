"""Writes that never destroy and reads that never run away (issue 21: "Destructive writes",
"Concurrent writers", "Unbounded reads"). Every output option goes through planner.files.write_output
and every input file through planner.files.read_input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from clihelp import run, stderr_of

from planner import files
from planner.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SIZE = ("size", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat")
CHECK = ROOT / "examples" / "proposals" / "llama70b-h200-chat-pinned.toml"
# every command option that writes a file, with the arguments that make the command cheap
WRITERS = {
    "size --export": (*SIZE, "--format", "json", "--export"),
    "sweep --output": ("sweep", "-m", "llama-3.1-8b", "-H", "h100-sxm", "-w", "chat", "--fixed-layout", "tp=1",
                       "--batch", "8", "--vary", "workload.isl=1k,2k", "--output"),
    "check --output": ("check", str(CHECK), "--format", "markdown", "--output"),
}


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = stderr_of(result).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    return lines[0]


# ---- special files are never replaced --------------------------------------------------------------

@pytest.mark.parametrize("writer", WRITERS)
def test_a_fifo_is_refused_and_left_in_place(writer, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    line = _one_error_line(run(*WRITERS[writer], str(fifo), "--force"))
    assert "FIFO" in line and "never replaced" in line
    assert fifo.is_fifo()


@pytest.mark.parametrize("writer", WRITERS)
def test_a_character_device_is_refused(writer):
    # as root, the old code replaced /dev/null itself with a regular file
    before = os.stat("/dev/null")
    line = _one_error_line(run(*WRITERS[writer], "/dev/null", "--force"))
    assert "character device" in line
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_symlink_is_kept_and_its_target_written(writer, tmp_path):
    target = tmp_path / "real.out"
    target.write_text("old\n")
    link = tmp_path / "link.out"
    link.symlink_to(target)
    result = run(*WRITERS[writer], str(link), "--force")
    assert result.exit_code in (0, 1), result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() != "old\n" and target.stat().st_size > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.out", "real.out"]


def test_a_symlink_without_force_is_refused(tmp_path):
    target = tmp_path / "real.toml"
    target.write_text("old\n")
    (tmp_path / "link.toml").symlink_to(target)
    assert "file exists" in _one_error_line(run(*SIZE, "--export", str(tmp_path / "link.toml")))
    assert target.read_text() == "old\n"


def test_dash_writes_the_plan_to_stdout_as_a_stream():
    result = run(*SIZE, "--format", "json", "--export", "-")
    assert result.exit_code in (0, 1), result.output
    assert 'model = "llama-3.1-8b"' in result.stdout


def test_a_directory_target_is_refused(tmp_path):
    assert "is a directory" in _one_error_line(run(*SIZE, "--export", str(tmp_path), "--force"))


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_mode(tmp_path):
    new = tmp_path / "new.txt"
    files.write_output(new, "x", force=False)
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    files.write_output(kept, b"new", force=True)
    assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"


# ---- concurrent writers and signals ----------------------------------------------------------------

WRITER_SCRIPT = textwrap.dedent("""
    import sys
    from planner.files import write_output
    write_output(sys.argv[1], sys.argv[2] * 2_000_000, force=True)
""")


def test_four_concurrent_writers_of_one_target_all_succeed(tmp_path):
    # the old --roofline used one fixed temporary name: concurrent runs failed with FileNotFoundError
    target = tmp_path / "same.png"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(target), letter], cwd=ROOT,
                              stderr=subprocess.PIPE) for letter in "abcd"]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    content = target.read_text()
    assert len(content) == 2_000_000 and len(set(content)) == 1        # one writer's whole file, not a mix
    assert [p.name for p in tmp_path.iterdir()] == ["same.png"]


SIGTERM_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from planner.files import write_output

    def content(handle):
        handle.write(b"partial rows\\n" * 1000)
        os.kill(os.getpid(), signal.SIGTERM)     # as if killed in the middle of a large sweep write
        handle.write(b"never written\\n")

    write_output(sys.argv[1], content, force=True)
""")


def test_sigterm_during_a_write_removes_the_temporary_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "sweep.csv"
    target.write_text("old\n")
    proc = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT, str(target)], cwd=ROOT, capture_output=True,
                          check=False, timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.decode()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]


FORKED_SIGTERM_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from planner.files import write_output

    def content(handle):
        handle.write(b"rows\\n")
        pid = os.fork()                           # as a sweep's pool worker is forked mid-write
        if pid == 0:
            try:
                os.kill(os.getpid(), signal.SIGTERM)  # what Pool.terminate() sends its workers
            finally:
                os._exit(7)                       # reached only if the handler raised instead
        _, status = os.waitpid(pid, 0)
        handle.write(b"signalled\\n" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
                     else f"exit {os.waitstatus_to_exitcode(status)}\\n".encode())

    write_output(sys.argv[1], content, force=True)
""")


def test_a_process_forked_during_a_write_dies_of_sigterm(tmp_path):
    # The temporary file's SIGTERM handler (SystemExit, so the file is removed) was inherited by the
    # sweep's forked pool workers: Pool.terminate()'s SIGTERM raised SystemExit inside a worker
    # waiting on the pool's queue lock instead of killing it. A forked process now takes SIGTERM's
    # default action.
    target = tmp_path / "sweep.csv"
    proc = subprocess.run([sys.executable, "-c", FORKED_SIGTERM_SCRIPT, str(target)], cwd=ROOT,
                          capture_output=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert target.read_text() == "rows\nsignalled\n"


# ---- unbounded reads -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("models", "show", "{}"), ("size", "-H", "{}"), ("size", "-w", "{}"),
                                  ("check", "{}"), ("size", "--plan", "{}"), ("diff", "{}", "{}")])
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_as_input_files_are_refused(args, device):
    line = _one_error_line(run(*(a.replace("{}", device) for a in args)))
    assert device in line and "character device" in line


def test_a_fifo_as_input_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "hw.toml"
    os.mkfifo(fifo)           # nobody writes to it: a blocking open would hang here
    assert "FIFO" in _one_error_line(run("size", "-H", str(fifo)))
    json_fifo = tmp_path / "config.json"
    os.mkfifo(json_fifo)
    assert "FIFO" in _one_error_line(run("models", "show", str(json_fifo)))


def test_a_50_mb_toml_is_refused_at_once(tmp_path):
    big = tmp_path / "model.toml"
    with big.open("w") as handle:
        handle.write('name = "')
        handle.truncate(50 * 10**6)          # sparse: 50 MB without writing 50 MB
    line = _one_error_line(run("models", "show", str(big)))
    assert "50.0 MB" in line and "4 MiB" in line


def test_the_cap_holds_for_files_that_lie_about_their_size(tmp_path, monkeypatch):
    path = tmp_path / "x.toml"
    path.write_text("a = 1\n" + "#" * 200)
    monkeypatch.setattr(files, "MAX_INPUT_BYTES", 100)
    with pytest.raises(InputError, match="limited to"):
        files.read_input(path)


def test_input_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_bytes(b"name = \"\xff\xfe\"\n")
    assert "not UTF-8" in _one_error_line(run("hardware", "show", str(path)))


def test_deeply_nested_json_is_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[" * 200_000)
    _one_error_line(run("models", "show", str(path)))
