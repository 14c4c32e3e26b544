"""One place for every name a user chooses from: losses, augmentations, networks, metrics, ...

Each choice is declared once, beside the code that implements it, with `register` (a decorator)
or `declare` (a call):

    @register("loss", "hinge")
    class Hinge(GANLoss): ...

    declare("precision", "bfloat16", policy="mixed_bfloat16")

Importing the declaring module records the object; `get(kind, name)` imports it on first use. Before
any of that, `names(kind)` and `info(kind, name)` read the same declarations from the package's
source with `ast`, without importing it, so the command line, `config.validate` and the recipe list
and check names before TensorFlow loads. A declaration's keyword arguments are literals (numbers,
strings, tuples, dicts): they are the entry's `info`, the same whether read or imported. A new
variant is then its own module (or a few lines in one) plus its test; no list elsewhere to edit.

Example:
    >>> names("loss")[:3]
    ('nonsaturating', 'hinge', 'lsgan')
    >>> info("loss", "lsgan")["uses_targets"]
    True
    >>> get("loss", "hinge")         # the class, from gan_keras.training.losses (TensorFlow loads here)
    <class 'gan_keras.training.losses.Hinge'>
"""

import ast
import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gan_keras.errors import UsageError

# kind -> how a one-line error names it
KINDS = {"loss": "loss", "augment": "augmentation", "network": "model kind", "trainer": "trainer",
         "metric": "metric", "strategy": "strategy", "precision": "mixed precision", "dataset": "dataset",
         "distance": "distance", "direction": "direction method", "export": "export format",
         "space": "latent space", "layers": "style layer group", "callback": "run callback",
         "schedule": "schedule shape"}

PACKAGE = Path(__file__).parent
_objects = {}  # (kind, name) -> the registered object, recorded when its module is imported


class UnknownChoice(UsageError, ValueError):
    """A name that is not registered: one line with the choices (a UsageError for the command line,
    a ValueError for code that builds models)."""


@dataclass(frozen=True)
class Entry:
    """One declared choice: where it lives and what it says about itself."""

    kind: str
    name: str
    module: str
    info: dict


def register(kind, name, **info):
    """Decorator: declare the decorated class or function as the choice `name` of `kind`; a class
    also gets `name` as its attribute `registry_name` (its one spelling)."""
    _check_kind(kind)

    def record(obj):
        if isinstance(obj, type):
            obj.registry_name = name
        _objects[(kind, name)] = obj
        return obj

    return record


def declare(kind, name, obj=None, **info):
    """Declare a choice that is a value (an object built elsewhere, or only a name with `info`)."""
    _check_kind(kind)
    _objects[(kind, name)] = obj
    return obj


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; one of {', '.join(KINDS)}")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _declarations(path):
    """The `register(...)` / `declare(...)` calls at the top level of one source file (decorators of
    top-level classes and functions included), as (kind, name, info) in source order."""
    found = []
    for node in ast.parse(path.read_text(), str(path)).body:
        calls = []
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            calls = [d for d in node.decorator_list if isinstance(d, ast.Call)]
        elif isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, ast.Call):
            calls = [node.value]
        for call in calls:
            func = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
            if func not in ("register", "declare") or len(call.args) < 2:
                continue
            if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2]):
                continue
            kind, name = call.args[0].value, call.args[1].value
            if kind not in KINDS:
                continue
            try:
                meta = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            except ValueError:
                raise ValueError(f"{path.name}:{call.lineno}: {func}({kind!r}, {name!r}, ...) takes literal "
                                 "keyword arguments only (the registry reads them without importing)") from None
            found.append((kind, name, meta))
    return found


@cache
def entries():
    """{kind: {name: Entry}} of every declaration in the package, in a stable order: by the `order`
    a declaration gives (default 0; one module per choice, like the datasets, says where it goes),
    then files in sorted path order, declarations in source order within a file."""
    table = {kind: {} for kind in KINDS}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if path.name == "registry.py" or ("register(" not in text and "declare(" not in text):
            continue
        for kind, name, meta in _declarations(path):
            if name in table[kind]:
                raise ValueError(f"{KINDS[kind]} {name!r} is declared twice: in {table[kind][name].module} "
                                 f"and {_module_name(path)}")
            table[kind][name] = Entry(kind, name, _module_name(path), meta)
    return {kind: dict(sorted(found.items(), key=lambda item: item[1].info.get("order", 0))) for kind, found in
            table.items()}


def names(kind):
    """The names of one kind of choice, in declaration order."""
    _check_kind(kind)
    return tuple(entries()[kind])


def check(kind, name):
    """The Entry of `name`; one UnknownChoice line with the choices if there is none."""
    table = entries()[kind]
    if name not in table:
        raise UnknownChoice(f"unknown {KINDS[kind]} {name!r}; choose one of {', '.join(table)}")
    return table[name]


_REQUIRED = object()


def info(kind, name, default=_REQUIRED):
    """What the declaration of `name` says (its literal keyword arguments), read without importing;
    `default` where `name` is not declared (without it, one UnknownChoice line)."""
    if default is not _REQUIRED and name not in entries()[kind]:
        return default
    return check(kind, name).info


def having(kind, key):
    """The names of `kind` whose declaration says `key`, e.g. `having("dataset", "classes")`."""
    return tuple(name for name, entry in entries()[kind].items() if key in entry.info)


def where(kind, **wanted):
    """The names of `kind` whose info has these values, e.g. `where("dataset", digits=True)`."""
    return tuple(name for name, entry in entries()[kind].items()
                 if all(entry.info.get(key) == value for key, value in wanted.items()))


def get(kind, name):
    """The registered object of `name` (a class, a function, a value), importing its module first."""
    entry = check(kind, name)
    if (kind, name) not in _objects:
        importlib.import_module(entry.module)
    return _objects[(kind, name)]
