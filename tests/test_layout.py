"""The package's shape: folders that follow the data, each importing only from the layers below it
(counting the imports inside functions), small modules, and the modules the command line answers bad
input from do not load TensorFlow."""

import ast
import re

from tests.conftest import ROOT

PACKAGE = ROOT / "gan_keras"
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, known, top_level_only=False):
    """The gan_keras modules a module imports, anywhere in it (inside functions too) or at its top level."""
    nodes = ast.parse(path.read_text()).body if top_level_only else ast.walk(ast.parse(path.read_text()))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("gan_keras")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_keras"):
            submodules = {f"{node.module}.{a.name}" for a in node.names} & known  # from package import module
            names |= submodules or {node.module}
    return names


def import_graph(top_level_only=False):
    known = {module_name(p) for p in MODULES}
    graph = {module_name(p): imported_modules(p, known, top_level_only) for p in MODULES}
    return {module: {m for m in imports if m in graph and m != module} for module, imports in graph.items()}


def cycles(graph):
    visiting, done, found = [], set(), []

    def visit(module):
        if module in visiting:
            found.append(visiting[visiting.index(module):] + [module])
            return
        if module in done:
            return
        visiting.append(module)
        for other in sorted(graph[module]):
            visit(other)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    return found


def test_no_module_imports_itself_back_not_even_inside_a_function():
    graph = import_graph()
    assert len(graph) > 30 and cycles(graph) == []


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import os\n\ndef f():\n    from gan_keras.b import g\n")
    b.write_text("from gan_keras.a import f\n")
    graph = {"gan_keras.a": imported_modules(a, set()), "gan_keras.b": imported_modules(b, set())}
    assert cycles(graph) == [["gan_keras.a", "gan_keras.b", "gan_keras.a"]]
    assert imported_modules(a, set(), top_level_only=True) == set()


# The order of the layers, lowest first: a module imports from its own layer and the ones below it.
# The first holds the small shared modules and the shipped files (`pretrained/`: package data).
LAYERS = (
    ("errors", "files", "images", "registry", "options", "backend", "quiet_tensorflow", "notebook", "pretrained"),
    ("data",),
    ("networks",),
    ("training",),
    ("runs",),
    ("metrics",),
    ("tools", "bench"),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
ENTRY_POINTS = {"gan_keras", "gan_keras.__main__", "gan_keras.pretrained.__main__"}  # `import gan_keras as gk`, -m


def layer(module):
    return RANK[module.split(".")[1]]


def upward_imports(graph):
    return sorted((module, other) for module, imports in graph.items() if module not in ENTRY_POINTS
                  for other in imports if layer(other) > layer(module))


def test_every_module_is_in_a_layer_and_no_import_runs_upward_not_even_inside_a_function():
    graph = import_graph()
    assert {m for m in graph if m not in ENTRY_POINTS and m.split(".")[1] not in RANK} == set()
    assert upward_imports(graph) == []


def test_the_layer_check_sees_an_upward_import():
    graph = {"gan_keras.data.load": {"gan_keras.runs.folder"}, "gan_keras.runs.folder": {"gan_keras.errors"}}
    assert upward_imports(graph) == [("gan_keras.data.load", "gan_keras.runs.folder")]


def test_the_folders_follow_the_data_and_no_module_is_long():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"data", "networks", "training", "runs", "metrics", "tools", "cli", "bench", "pretrained"} <= folders
    long = {module_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


def test_the_command_line_declares_its_options_once():
    calls = sum(len(re.findall(r"\.add_argument\(", p.read_text())) for p in MODULES)
    assert calls <= 60, calls


def test_the_modules_that_check_input_do_not_load_tensorflow():
    light = ["cli", "cli.commands", "options", "training.config", "runs.config", "runs.folder", "errors", "pretrained",
             "files", "tools.pack", "bench.training_step", "tools.latent",
             "tools.projection", "tools.perceptual", "tools.directions", "tools.edit", "tools.video", "tools.export",
             "tools.explorer", "data.download", "data.sources"]
    for name in light:
        path = PACKAGE.joinpath(*name.split("."))
        path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in modules), (name, modules)
