"""The package's shape: the modules import each other without cycles (at module level, where a cycle
breaks `import`), and the modules the command line answers bad input from do not load TensorFlow."""

import ast

from tests.conftest import ROOT

PACKAGE = ROOT / "gan_keras"


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path):
    """The gan_keras modules a module imports when it is imported (not inside functions)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("gan_keras")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_keras"):
            names.add(node.module)
    return names


def test_no_module_of_the_package_imports_itself_back():
    graph = {module_name(p): top_level_imports(p) for p in PACKAGE.rglob("*.py")}
    for module in graph:
        graph[module] = {m for m in graph[module] if m in graph and m != module}
    visiting, done, cycles = [], set(), []

    def visit(module):
        if module in visiting:
            cycles.append(visiting[visiting.index(module):] + [module])
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
    assert len(graph) > 30 and cycles == []


def test_the_modules_that_check_input_do_not_load_tensorflow():
    light = ["cli", "config", "errors", "pretrained", "latent", "projection", "directions", "video", "export",
             "explorer"]
    for name in light:
        path = PACKAGE / (name + ".py") if (PACKAGE / (name + ".py")).is_file() else PACKAGE / name / "__init__.py"
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in modules), (name, modules)
