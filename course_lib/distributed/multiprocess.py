"""Cooperating processes with a time limit: how a notebook or a test runs a small cluster.

A multi-process training job is several copies of one program that find each
other through a coordinator address. If one copy fails, the others wait for
it forever; so `run_processes` starts them together, gives the whole group one
deadline, stops every copy as soon as one fails or the deadline passes, and
returns (or reports) each copy's output.
"""

import dataclasses
import os
import signal
import socket
import subprocess
import tempfile
import time

from course_lib._checks import check_number

__all__ = ["ProcessResult", "free_port", "run_processes"]


@dataclasses.dataclass(frozen=True)
class ProcessResult:
    """What one process of `run_processes` did: its command, exit status, output and time."""

    args: tuple
    returncode: int
    output: str
    seconds: float


def free_port():
    """Returns a TCP port on 127.0.0.1 that nothing listens on now (for a coordinator).

    Example:

    >>> 1024 <= free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process):
    """Kills `process` and its children (it leads its own process group)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _report(results, reason):
    lines = [reason]
    for number, result in enumerate(results):
        lines.append(f"--- process {number} (exit status {result.returncode}): {' '.join(result.args)}")
        lines.append(result.output.rstrip()[-4000:] or "(no output)")
    return "\n".join(lines)


def run_processes(commands, timeout, env=None, cwd=None, check=True):
    """Runs `commands` at the same time, each in its own process, within `timeout` seconds in all.

    Args:
        commands: a list of argument lists, one per process
            (e.g. `[[sys.executable, "-m", "module", "--process-id", "0"], ...]`).
        timeout: seconds the whole group may take.
        env: environment of every process (default: this process's).
            A list of dicts gives each process its own.
        cwd: working folder of the processes.
        check: whether to raise when a process fails. If True, the first
            failure stops the others at once (they would wait for it forever).

    Returns:
        A list of `ProcessResult`, in the order of `commands`.

    Raises:
        TimeoutError: the group ran past `timeout`; every process was
            killed; the message holds each one's output.
        RuntimeError: with `check=True`, a process exited with a non-zero
            status; the message holds each one's output.

    Example:

    >>> import sys
    >>> results = run_processes([[sys.executable, "-c", "print('hello')"]], timeout=60)
    >>> results[0].returncode, results[0].output.strip()
    (0, 'hello')
    """
    commands = [tuple(str(a) for a in command) for command in commands]
    if not commands or not all(commands):
        raise ValueError(f"`commands` must be a non-empty list of non-empty argument lists; received commands={commands!r}.")
    timeout = check_number(timeout, "timeout", low=0, low_open=True)
    envs = env if isinstance(env, (list, tuple)) else [env] * len(commands)
    if len(envs) != len(commands):
        raise ValueError(f"`env` must be one dict or one per command ({len(commands)}); received {len(envs)}.")
    with tempfile.TemporaryDirectory() as folder:
        logs = [open(os.path.join(folder, f"process{i}.log"), "w+") for i in range(len(commands))]
        start = time.monotonic()
        processes = [
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=process_env, cwd=cwd,
                             start_new_session=True)
            for command, log, process_env in zip(commands, logs, envs)
        ]
        ended = [None] * len(processes)
        failure = None
        try:
            while any(seconds is None for seconds in ended):
                for i, process in enumerate(processes):
                    if ended[i] is None and process.poll() is not None:
                        ended[i] = time.monotonic() - start
                        if check and process.returncode != 0 and failure is None:
                            failure = f"process {i} failed with exit status {process.returncode}"
                if failure:
                    break
                if time.monotonic() - start > timeout:
                    failure = f"the processes did not finish within {timeout:g} s and were killed"
                    break
                time.sleep(0.05)
        finally:
            for process in processes:
                _stop(process)
        results = []
        for i, (command, process, log) in enumerate(zip(commands, processes, logs)):
            log.seek(0)
            seconds = ended[i] if ended[i] is not None else time.monotonic() - start
            results.append(ProcessResult(command, process.returncode, log.read(), seconds))
            log.close()
    if failure and "within" in failure:
        raise TimeoutError(_report(results, failure))
    if failure:
        raise RuntimeError(_report(results, failure))
    return results
