"""The package's shape: folders that follow the data, modules that import each other without cycles
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


def test_the_folders_follow_the_data_and_no_module_is_long():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {"data", "networks", "training", "metrics", "tools", "cli", "bench", "pretrained"} <= folders
    long = {module_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


def test_the_command_line_declares_its_options_once():
    calls = sum(len(re.findall(r"\.add_argument\(", p.read_text())) for p in MODULES)
    assert calls <= 60, calls


def test_the_modules_that_check_input_do_not_load_tensorflow():
    light = ["cli", "cli.commands", "options", "training.config", "errors", "pretrained", "tools.latent",
             "tools.projection", "tools.perceptual", "tools.directions", "tools.edit", "tools.video", "tools.export",
             "tools.explorer", "data.download", "data.sources"]
    for name in light:
        path = PACKAGE.joinpath(*name.split("."))
        path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in modules), (name, modules)
