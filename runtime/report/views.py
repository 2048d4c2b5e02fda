"""The report views written after a script has ended: ``report.html`` and the TensorBoard events, by one detached
process that the script starts on its way out (``session.py``), so that the script does not wait for plots that
its user will look at later.

A run folder says where its views stand:

- ``views.pending`` exists while the writer works, locked by it (``flock``; the lock goes with the writer's open
  file, handed over by the script before it exits, so it is held from before the writer starts until it ends);
  it holds the writer's pid;
- the writer removes it (and its log) once every view is in place (each file written under a temporary name, then
  renamed);
- a writer that fails leaves it, unlocked, with what failed (and its messages are in ``views.log``); one that
  was killed leaves it unlocked too.

``wait(folder)`` waits for the writer, deterministically (on the lock, not on a clock), and says whether the
views are there; ``state(folder)`` says where they stand without waiting. Where ``flock`` does not exist
(Windows), ``supported()`` is false and the script writes its views itself before it exits.
"""

import os
import subprocess
import time

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

MARKER = "views.pending"
LOG = "views.log"


def supported():
    return fcntl is not None


def start(folder, command, env):
    """Start ``command + [FD]`` detached, as the writer of ``folder``'s views; FD: its end of the marker's lock.

    The writer outlives this process: a session of its own (Ctrl-C in the terminal does not reach it), no
    terminal streams (stdout to /dev/null, stderr to ``views.log``), no other inherited file. Returns its pid.
    """
    marker = os.path.join(folder, MARKER)
    new = marker + ".new"
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # before the marker has its name: no reader sees it unlocked
        os.replace(new, marker)
        try:
            with open(os.path.join(folder, LOG), "ab") as log:
                writer = subprocess.Popen(
                    [*command, str(fd)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    close_fds=True,
                    pass_fds=(fd,),
                    start_new_session=True,
                    env=env,
                )
        except BaseException:
            os.unlink(marker)
            raise
        os.write(fd, f"pid {writer.pid}\n".encode())
        writer.returncode = 0  # not ours to wait for: it is meant to outlive us (no "still running" warning)
        return writer.pid
    finally:
        os.close(fd)  # the writer holds the lock now, on its own copy of this open file


def finish(folder, fd, failures):
    """The writer's last step: the marker (and the log) go when every view is in place; else the marker says what
    failed and stays, beside the log."""
    if failures:
        os.write(int(fd), "".join(f"failed: {line}\n" for line in failures).encode("utf-8", "replace"))
        return
    try:
        os.unlink(os.path.join(folder, LOG))  # only start-up noise in it
    except FileNotFoundError:
        pass
    os.unlink(os.path.join(folder, MARKER))


def state(folder):
    """None when no view is pending (written, or none due); else a sentence: being written, or why they are not."""
    marker = os.path.join(folder, MARKER)
    try:
        fd = os.open(marker, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        if not _try_lock(fd):
            return f"report.html and the TensorBoard events are being written in the background ({_pid(marker)})"
        return _why(folder, marker)
    finally:
        os.close(fd)


def wait(folder, timeout=600):
    """Wait until the writer of ``folder``'s views has ended (at most ``timeout`` seconds: then TimeoutError), once
    the script of the run has ended (it starts the writer on its way out). Returns None when the views are in place
    (or none was due), else why they are not (``views.log`` says more)."""
    marker = os.path.join(folder, MARKER)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(marker, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            while not _try_lock(fd):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{folder}: the views are still being written after {timeout:g} s")
                time.sleep(0.02)
            if os.path.exists(marker) and os.path.samestat(os.fstat(fd), os.stat(marker)):
                return _why(folder, marker)
        finally:
            os.close(fd)
        # the writer ended and removed it (or a newer writer replaced it): look again


def _try_lock(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def _pid(marker):
    with open(marker, encoding="utf-8", errors="replace") as f:
        return f.readline().strip() or "starting"


def _why(folder, marker):
    with open(marker, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    failures = [line[len("failed: ") :] for line in lines if line.startswith("failed: ")]
    log = os.path.join(folder, LOG)
    if failures:
        return f"the background writer of the views failed: {'; '.join(failures)} (see {log})"
    who = lines[0] if lines else "no pid"
    return f"the background writer of the views ({who}) ended without writing them (killed, or it could not start; see {log})"
