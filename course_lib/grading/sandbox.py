"""A submission's code in a sandboxed process of its own, answering the judge by data only.

The judge (`course_lib.grading.judge`) never runs a submission's code in its own
process. It starts a `SubmissionProcess`, which executes the notebook's code
cells in a fresh Python process, and then asks that process what it needs:
which names the notebook defined, and what its functions return on the judge's
inputs. The process runs in bubblewrap's OS sandbox (`bwrap_command`): an
unprivileged uid of its own; new PID, mount, network, IPC and UTS namespaces;
read-only `/usr`, `/etc`, Python environment and `course_lib`, and nothing else
of the machine (not the batch, the autograder, the output or the judge's
`/proc`); a private size-limited tmpfs with its own copy of the submission;
limits on time, memory, file size and processes. When it is closed, its PID
namespace ends with every process it started. Everything that crosses the
process boundary is data:

- JSON for `None`, booleans, numbers, strings, lists, tuples and dicts;
- NumPy's `.npy` format for arrays and NumPy scalars (numeric dtypes only,
  read with `allow_pickle=False`);
- nothing else: never a pickle, never code from the submission. An answer of
  any other type (a Keras layer, an object with a lying `__eq__`) reaches the
  judge as an `Opaque` stand-in that equals nothing and converts to nothing.

Monkey-patching NumPy, Keras, `course_lib.grading` or the builtins inside the
submission's process therefore changes only what that process answers, never
how the judge computes its references or compares.

The same module is the child's program: `python -m course_lib.grading.sandbox FD_IN
FD_OUT` reads requests from one pipe and writes answers to the other.

Example:

>>> from course_lib.grading.sandbox import SubmissionProcess
>>> with SubmissionProcess() as process:
...     process.run_cell("def double(x):\\n    return 2 * x")
...     process.call("double", (21,), {})
42
"""

import base64
import builtins
import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = [
    "SubmissionProcess", "Opaque", "Ref", "TimeLimitExceeded", "SubmissionDied", "WireError", "SandboxUnavailable",
    "bwrap_command", "check_sandbox", "PRELOADED", "SANDBOX_UID", "encode", "decode", "remote_exception",
]

# Frames larger than this are refused: an answer is arrays of a few MB at most,
# and a submission must not make the judge read gigabytes.
MAX_FRAME_BYTES = 256 << 20
MAX_DEPTH = 32
MAX_MESSAGE_CHARS = 2000


class TimeLimitExceeded(Exception):
    """The submission's process did not answer within its time limit (it has been killed)."""


class SubmissionDied(Exception):
    """The submission's process ended (it exited, crashed or was killed) before answering."""


class WireError(Exception):
    """An answer from the submission's process is not valid data."""


class Ref:
    """A name in the submission's namespace, sent as an argument (the child passes its value)."""

    def __init__(self, name):
        self.name = name


class Opaque:
    """Stands in for an answer that is not data; it equals nothing and converts to nothing.

    Its `type_name` and `text` (the child's `repr`, shortened) only serve messages.
    """

    __slots__ = ("type_name", "text")

    def __init__(self, type_name, text):
        self.type_name, self.text = str(type_name)[:100], str(text)[:200]

    def __repr__(self):
        return f"<{self.type_name} object: {self.text}>"

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__


# ---------------------------------------------------------------------------
# The wire format.

def _array_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bytes_array(text):
    array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    if array.dtype.kind not in "biufc":
        raise WireError(f"an array of dtype {array.dtype} is not numeric data")
    return array


def encode(value, depth=0, strict=True):
    """`value` as JSON-ready data; raises WireError (strict) or returns an opaque record for anything else."""
    if depth > MAX_DEPTH:
        raise WireError("data nested too deeply")
    # Exact types only: a subclass of int or str may carry a lying `__eq__`.
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if kind in (list, tuple):
        items = [encode(item, depth + 1, strict) for item in value]
        return items if kind is list else {"__tuple__": items}
    if kind is dict:
        return {"__dict__": [[encode(k, depth + 1, strict), encode(v, depth + 1, strict)] for k, v in value.items()]}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return {"__scalar__": _array_bytes(np.asarray(value))}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
        return {"__array__": _array_bytes(np.array(value, copy=True).view(np.ndarray))}
    if isinstance(value, np.random.Generator):
        bit_generator = value.bit_generator
        return {"__generator__": [type(bit_generator).__name__, encode(bit_generator.state, depth + 1)]}
    if isinstance(value, Ref):
        return {"__ref__": str(value.name)}
    tensor = _tensor_as_array(value)
    if tensor is not None:
        return {"__array__": _array_bytes(tensor)}
    if strict:
        raise WireError(f"a {kind.__name__} cannot be sent as data")
    # Only the type's name: calling the object's own __repr__ could run (and hang in) its code.
    return {"__opaque__": [kind.__name__, "not data"]}


def _tensor_as_array(value):
    """A backend tensor or Keras variable as a NumPy array (None for anything else)."""
    if "keras" not in sys.modules:
        return None
    import keras

    try:
        if isinstance(value, keras.Variable) or (keras.ops.is_tensor(value) and not isinstance(value, keras.KerasTensor)):
            array = np.asarray(keras.ops.convert_to_numpy(value))
            return array if array.dtype.kind in "biufc" else None
    except Exception:
        return None
    return None


def decode(data, depth=0, resolve=None):
    """The value encoded by `encode`; `resolve(name)` gives the value of a `Ref` (in the child only)."""
    if depth > MAX_DEPTH:
        raise WireError("data nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(item, depth + 1, resolve) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise WireError("malformed data")
    (tag, body), = data.items()
    if tag == "__tuple__" and type(body) is list:
        return tuple(decode(item, depth + 1, resolve) for item in body)
    if tag == "__dict__" and type(body) is list:
        result = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("malformed dict")
            key = decode(pair[0], depth + 1, resolve)
            try:
                hash(key)
            except TypeError:
                raise WireError("a dict key is not hashable") from None
            result[key] = decode(pair[1], depth + 1, resolve)
        return result
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__array__" and type(body) is str:
        return _bytes_array(body)
    if tag == "__scalar__" and type(body) is str:
        array = _bytes_array(body)
        if array.ndim != 0:
            raise WireError("a scalar with dimensions")
        return array[()]
    if tag == "__opaque__" and type(body) is list and len(body) == 2:
        return Opaque(*body)
    if tag == "__generator__" and type(body) is list and len(body) == 2:
        bit_generator = getattr(np.random, str(body[0]), None)
        if not (isinstance(bit_generator, type) and issubclass(bit_generator, np.random.BitGenerator)):
            raise WireError(f"unknown bit generator {body[0]!r}")
        generator = np.random.Generator(bit_generator())
        generator.bit_generator.state = decode(body[1], depth + 1, resolve)
        return generator
    if tag == "__ref__" and type(body) is str and resolve is not None:
        return resolve(body)
    raise WireError(f"unknown data tag {tag!r}")


def _write_frame(fd, message):
    payload = json.dumps(message).encode("utf-8")
    data = struct.pack(">Q", len(payload)) + payload
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd, size, deadline):
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeLimitExceeded()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise SubmissionDied()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd, deadline=None):
    (size,) = struct.unpack(">Q", _read_exactly(fd, 8, deadline))
    if size > MAX_FRAME_BYTES:
        raise WireError(f"an answer of {size} bytes is larger than the {MAX_FRAME_BYTES}-byte limit")
    try:
        return json.loads(_read_exactly(fd, size, deadline).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WireError("an answer that is not JSON") from None


# ---------------------------------------------------------------------------
# The judge's side.

INSTALL_BUBBLEWRAP = (
    "bubblewrap (`bwrap`) is missing: install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
    "Fedora: `sudo dnf install bubblewrap`), or, on a development machine only, grade with "
    "`--no-isolation` (NO_ISOLATION=1 for make), which runs submissions without the OS sandbox."
)
# The uid a submission runs as when the judge is root: one of its own, unprivileged,
# so that the process limit counts the submission's processes only.
SANDBOX_UID = 61000 + os.getpid() % 1000
SANDBOX_HOME = "/tmp/work"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot make its namespaces here; the message says what to do."""


def _bwrap():
    return shutil.which("bwrap")


def _unprivileged():
    return os.geteuid() != 0


def _tasks_of(uid):
    """How many processes and threads `uid` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def _limits(memory_limit, file_size_limit, max_processes):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
        if max_processes is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))

    return apply


def _read_only_paths():
    """What the sandbox sees, read-only: the system, the Python environment, the course's package."""
    import course_lib

    paths = ["/usr", "/etc", sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(os.path.abspath(course_lib.__file__))]
    chosen = []
    for path in sorted({os.path.realpath(p) for p in paths} | {os.path.abspath(p) for p in paths}, key=len):
        if os.path.isdir(path) and not any(path == c or path.startswith(c + os.sep) for c in chosen):
            chosen.append(path)
    return chosen


def bwrap_command(memory_fd, hide=(), disk_limit=512 << 20, uid=None):
    """The bubblewrap command line that runs the child of a `SubmissionProcess`.

    The child gets new PID, mount, network, IPC, UTS and cgroup namespaces; a
    root of its own that holds, read-only, only `/usr`, `/etc`, the Python
    environment and the course's package (never the judge's files, the batch
    of submissions, `build/` or the output folder; `hide` lists folders to mask
    should they lie inside one of those); its own `/proc` and `/dev`; and a
    `disk_limit`-byte tmpfs at `/tmp` whose `/tmp/work` (its working directory
    and home) holds its copy of the submission, read from `memory_fd`. It dies
    with the judge (`--die-with-parent`). As root, the judge runs bubblewrap
    privileged and drops the child to an unprivileged uid of its own with
    `setpriv`; as another user, bubblewrap makes a user namespace.
    """
    bwrap = _bwrap()
    if bwrap is None:
        raise SandboxUnavailable(INSTALL_BUBBLEWRAP)
    argv = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "sandbox", "--die-with-parent", "--new-session"]
    if _unprivileged():
        argv += ["--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000", "--cap-drop", "ALL"]
    made = set()
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            made.add(f"/{link}")
    for path in _read_only_paths():
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", path, path]
    roots = _read_only_paths()
    for path in sorted({os.path.realpath(p) for p in hide}):
        if any(path == r or path.startswith(r + os.sep) for r in roots):
            argv += ["--tmpfs", path]  # an empty folder over what the submission must not see
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(int(disk_limit)), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "0777", "--dir", SANDBOX_HOME,
             "--perms", "0444", "--file", str(memory_fd), f"{SANDBOX_HOME}/submission.ipynb",
             "--chdir", SANDBOX_HOME, "--clearenv"]
    environment = {
        "HOME": SANDBOX_HOME, "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "USER": "student",
        "LOGNAME": "student", "MPLBACKEND": "Agg", "KERAS_HOME": f"{SANDBOX_HOME}/.keras",
        "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow"), "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in environment.items():
        argv += ["--setenv", key, value]
    if not _unprivileged():
        argv += ["--", shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid or SANDBOX_UID}",
                 f"--regid={uid or SANDBOX_UID}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                 "--no-new-privs"]
    return argv + ["--"]


def check_sandbox():
    """Raises `SandboxUnavailable` (saying why and what to do) unless bubblewrap can run a sandbox here."""
    memory_fd = os.memfd_create("probe")
    try:
        argv = bwrap_command(memory_fd) + [sys.executable, "-I", "-c", "import os; print(os.getuid())"]
        result = subprocess.run(argv, pass_fds=(memory_fd,), capture_output=True, text=True, timeout=60,
                                preexec_fn=_limits(8 << 30, 1 << 20, 64))
    finally:
        os.close(memory_fd)
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap is installed but could not make a sandbox here: {result.stderr.strip()[-500:]} "
            "(a container may forbid the namespaces it needs: mount namespaces as root, unprivileged user "
            "namespaces otherwise; grade on the host or in a container that allows them, or with "
            "`--no-isolation` on a development machine with trusted notebooks)."
        )
    if result.stdout.strip() == "0":
        raise SandboxUnavailable("the sandbox's process still runs as root; refusing to grade.")


class SubmissionProcess:
    """A child Python process that runs a submission's cells and answers calls by data.

    Args:
        submission: the submission's bytes, copied into the child's private
            folder as `submission.ipynb` (default: none, an empty file).
        isolation: True (default) runs the child in bubblewrap's OS sandbox
            (`bwrap_command`); False runs it as a plain child process of the
            judge's own user, which a hostile submission can escape: for
            development only.
        memory_limit: the child's address-space limit in bytes (default 8 GiB).
        file_size_limit: the largest file the child may write, in bytes (default 256 MiB).
        disk_limit: the size of the sandbox's writable tmpfs, in bytes (default 512 MiB).
        max_processes: how many processes and threads the child's uid may run
            (default 256; TensorFlow alone starts a few dozen threads).
        hide: folders the child must not see even if they lie inside the
            environment or the course (the batch, the output folder, the autograder).
        preload: modules the child imports before it answers (`wait_ready`);
            the judge preloads `PRELOADED`, so that a cell's time limit
            measures the cell, not the loading of TensorFlow.

    Every request takes a `timeout` in seconds. When it passes, the child and
    every process it started are killed (with the sandbox, its PID namespace
    ends) and `TimeLimitExceeded` is raised; a child that exits or crashes
    raises `SubmissionDied`. The child runs Python isolated (`-I`: no working
    folder or user site on its path); its standard output and error go to
    `/dev/null`, so a submission that prints gigabytes costs time only.
    """

    def __init__(self, submission=b"", isolation=True, memory_limit=8 << 30, file_size_limit=256 << 20,
                 disk_limit=512 << 20, max_processes=256, hide=(), preload=()):
        self.isolation = bool(isolation)
        self._tmp = None
        self._ready = False
        request_read, self._request = os.pipe()
        self._answer, answer_write = os.pipe()
        child = [sys.executable, "-I", "-B", "-m", "course_lib.grading.sandbox", str(request_read), str(answer_write),
                 ",".join(preload)]
        pass_fds = [request_read, answer_write]
        memory_fd = None
        try:
            if self.isolation:
                memory_fd = os.memfd_create("submission")
                os.write(memory_fd, bytes(submission))
                os.lseek(memory_fd, 0, os.SEEK_SET)
                pass_fds.append(memory_fd)
                argv, env, cwd = bwrap_command(memory_fd, hide, disk_limit) + child, {}, "/"
                if _unprivileged():
                    max_processes += _tasks_of(os.getuid())  # the limit counts the judge's user's processes too
            else:
                self._tmp = tempfile.TemporaryDirectory(prefix="submission-")
                with open(os.path.join(self._tmp.name, "submission.ipynb"), "wb") as file:
                    file.write(bytes(submission))
                argv, cwd = child, self._tmp.name
                env = dict(os.environ, MPLBACKEND="Agg")
                max_processes = None  # no dedicated uid: a limit would count the judge's own processes
            self._child = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                pass_fds=pass_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: killed as a whole
                preexec_fn=_limits(memory_limit, file_size_limit, max_processes),
            )
        finally:
            os.close(request_read)
            os.close(answer_write)
            if memory_fd is not None:
                os.close(memory_fd)

    @property
    def alive(self):
        return self._child is not None and self._child.poll() is None

    def wait_ready(self, timeout):
        """Waits, at most `timeout` seconds, until the child has loaded Python's libraries and can run cells.

        The child imports the `preload` modules before it answers; `request`
        waits for this itself (within its own timeout) when it has not been
        waited for.
        """
        if self._ready:
            return
        if not self.alive:
            raise SubmissionDied()
        try:
            answer = _read_frame(self._answer, time.monotonic() + max(float(timeout), 0.0))
        except (TimeLimitExceeded, SubmissionDied, WireError) as error:
            self.kill()
            raise error from None
        if answer != {"ready": True}:
            self.kill()
            raise WireError("the child did not start as expected")
        self._ready = True

    def request(self, message, timeout):
        """Sends one request and returns the child's answer (a dict), within `timeout` seconds."""
        if not self.alive:
            raise SubmissionDied()
        deadline = time.monotonic() + max(float(timeout), 0.0)
        self.wait_ready(timeout)
        try:
            _write_frame(self._request, message)
            answer = _read_frame(self._answer, deadline)
        except (TimeLimitExceeded, SubmissionDied, WireError, OSError) as error:
            self.kill()
            if isinstance(error, OSError):  # the pipe broke: the child is gone
                raise SubmissionDied() from None
            raise
        if type(answer) is not dict:
            raise WireError("an answer that is not a JSON object")
        return answer

    def _value(self, answer):
        if "error" in answer:
            error = answer["error"]
            if type(error) is not list or len(error) != 2:
                raise WireError("malformed error")
            raise remote_exception(*error)
        if "value" not in answer:
            raise WireError("an answer without a value")
        return decode(answer["value"])

    def run_cell(self, source, timeout=60.0):
        """Executes one code cell; returns None, or the error it raised as `(type name, message)`."""
        answer = self.request({"op": "cell", "source": str(source)}, timeout)
        error = answer.get("error")
        if error is None:
            return None
        if type(error) is not list or len(error) != 2:
            raise WireError("malformed error")
        return str(error[0])[:100], str(error[1])[:MAX_MESSAGE_CHARS]

    def describe(self, names, timeout=60.0):
        """{name: ("missing" | "callable" | "value", value or None)} for names in the notebook's namespace."""
        answer = self.request({"op": "describe", "names": list(names)}, timeout)
        found = self._value(answer)
        if type(found) is not dict:
            raise WireError("malformed description")
        result = {}
        for name in names:
            kind, value = found.get(name, ("missing", None))
            if kind not in ("missing", "callable", "value"):
                raise WireError("malformed description")
            result[name] = (kind, value)
        return result

    def call(self, name, args, kwargs, timeout=60.0):
        """Calls the notebook's `name(*args, **kwargs)` in the child; returns its result as data."""
        message = {"op": "call", "name": str(name), "args": encode(tuple(args)), "kwargs": encode(dict(kwargs))}
        return self._value(self.request(message, timeout))

    def probe(self, source, function, args, kwargs, timeout=60.0):
        """Defines `source` (a judge's function) in the child and calls `function(*args, **kwargs)` there.

        `Ref` arguments are replaced by the notebook's values: that is how a
        probe reaches the submission's classes and functions.
        """
        message = {
            "op": "probe", "source": str(source), "function": str(function),
            "args": encode(tuple(args)), "kwargs": encode(dict(kwargs)),
        }
        return self._value(self.request(message, timeout))

    def kill(self):
        """Kills the child and every process it started.

        In the sandbox, killing bubblewrap ends the PID namespace and every
        process in it; without isolation, the child's process group is killed.
        """
        if self._child is None:
            return
        try:
            os.killpg(self._child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._child.wait()
        for fd in (self._request, self._answer):
            try:
                os.close(fd)
            except OSError:
                pass
        self._child = None

    def close(self):
        self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def remote_exception(type_name, message):
    """The judge's exception for an error raised in the child: a builtin type when the name is one."""
    type_name, message = str(type_name)[:100], str(message)[:MAX_MESSAGE_CHARS]
    builtin = getattr(builtins, type_name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__module__ == "builtins":
        try:
            return builtin(message)
        except Exception:
            pass
    name = type_name if type_name.isidentifier() else "SubmissionError"
    return type(name, (Exception,), {})(message)


# ---------------------------------------------------------------------------
# The child's side: runs in the submission's process, so nothing here is trusted by the judge.

def _error(error):
    try:
        message = str(error)
    except Exception:
        message = "?"
    return [type(error).__name__, message[:MAX_MESSAGE_CHARS]]


# What the judge's children load before they answer (see `SubmissionProcess.wait_ready`).
PRELOADED = ("numpy", "keras", "otter")


def _serve(request_fd, answer_fd, preload=()):
    import importlib

    from course_lib._optional import import_optional

    InteractiveShell = import_optional("IPython.core.interactiveshell", "the grader's sandbox").InteractiveShell

    for module in preload:
        try:
            importlib.import_module(module)
        except Exception:  # a missing library fails in the cell that imports it, as in Jupyter
            pass
    shell = InteractiveShell.instance()
    namespace = shell.user_ns
    _write_frame(answer_fd, {"ready": True})

    def resolve(name):
        if name not in namespace:
            raise NameError(f"name {name!r} is not defined")
        return namespace[name]

    while True:
        try:
            request = _read_frame(request_fd)
        except SubmissionDied:
            return
        op = request.get("op")
        try:
            if op == "cell":
                result = shell.run_cell(request["source"], store_history=False, silent=False)
                error = result.error_before_exec or result.error_in_exec
                answer = {"error": None if error is None else _error(error)}
            elif op == "describe":
                found = {}
                for name in request["names"]:
                    if name not in namespace:
                        found[name] = ("missing", None)
                    elif callable(namespace[name]):
                        found[name] = ("callable", None)
                    else:
                        found[name] = ("value", namespace[name])
                answer = {"value": encode(found, strict=False)}
            elif op in ("call", "probe"):
                args = decode(request["args"], resolve=resolve)
                kwargs = decode(request["kwargs"], resolve=resolve)
                if op == "call":
                    function = resolve(request["name"])
                else:
                    scope = {"__name__": "course_lib_probe"}
                    exec(compile(request["source"], "<probe>", "exec"), scope)
                    function = scope[request["function"]]
                answer = {"value": encode(function(*args, **kwargs), strict=False)}
            else:
                answer = {"error": ["ValueError", f"unknown request {op!r}"]}
        except BaseException as error:  # the submission's error (or exit), reported, not fatal
            answer = {"error": _error(error)}
        _write_frame(answer_fd, answer)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), [m for m in sys.argv[3].split(",") if m] if len(sys.argv) > 3 else ())
