"""A second line: reading a submission's code for tampering, to flag it for review.

No grade depends on this. Grades are decided outside the learner's kernel, on plain data the
kernel returns (see :mod:`.grader`); a submission's code that rewrites the course's modules, the
grader, the interpreter or the record it prints can change only its own answer. Such code is
still worth a human look (a submission that reads the hidden inputs and calls the course's own
reference code gets the points), so :func:`scan` reads every code cell's syntax tree, without
running it, and flags code that changes the course's modules, ``sys.modules`` and the import
system, ``builtins`` and the built-in exceptions, tracing/frames, IPython's history or hooks, or
that runs code it builds at run time (``exec``, ``eval``, ``getattr`` with a computed name),
which no review could read. A flagged submission is graded as usual and marked for review.

Example:
    >>> [f.reason for f in scan(["import course_utils.checks as c\\nc.gd_step = lambda f: None"])]
    ['replaces or changes course_utils.checks.gd_step (a course module)']
    >>> scan(["from course_utils import plotting\\nax = plotting.plot_curves({'a': [1, 2]})"])
    []
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FORBIDDEN_IMPORTS = {
    "builtins": "imports builtins (the interpreter's built-in names)",
    "importlib": "imports importlib (the import system)",
    "ctypes": "imports ctypes (raw memory access)",
    "gc": "imports gc (reaches any live object)",
    "runpy": "imports runpy (the loader the grader's cells use)",
    "imp": "imports imp (the import system)",
    "marshal": "imports marshal (code objects)",
}
_GRADER_MODULES = ("course_utils.grading", "course_utils.grade")
_DUNDERS = {"__builtins__", "__import__", "__globals__", "__code__", "__closure__", "__dict__", "__subclasses__",
            "__bases__", "__base__", "__mro__", "__self__", "__func__", "__wrapped__", "__defaults__",
            "__kwdefaults__", "__loader__", "__spec__", "__getattribute__", "__setattr__", "__delattr__"}
_FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "gi_frame",
                "cr_frame", "ag_frame"}
_INSPECT_FRAMES = {"currentframe", "stack", "trace", "getouterframes", "getinnerframes", "getframeinfo",
                   "getclosurevars", "getmodule"}  # inspect.getsource, signature, ... stay allowed
_SYS_ATTRS = {"modules", "meta_path", "path_hooks", "path_importer_cache", "settrace", "setprofile", "_getframe",
              "_current_frames", "addaudithook", "monitoring", "excepthook", "displayhook", "path"}
_MUTATORS = {"update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__", "append", "insert",
             "extend", "remove"}
_SHADOWED = {"print", "open", "exec", "eval", "compile", "globals", "locals", "vars", "isinstance", "issubclass",
             "getattr", "setattr", "hasattr", "delattr", "super", "object", "__import__"}
_MAGICS_OK = {"matplotlib", "time", "timeit", "config", "capture", "prun", "who", "whos", "precision"}
_HISTORY = re.compile(r"_i+\d*|_ih|In")
_GRADER_STRINGS = ("course grader", "_course_check_", "kernel_side", "__course_grader__", "/proc/", "records.jsonl",
                   "worker.json", "executed.ipynb", "graded.ipynb")
# Settings a notebook may honestly change on a library (prefixes of dotted paths).
_ALLOWED_SETTINGS = ("torch.backends.", "matplotlib.rcParams", "matplotlib.pyplot.rcParams", "os.environ",
                     "numpy.random.seed", "warnings.filters", "pandas.options.")


def _builtin_exceptions() -> set[str]:
    import builtins

    return {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


_EXCEPTIONS = _builtin_exceptions()


@dataclass
class Flag:
    """One reason to review a submission: ``where`` is ``"cell 8, line 2"`` or ``"check 01.1"``."""

    where: str
    reason: str
    cell: int | None = None  # the submission's cell, 1-based, when known

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _dotted(node) -> str | None:
    """``a.b.c`` for an attribute chain (subscripts kept as ``[]``), else ``None``."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            parts.append("[]")
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts)).replace(".[]", "[]").replace(".()", "()")
        else:
            return None


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Scanner(ast.NodeVisitor):
    """Walks one cell, knowing what earlier cells imported (``modules``: local name -> module path)."""

    def __init__(self, modules: dict):
        self.modules = modules
        self.found: list[tuple[int, str]] = []

    def flag(self, node, reason: str) -> None:
        self.found.append((getattr(node, "lineno", 1), reason))

    def _full(self, node) -> str | None:
        """The dotted path of ``node`` with its root replaced by the module it names (``np.x`` -> ``numpy.x``)."""
        dotted, root = _dotted(node), _root(node)
        if dotted is None or root not in self.modules:
            return None
        return self.modules[root] + dotted[len(root):]

    def _owner(self, node) -> tuple[str, str] | None:
        """``(path, kind)`` when ``node`` reaches into a course module, the grader, sys/builtins or a library."""
        full = self._full(node)
        if full is None:
            return None
        top = full.split(".")[0].split("[")[0]
        if top == "course_utils":
            return full, "a course module"
        if top in ("sys", "builtins"):
            return full, "the interpreter"
        return full, "a library the checks use"

    def _mutated(self, target, node, how: str) -> None:
        owner = self._owner(target)
        if owner is None or not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        path, kind = owner
        if kind == "a library the checks use" and path.startswith(_ALLOWED_SETTINGS):
            return
        self.flag(node, f"{how} {path} ({kind})")

    # imports ------------------------------------------------------------------------------
    def _imported(self, node, module: str) -> None:
        top = module.split(".")[0]
        if top in _FORBIDDEN_IMPORTS:
            self.flag(node, _FORBIDDEN_IMPORTS[top])
        if module.startswith(_GRADER_MODULES):
            self.flag(node, f"imports the grader ({module})")

    def visit_Import(self, node):
        for alias in node.names:
            self._imported(node, alias.name)
            if alias.asname:
                self.modules[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.modules[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        self._imported(node, module)
        for alias in node.names:
            self._imported(node, f"{module}.{alias.name}")
            if module == "inspect" and alias.name in _INSPECT_FRAMES:
                self.flag(node, f"imports inspect.{alias.name} (reaches the running frames)")
            self.modules[alias.asname or alias.name] = f"{module}.{alias.name}"
            if alias.name == "*" and module.startswith("course_utils"):
                self.flag(node, f"imports * from {module} into the notebook")
        self.generic_visit(node)

    # changes ------------------------------------------------------------------------------
    def visit_Assign(self, node):
        for target in node.targets:
            for t in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
                self._mutated(t, node, "replaces or changes")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._mutated(node.target, node, "changes")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._mutated(node.target, node, "replaces or changes")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._mutated(target, node, "deletes")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in ("exec", "eval", "compile"):
                self.flag(node, f"runs code built at run time ({func.id}), which a review cannot read")
            elif func.id in ("globals", "locals") or (func.id == "vars" and not node.args):
                self.flag(node, f"reaches the notebook's namespace through {func.id}()")
            elif func.id in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
                name = node.args[1]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    owner = self._owner(node.args[0])
                    library = owner is not None and owner[1] == "a library the checks use"
                    if func.id in ("setattr", "delattr") or not library:   # getattr(torch.optim, name) is fine
                        self.flag(node, f"{func.id} with a computed attribute name")
                elif name.value in _DUNDERS | _FRAME_ATTRS:
                    self.flag(node, f"{func.id}(..., {name.value!r}) reaches the interpreter's internals")
                if func.id in ("setattr", "delattr"):
                    owner = self._owner(node.args[0])
                    if owner is not None:
                        self.flag(node, f"{func.id} on {owner[0]} ({owner[1]})")
            elif func.id == "vars" and node.args and self._owner(node.args[0]):
                self.flag(node, f"vars() of {self._owner(node.args[0])[0]}")
            elif func.id == "__import__":
                self.flag(node, "calls __import__")
        elif isinstance(func, ast.Attribute):
            if func.attr in _MUTATORS:
                owner = self._owner(func.value)
                if owner is not None and (owner[1] != "a library the checks use"
                                          or not owner[0].startswith(_ALLOWED_SETTINGS)):
                    if owner[1] != "a library the checks use" or isinstance(func.value, ast.Attribute):
                        self.flag(node, f"changes {owner[0]} with .{func.attr}() ({owner[1]})")
            if _root(func) == "get_ipython":
                self._ipython(node, func)
        self.generic_visit(node)

    def _ipython(self, node, func) -> None:
        if func.attr in ("run_line_magic", "run_cell_magic") and node.args and isinstance(node.args[0], ast.Constant):
            magic = str(node.args[0].value)
            if magic not in _MAGICS_OK:
                self.flag(node, f"runs the IPython magic %{magic}")
        elif func.attr not in ("system", "getoutput", "run_line_magic", "run_cell_magic"):
            self.flag(node, f"reaches into the IPython shell ({_dotted(func) or func.attr})")

    # reads of internals -----------------------------------------------------------------
    def visit_Attribute(self, node):
        if node.attr in _DUNDERS or node.attr in _FRAME_ATTRS:
            self.flag(node, f"uses .{node.attr} (the interpreter's internals)")
        full = self._full(node)
        if full is not None:
            parts = full.split(".")
            if parts[0] == "inspect" and len(parts) > 1 and parts[1] in _INSPECT_FRAMES:
                self.flag(node, f"uses inspect.{parts[1]} (reaches the running frames)")
            if parts[0] == "sys" and len(parts) > 1 and parts[1].split("[")[0] in _SYS_ATTRS:
                self.flag(node, f"uses {'.'.join(parts[:2]).split('[')[0]} (the import system, tracing or hooks)")
        self.generic_visit(node)

    def visit_Compare(self, node):
        # `"google.colab" in sys.modules` (the course's own Colab cell) only reads: allowed
        if (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
                and self._full(node.comparators[0]) == "sys.modules"):
            self.visit(node.left)
            return
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in _DUNDERS:
            self.flag(node, f"uses {node.id}")
        elif _HISTORY.fullmatch(node.id) and isinstance(node.ctx, ast.Load):
            self.flag(node, f"reads the notebook's input history ({node.id}), where the grader's cells are")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and any(s in node.value for s in _GRADER_STRINGS):
            self.flag(node, "mentions the grader's internals in a string")


def _bound_at_top(tree) -> list[tuple[ast.AST, str]]:
    """Names a cell binds at its top level (where they shadow built-ins for later cells)."""
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node, node.name))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                out += [(node, n.id) for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out += [(node, (a.asname or a.name).split(".")[0]) for a in node.names]
    return out


def python_source(source: str) -> str:
    """A cell's source as Python (IPython magics and ``!`` commands turned into calls), as the kernel sees it."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # without IPython, magics stay syntax errors and their cells are skipped
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - a cell IPython cannot read is a syntax error in the kernel too
        return source


def scan(sources, numbers=None) -> list[Flag]:
    """Flags for the code cells ``sources`` (in notebook order; ``numbers`` are their 1-based cell numbers)."""
    numbers = list(numbers) if numbers is not None else list(range(1, len(sources) + 1))
    modules: dict[str, str] = {}
    flags: list[Flag] = []
    for number, source in zip(numbers, sources):
        try:
            tree = ast.parse(python_source(source))
        except SyntaxError:
            continue  # it cannot run either; the grader reports its error
        scanner = _Scanner(modules)
        scanner.visit(tree)
        for node, name in _bound_at_top(tree):
            if name in _EXCEPTIONS or name in _SHADOWED:
                kind = "a built-in exception" if name in _EXCEPTIONS else "a built-in"
                scanner.flag(node, f"rebinds {name} ({kind}) for the whole notebook")
        seen = set()
        for line, reason in sorted(scanner.found):
            if (line, reason) not in seen:
                seen.add((line, reason))
                flags.append(Flag(f"cell {number}, line {line}", reason, cell=number))
    return flags
