"""The part of the grader that runs inside the submission's kernel (standard library only).

The grader never imports this module in the kernel: each cell it adds carries this file's source
text and runs it with the ``builtins`` module's own ``exec`` (taken with an ``import`` statement,
so a learner's ``def exec`` or ``def open`` in the notebook does not reach it), then calls one function:

* :func:`baseline` runs before any cell of the submission and prints a fingerprint of the
  interpreter (which object every name of ``builtins``, ``sys``, ``math``, ``numpy``, ``torch``
  and the course's modules is bound to);
* :func:`run_check` runs one exercise's check from a **private, verified copy** of the package: it
  reads the package's files, compares each with the SHA-256 the grader computed before the kernel
  started, and imports them under a name no learner's cell can have known
  (``_course_check_<nonce>``). The check passes only if it returns normally *and* the interpreter's
  fingerprint is the same after it as before it (code called by the check changed nothing), with
  no trace function set. It prints one record line, ``[course grader <nonce>] {...}``.

The grader reads those lines from the executed notebook, outside the kernel (with
``ast.literal_eval``, never ``eval``): a record counts only in the check's own cell, with that
check's nonce, once; fingerprints are compared with the baseline there too.
"""
import base64
import builtins
import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys
import time
import zlib

RECORD_PREFIX = "[course grader "
_MAX_MESSAGE = 2000
_WATCHED = ("builtins", "math", "numpy", "numpy.linalg", "torch", "torch.nn.functional")
_SYS_NAMES = ("modules", "meta_path", "path_hooks", "stdout", "stderr", "displayhook", "excepthook",
              "settrace", "setprofile", "gettrace", "getprofile", "_getframe", "addaudithook", "exc_info")
_VOLATILE = {("builtins", "input"), ("builtins", "raw_input"), ("builtins", "getpass")}  # ipykernel rebinds these per cell

# The real classes and functions, taken from the builtins module when this source is run (the
# grader's cell runs it afresh before each check).
_b = builtins
_AssertionError, _NotImplementedError, _KeyboardInterrupt = _b.AssertionError, _b.NotImplementedError, \
    _b.KeyboardInterrupt
_BaseException, _exec, _compile, _open, _repr = _b.BaseException, _b.exec, _b.compile, _b.open, _b.repr
_import, _str, _type, _id, _getattr = _b.__import__, _b.str, _b.type, _b.id, _b.getattr


def _attr(value, name: str) -> str:
    try:  # some objects (torch.classes, torch.ops) raise on any attribute they do not have
        return _str(_getattr(value, name, ""))
    except _BaseException:  # noqa: BLE001
        return ""


def _token(value) -> str:
    """A short stand-in for the object ``value`` is: its identity, type and name."""
    for _ in range(8):  # torch wraps some of its own functions on first use (e.g. torch.manual_seed by dynamo)
        inner = _getattr(value, "__wrapped__", None) if _type(value).__name__ == "function" else None
        if inner is None:
            break
        value = inner
    kind = _type(value)
    identity = _str(_id(value))
    if kind.__name__ == "method":  # a bound method is a new object at each lookup: use what it binds
        identity = f"{_id(_getattr(value, '__func__', None))}:{_id(_getattr(value, '__self__', None))}"
    text = f"{identity}|{kind.__module__}.{kind.__qualname__}|{_attr(value, '__module__')}.{_attr(value, '__qualname__')}"
    return format(zlib.crc32(text.encode("utf-8", "replace")), "08x")


def fingerprint_dict() -> dict:
    """Which object each watched name is bound to now: ``{module: {name: token}}``."""
    found = {}
    modules = sys.modules
    names = list(_WATCHED) + sorted(n for n in list(modules) if n == "course_utils" or n.startswith("course_utils."))
    for name in names:
        module = modules.get(name)
        if module is None:
            continue
        entries = {"<module>": _token(module)}
        for attr, value in list(vars(module).items()):
            if (attr.startswith("__") and attr not in ("__import__", "__build_class__")) or (name, attr) in _VOLATILE:
                continue
            try:
                watched = callable(value) or isinstance(value, _type(sys))
            except _BaseException:  # noqa: BLE001
                watched = False
            if watched:
                entries[attr] = _token(value)
        found[name] = entries
    found["sys"] = {attr: _token(_getattr(sys, attr, None)) for attr in _SYS_NAMES}
    found["sys"]["<trace>"] = _token(sys.gettrace())
    found["sys"]["<profile>"] = _token(sys.getprofile())
    return found


def pack(found: dict) -> str:
    return base64.b64encode(zlib.compress(json.dumps(found, sort_keys=True).encode(), 6)).decode("ascii")


def unpack_fingerprint(text: str) -> dict:
    """The ``{module: {name: token}}`` of a packed fingerprint (used by the grader, outside the kernel)."""
    return json.loads(zlib.decompress(base64.b64decode(text)))


def _changed(before: dict, after: dict) -> list:
    return [f"{m}.{n}" for m, names in before.items() for n, t in names.items()
            if after.get(m, {}).get(n, t) != t]


def _emit(write, flush, nonce: str, record: dict) -> None:
    write("\n" + RECORD_PREFIX + nonce + "] " + _repr(record) + "\n")
    flush()


def baseline(nonce: str) -> None:
    """Import what the checks use and print the interpreter's fingerprint before the submission runs."""
    # also what every lesson imports first, so that its cost is not charged to the learner's first cell
    for name in ("numpy", "numpy.linalg", "torch", "torch.nn.functional", "matplotlib.pyplot", "course_utils.checks"):
        try:
            _import(name)
        except Exception:  # noqa: BLE001 - a missing library is the submission's problem, reported later
            pass
    _emit(sys.stdout.write, sys.stdout.flush, nonce, {"kind": "baseline", "fingerprint": pack(fingerprint_dict())})


class _VerifiedSources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``<private>.<module>`` from source text read and verified once (never from the disk again)."""

    def __init__(self, private: str, sources: dict):
        self.private, self.sources = private, sources  # {dotted name below the package: (path, text, is_package)}

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.private and not fullname.startswith(self.private + "."):
            return None
        key = fullname[len(self.private) + 1:]
        if key not in self.sources:
            return None
        origin, _, is_package = self.sources[key]
        return importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        origin, text, is_package = self.sources[module.__name__[len(self.private) + 1:]]
        module.__file__ = origin
        if is_package:
            module.__path__ = []
        _exec(_compile(text, origin, "exec"), module.__dict__)


def _read_verified(package_dir: str, expected: dict) -> tuple:
    """The package's sources by module name, and the files whose content is not what the grader hashed."""
    sources, changed = {}, []
    for relative, digest in sorted(expected.items()):
        path = os.path.join(package_dir, *relative.split("/"))
        try:
            with _open(path, "rb") as f:
                data = f.read()
        except OSError:
            changed.append(relative)
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            changed.append(relative)
            continue
        parts = relative[:-3].split("/")
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = (path, data.decode("utf-8"), is_package)
    return sources, changed


def run_check(exercise_id: str, source: str, nonce: str, package_dir: str, expected: dict, namespace: dict) -> None:
    """Run one course check on the learner's names and print its record; never raises.

    ``source`` is the instructor's check cell (``checks.<name>(<learner's function>)``); it runs in a
    copy of the learner's namespace in which ``checks`` is the private copy of the course's checks.
    """
    write, flush = sys.stdout.write, sys.stdout.flush  # bound now, before any learner code runs
    start = time.perf_counter()
    private = f"_course_check_{nonce}"
    finder, tamper = None, []
    if sys.gettrace() is not None or sys.getprofile() is not None:
        tamper.append("a trace or profile function was set before the check (removed for the check)")
        sys.settrace(None)
        sys.setprofile(None)
    before = fingerprint_dict()
    try:
        sources, changed = _read_verified(package_dir, expected)
        if changed:
            tamper.append("the course's files changed on disk while the submission ran: " + ", ".join(changed))
            raise RuntimeError("the course's check files were modified; the check cannot be trusted")
        finder = _VerifiedSources(private, sources)
        sys.meta_path.insert(0, finder)
        checks = _import(private + ".checks", fromlist=["_"])
        scope = dict(namespace)
        scope["checks"], scope["__builtins__"] = checks, _b
        _exec(_compile(source, f"<course check {exercise_id}>", "exec"), scope)
        status, message = "passed", ""
    except _NotImplementedError:
        status, message = "not attempted", "the solution still raises NotImplementedError"
    except _AssertionError as err:
        status, message = "failed", _str(err) or "the check failed without a message"
    except _KeyboardInterrupt:
        status, message = "timeout", "the check was interrupted: it ran past the per-cell time limit"
    except _BaseException as err:  # noqa: BLE001 - a learner's SystemExit must not end grading either
        status, message = "error", f"{_type(err).__name__}: {err}"
    finally:
        if finder is not None:
            try:
                sys.meta_path.remove(finder)
            except ValueError:
                tamper.append("the grader's importer was removed from sys.meta_path during the check")
            for name in [n for n in list(sys.modules) if n == private or n.startswith(private + ".")]:
                sys.modules.pop(name, None)
    after = fingerprint_dict()
    changed = _changed(before, after)
    if sys.gettrace() is not None or sys.getprofile() is not None:
        changed.append("a trace or profile function")
        sys.settrace(None)
        sys.setprofile(None)
    if changed:
        tamper.append("code called by the check changed " + ", ".join(changed[:8]))
        if status == "passed":
            status, message = "error", "the check's result cannot be trusted: the code it called changed the interpreter"
    record = {"kind": "check", "id": exercise_id, "status": status, "message": message[:_MAX_MESSAGE],
              "seconds": round(time.perf_counter() - start, 3), "fingerprint": pack(after), "tamper": tamper}
    _emit(write, flush, nonce, record)
