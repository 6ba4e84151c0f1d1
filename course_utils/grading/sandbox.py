"""The sandbox a submission's kernel runs in: what it may see, write, start and use.

:func:`detect` finds, once per process, the strongest isolation this machine offers, by trying
each candidate on a real interpreter start:

* ``bwrap`` (bubblewrap): new PID, network, IPC and UTS namespaces and a new mount namespace
  holding only **read-only** views of what the kernel needs (``/usr``, a few files of ``/etc``,
  the interpreter and its virtual environment (with any folder its ``.pth`` files add), the
  ``course_utils`` package and the CIFAR-10 mini file; not the instructor notebooks, not the
  grader's report, not other submissions), one writable scratch folder and a small private ``/tmp``. The kernel runs as an unprivileged user:
  as root, a fresh numeric uid per submission (``setpriv`` inside the sandbox, no capabilities);
  otherwise the grader's own uid inside a user namespace that cannot make further ones. When the
  sandbox's first process ends, the kernel ends every process left in its PID namespace: nothing
  the submission starts outlives its grading.
* ``unshare`` (util-linux): new user, PID and network namespaces only; files are **not** hidden.
* ``setpriv`` (util-linux; root only, and only when asked for by name: the Gradescope autograder
  takes it where a container refuses namespaces): no namespace at all, but the kernel runs as a
  fresh unprivileged uid without capabilities, so it cannot write the grader's files or read what
  is root's alone (the secret, the report's folder); afterwards every process of that uid is ended.
  It shares the network and sees every world-readable file.
* ``none``: the kernel runs as the grader's user with the grader's view of the files; graders
  are told so once on stderr and in the report.

In every case the kernel gets limits (``prlimit``) on memory (address space), CPU seconds,
processes (as root: of its own uid) and file size, a minimal environment (no secret of the
grader's), and talks to the grader over Unix sockets in its scratch folder (ZeroMQ's ``ipc``
transport: a kernel without a network still reaches its client).

Example:
    >>> isolation = detect("none")
    >>> isolation.method, isolation.isolated
    ('none', False)
"""
from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]   # the course_utils the grader runs: what the kernel imports
METHODS = ("auto", "bwrap", "unshare", "setpriv", "none")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime", "fonts",
        "alternatives")
_TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_TMP_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Limits:
    """What one kernel may use: address space (MB), CPU seconds per process, processes (threads count),
    bytes per written file."""

    memory_mb: int = 8192
    cpu_seconds: int = 3600
    processes: int = 512
    file_bytes: int = 2**30

    def prlimit(self, count_processes: bool) -> list[str]:
        """``prlimit`` options for these limits (processes only when the kernel has a uid of its own)."""
        opts = [f"--as={self.memory_mb * 2**20}", f"--cpu={self.cpu_seconds}", f"--fsize={self.file_bytes}",
                "--core=0"]
        if count_processes:
            opts.append(f"--nproc={self.processes}")
        return opts


@dataclass(frozen=True)
class Isolation:
    """How kernels are isolated: ``method`` (``bwrap``, ``unshare`` or ``none``) and a sentence for the report."""

    method: str
    detail: str
    drop_uid: bool = False      # as root: run the kernel as a fresh uid of its own (setpriv in the sandbox)
    user_namespace: bool = False

    @property
    def isolated(self) -> bool:
        return self.method != "none"

    def describe(self) -> dict:
        """The report's ``isolation`` entry."""
        return {"method": self.method, "isolated": self.isolated, "detail": self.detail}

    def python(self) -> str:
        """The interpreter the kernel runs: the grader's, by a path that exists inside the sandbox."""
        if self.method != "bwrap":
            return sys.executable
        return str(Path(os.path.realpath(sys.prefix)) / "bin" / Path(sys.executable).name)

    def command(self, argv: list[str], scratch: Path, limits: Limits, uid: int | None = None,
                gpu: bool = False) -> list[str]:
        """``argv`` (the kernel's command, starting with :meth:`python`) wrapped in this isolation; with
        ``gpu`` (``--mode gpu``) the sandbox also shows the NVIDIA devices and ``/sys`` (read-only)."""
        argv = list(argv)
        prlimit = [_tool("prlimit"), *limits.prlimit(count_processes=uid is not None), "--"] if _tool("prlimit") else []
        if self.method == "none":
            return prlimit + argv
        if self.method == "setpriv":
            return prlimit + _drop_to(uid) + argv
        if self.method == "unshare":
            return prlimit + [_tool("unshare"), "--user", "--map-root-user", "--net", "--pid", "--fork",
                              "--kill-child", "--mount-proc", "--"] + argv
        wrapper = [_tool("bwrap"), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                   "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        if self.user_namespace:
            wrapper += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        else:  # as root: keep only what setpriv needs to become the kernel's own uid, then nothing
            wrapper += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                        "--cap-add", "CAP_SETPCAP"]
        wrapper += _views(scratch)
        if gpu:
            wrapper += ["--ro-bind-try", "/sys", "/sys"]
            for device in sorted(Path("/dev").glob("nvidia*")):
                wrapper += ["--dev-bind-try", str(device), str(device)]
        wrapper += ["--chdir", str(scratch), "--"]
        if self.drop_uid and uid is not None:
            wrapper += _drop_to(uid)
        return prlimit + wrapper + argv


def _drop_to(uid: int | None) -> list[str]:
    """``setpriv`` options that make the command run as ``uid`` (its own group), without capabilities."""
    if uid is None:
        raise ValueError("this isolation runs the kernel as a uid of its own: give one (fresh_uid())")
    return [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def _tool(name: str) -> str | None:
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/bin:/sbin:/bin")
    return str(Path(found).resolve()) if found else None


@functools.lru_cache(maxsize=None)
def site_path_folders() -> tuple[Path, ...]:
    """Folders that the path lines of ``.pth`` files in the interpreter's own site-packages add to its
    path (a virtual environment that borrows another's packages this way): part of the interpreter.
    Not ``PYTHONPATH``, whose folders (a checkout) the kernel must not see."""
    import site

    found = []
    for folder in dict.fromkeys(site.getsitepackages()):
        for pth in sorted(Path(folder).glob("*.pth")):
            try:
                lines = pth.read_text().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:   # as site.py reads them: comments and ``import`` lines are not folders
                line = line.rstrip()
                if line and not line.startswith(("#", "import ", "import\t")):
                    path = Path(os.path.abspath(os.path.join(folder, line)))   # as Python puts it on the path
                    if path.is_dir():
                        found.append(path)
    return tuple(found)


def _readonly_sources() -> list[Path]:
    """Folders and files the kernel reads, besides ``/usr`` and ``/etc``: interpreter, venv (with the
    folders its ``.pth`` files add), package, data."""
    paths = [Path(os.path.realpath(sys.base_prefix)), Path(os.path.realpath(sys.prefix)), PACKAGE_DIR,
             *site_path_folders()]
    mini = os.environ.get("COURSE_MINI_CIFAR", "").strip()
    if mini and Path(mini).is_file():
        paths.append(Path(os.path.realpath(mini)))
    data_dir = os.environ.get("COURSE_DATA_DIR", "").strip()
    if data_dir and Path(data_dir).is_dir():
        paths.append(Path(os.path.realpath(data_dir)))
    out = []
    for p in paths:
        if not any(p == q or q in p.parents for q in out) and Path("/usr") not in (p, *p.parents):
            out = [q for q in out if p not in q.parents] + [p]
    return out


def _views(scratch: Path) -> list[str]:
    """bwrap's mount options: read-only system, interpreter and package; one writable scratch folder."""
    args = ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
            "--size", str(_TMP_BYTES), "--tmpfs", "/tmp"]
    for name in _TOP_LINKS:
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    made = {Path("/"), Path("/usr"), Path("/etc"), Path("/tmp")}
    for path in _readonly_sources() + [scratch]:
        for parent in reversed(path.parents):  # bwrap would make them 0700, closed to the kernel's uid
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--bind" if path == scratch else "--ro-bind", str(path), str(path)]
    return args


def candidates(method: str = "auto") -> list[Isolation]:
    """The isolations to try, strongest first, for ``method`` (``auto`` tries them all)."""
    root = os.geteuid() == 0
    found = []
    if method in ("auto", "bwrap") and _tool("bwrap"):
        if root and _tool("setpriv"):
            found.append(Isolation("bwrap", "bubblewrap: no network, own PID namespace, read-only views of the "
                                   "interpreter and the course package only, one writable scratch folder; the kernel "
                                   "runs as a fresh unprivileged uid without capabilities", drop_uid=True))
        found.append(Isolation("bwrap", "bubblewrap in a user namespace: no network, own PID namespace, read-only "
                               "views of the interpreter and the course package only, one writable scratch folder; "
                               "no capabilities" + (" (uid 0 outside the namespace)" if root else ""),
                               user_namespace=True))
    if method in ("auto", "unshare") and _tool("unshare"):
        found.append(Isolation("unshare", "unshare: no network and its own PID namespace, but the kernel sees "
                               "the grader's files (bubblewrap is not available)"))
    if method == "setpriv" and root and _tool("setpriv"):
        found.append(Isolation("setpriv", "setpriv: the kernel runs as a fresh unprivileged uid without "
                               "capabilities (it cannot write the grader's files or read what is root's alone, "
                               "and its processes are ended afterwards), but it has the network and sees every "
                               "world-readable file (no namespaces here)", drop_uid=True))
    if method in ("auto", "none"):
        found.append(Isolation("none", "not isolated: the kernel runs as the grader's user, sees its files and "
                               "the network, and can leave processes behind"))
    return found


def _works(isolation: Isolation) -> bool:
    """Start the interpreter in ``isolation`` (importing the course package) and see that it answers."""
    uid = fresh_uid() if isolation.drop_uid else None
    scratch = make_scratch(uid)
    try:
        probe = [isolation.python(), "-c", "import course_utils, sys; sys.stdout.write('ok')"]
        done = subprocess.run(isolation.command(probe, scratch, Limits(), uid), capture_output=True, text=True,
                              timeout=60, env=kernel_env(scratch, "fast"), cwd=scratch)
        return done.returncode == 0 and done.stdout == "ok"
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def detect(method: str = "auto") -> Isolation:
    """The first of :func:`candidates` that works on this machine; raises ``RuntimeError`` when a
    method asked for by name (``bwrap``, ``unshare``) does not."""
    if method not in METHODS:
        raise ValueError(f"isolation must be one of {METHODS}, got {method!r}")
    for isolation in candidates(method):
        if isolation.method == "none" or _works(isolation):
            if isolation.method != "bwrap":   # said once per process (this function remembers its answer)
                print(f"course-grade: WARNING: kernels are {'not' if not isolation.isolated else 'only partly'} "
                      f"isolated: {isolation.detail}.", file=sys.stderr)
            return isolation
    raise RuntimeError(f"--isolation {method} does not work on this machine (is {method} installed, and may "
                       "this user make namespaces?); use --isolation auto to take the best one that does")


def fresh_uid() -> int:
    """A uid no account uses, for one kernel (as root): its processes count against no one else's limit."""
    return 200_000 + secrets.randbelow(1_000_000)


def make_scratch(uid: int | None = None) -> Path:
    """A new folder the kernel may write (its working folder, home, ``TMPDIR`` and sockets), owned by
    ``uid`` when given; with matplotlib's font list already in it (see :func:`_copy_font_cache`)."""
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="course-grade-kernel-"))
    (scratch / "tmp").mkdir()
    _copy_font_cache(scratch / ".matplotlib")
    if uid is not None:
        scratch.chmod(0o711)  # bwrap (root without capabilities) must enter it to start the kernel there
        for folder, _, files in os.walk(scratch):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid)
    return scratch


def kernel_env(scratch: Path, mode: str, threads: int | None = None) -> dict:
    """The kernel's whole environment: built, not inherited, so that no secret of the grader's reaches it."""
    env = {"PATH": os.pathsep.join([str(Path(os.path.realpath(sys.prefix)) / "bin"), "/usr/local/bin", "/usr/bin",
                                    "/bin"]),
           "HOME": str(scratch), "USER": "learner", "LOGNAME": "learner", "LANG": "C.UTF-8",
           "TMPDIR": str(scratch / "tmp"), "PYTHONPATH": str(PACKAGE_DIR.parent), "PYTHONNOUSERSITE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".matplotlib"),
           "IPYTHONDIR": str(scratch / ".ipython"), "JUPYTER_PLATFORM_DIRS": "1",
           "COURSE_MODE": mode, "COURSE_PROGRESS": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    for name in ("COURSE_MINI_CIFAR", "COURSE_DATA_DIR", "COURSE_DEVICE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


def _copy_font_cache(target: Path) -> None:
    """Give the kernel matplotlib's font list (built once by the grader's own matplotlib), so that it does
    not rebuild it (a second or two) in every fresh home folder."""
    cache = os.environ.get("XDG_CACHE_HOME", "") or os.path.expanduser("~/.cache")
    for folder in (os.environ.get("MPLCONFIGDIR", ""), os.path.join(cache, "matplotlib"),
                   os.path.expanduser("~/.matplotlib")):
        found = sorted(Path(folder).glob("fontlist-v*.json")) if folder and Path(folder).is_dir() else []
        if found:
            target.mkdir(exist_ok=True)
            for f in found:
                shutil.copyfile(f, target / f.name)
            return


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def pid_namespace(pid: int) -> str | None:
    """The PID namespace a sandbox started as process ``pid`` (bwrap's or unshare's) made, e.g.
    ``'pid:[4026532301]'``; ``None`` when it made none (isolation ``none``) or is gone."""
    own, todo = _namespace(os.getpid()), [pid]
    for _ in range(4):   # bwrap -> its init (pid 1 inside) -> ...
        later = []
        for p in todo:
            ns = _namespace(p)
            if ns is not None and ns != own:
                return ns
            later += _children(p)
        todo = later
    return None


def cpu_seconds(namespace: str | None, pid: int | None) -> float:
    """CPU seconds (user + system, with their reaped children's) of every process in PID ``namespace``,
    or of process ``pid`` when there is no namespace: read before the sandbox is killed, since a
    killed kernel's time never reaches the worker's own accounting."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [int(e) for e in os.listdir("/proc") if e.isdigit() and _namespace(int(e)) == namespace] \
        if namespace is not None else ([pid] if pid else [])
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += sum(int(x) for x in fields[11:15])   # utime, stime, cutime, cstime
        except (OSError, ValueError):
            continue
    return total / ticks


def _status(pid: str) -> tuple[str | None, int | None]:
    """Process ``pid``'s state letter (``R``, ``S``, ``Z``, ...) and real uid; ``None`` where unreadable."""
    state = uid = None
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open(f"/proc/{pid}/status") as f:
            uid = next((int(line.split()[1]) for line in f if line.startswith("Uid:")), None)
    except (OSError, ValueError, IndexError):
        pass
    return state, uid


def _wait_until_none(matches, limit: float, kill: bool) -> bool:
    """Wait (killing them when ``kill``) until no live process's pid matches ``matches``; ``True`` when none."""
    import signal
    import time

    deadline = time.monotonic() + limit
    while True:
        alive = [int(p) for p in os.listdir("/proc") if p.isdigit() and matches(p)]
        alive = [p for p in alive if _status(p)[0] not in ("Z", "X", None)]
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        for p in alive if kill else ():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def end_processes_of(uid: int | None, limit: float = 10.0) -> bool:
    """Kill every process whose real uid is ``uid`` (a kernel's own, from :func:`fresh_uid`: no one else
    has it) until none is left; ``True`` when none is. What ``setpriv`` isolation has instead of a PID
    namespace. (``None``: nothing to do.)"""
    if uid is None or uid < 200_000:   # never a uid that is not a kernel's own
        return True
    return _wait_until_none(lambda p: _status(p)[1] == uid, limit, kill=True)


def wait_until_empty(namespace: str | None, limit: float = 10.0) -> bool:
    """Wait until no process is left in PID ``namespace`` (the kernel kills them all once the sandbox's
    first process is gone); ``True`` when none is left."""
    if namespace is None:
        return True
    return _wait_until_none(lambda p: _namespace(int(p)) == namespace, limit, kill=False)


def main(argv=None) -> int:
    """``python -m course_utils.grading.sandbox``: say which isolation grading gets on this machine."""
    method = (argv or sys.argv[1:] or ["auto"])[0]
    isolation = detect(method)
    print(f"{isolation.method}: {isolation.detail}")
    return 0 if isolation.isolated else 1


if __name__ == "__main__":
    sys.exit(main())
