"""The package's shape: modules in layers, no import circles, none too long.

Read from the source (every ``import`` in a module, at its top or inside a function),
so that a circle is caught even where a lazy import hides it at run time. Imports
under ``if TYPE_CHECKING:`` (never run) and in a module's ``if __name__ ==
"__main__":`` block (the program that ``python -m`` runs, not an import of the module)
are left out.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "gan_cookbook"
MAX_LINES = 600

# Each layer may import the layers before it, never one after it. A module not
# listed is in no layer and only the circle test holds it.
LAYERS = [
    # Leaves: no Keras at import, nothing of the package but each other.
    {"checks", "choices", "launch", "pixels", "progress", "images", "plots"}
    | {"files", "locks"},
    {"noise", "loaders", "checkpoint", "schedule", "backend", "keras_objects"}
    | {"objectives", "batches"},
    {"loop", "models", "pair", "data", "run_folder", "options", "evaluation"}
    | {"fake_batch"},
    {"gan_model", "recipe", "average", "fused", "callbacks", "tensorboard"},
    {"cook", "training", "evaluate", "bench", "sampling", "recipes", "search_space"}
    | {"compare"},
    {"tune", "search_folder", "distributed", "trials", "recipe_file"},
    {"cli", "__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_skipped_block(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` and ``if __name__ == "__main__":``."""
    if not isinstance(node, ast.If):
        return False
    test = ast.unparse(node.test)
    return test in ("TYPE_CHECKING", "__name__ == '__main__'")


def imported_names(path: Path) -> list[tuple[str, list[str]]]:
    """Each import of the module: the module imported and the names taken."""
    found = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if is_skipped_block(child):
                # The else branch of such a block still runs.
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((child.module, [alias.name for alias in child.names]))
            elif isinstance(child, ast.Call) and ast.unparse(child.func).endswith(
                "import_module"
            ):
                if child.args and isinstance(child.args[0], ast.Constant):
                    found.append((str(child.args[0].value), []))
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def dependencies(name: str) -> set[str]:
    """The package's modules that ``name`` imports by name: ``from a.b import c``
    imports ``a.b``, or ``a.b.c`` when that is a module. (Python also runs the
    ``__init__`` of each package above a module; a package's own modules may import
    each other as its ``__init__`` imports them, and that is not counted.)"""
    deps = set()
    for module, names in imported_names(MODULES[name]):
        submodules = [f"{module}.{taken}" for taken in names]
        found = [candidate for candidate in submodules if candidate in MODULES]
        if module in MODULES and (not names or len(found) < len(submodules)):
            found.append(module)
        deps.update(candidate for candidate in found if candidate != name)
    return deps


GRAPH = {name: dependencies(name) for name in MODULES}


def reachable(start: str) -> set[str]:
    seen, todo = set(), list(GRAPH[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return seen


def layer_of(name: str) -> int | None:
    short = name.removeprefix("gan_cookbook.").split(".")[0]
    for index, layer in enumerate(LAYERS):
        if short in layer:
            return index
    return None


def test_the_reader_sees_real_imports():
    # An import inside a function counts; one in a __main__ block does not.
    assert "gan_cookbook.cook" in GRAPH["gan_cookbook.cli.cooking"]
    assert "gan_cookbook.loop" in GRAPH["gan_cookbook.fused"]
    assert "gan_cookbook.cli" not in GRAPH["gan_cookbook.recipes.mnist"]


def test_no_import_circles():
    circles = sorted(
        name
        for name in GRAPH
        if name != "gan_cookbook" and name in reachable(name) - {"gan_cookbook"}
    )
    assert circles == [], "modules that import themselves through others"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_lower_layers_never_import_upper_ones(name):
    own = layer_of(name)
    if own is None or name == "gan_cookbook":
        return
    upward = sorted(
        dependency
        for dependency in GRAPH[name]
        if dependency != "gan_cookbook"
        and layer_of(dependency) is not None
        and layer_of(dependency) > own
    )
    assert upward == [], f"{name} (layer {own}) imports a higher layer"


def test_every_module_has_a_layer():
    missing = sorted(
        name for name in MODULES if name != "gan_cookbook" and layer_of(name) is None
    )
    assert missing == [], "add these modules to LAYERS (and docs/README.md)"


def test_no_module_is_too_long():
    lengths = {
        name: len(path.read_text().splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_no_module_takes_another_modules_private_names():
    taken = sorted(
        f"{name}: from {module} import {imported}"
        for name, path in MODULES.items()
        for module, names in imported_names(path)
        if module.startswith("gan_cookbook")
        for imported in names
        if imported.startswith("_")
    )
    assert taken == []
