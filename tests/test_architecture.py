"""The dependency rule of ARCHITECTURE.md, checked on every import statement (module-level or
inside functions) of the project's packages: a layer imports only its own layer or those below,
and the store, source and orchestration libraries are imported only where ARCHITECTURE.md says."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("docflow", "flows", "tasks", "blocks", "deployments")

# Bottom to top; a module may import modules of its own layer or of a lower one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("docflow", "docflow.env"),
    ("docflow.core", "docflow.ports"),  # the ports are the core's own boundary types
    ("docflow.adapters",),
    ("tasks", "blocks"),
    ("flows",),
    ("deployments", "docflow.server", "docflow.prefect_server"),
    ("docflow.service",),
    ("docflow.cli",),
)

# Third-party libraries that only some packages may import.
CONFINED = {
    "lancedb": ("docflow.adapters.stores.lancedb",),
    "lance": ("docflow.adapters.stores.lancedb",),
    "chromadb": ("docflow.adapters.stores.chroma",),
    "fsspec": ("docflow.adapters",),
    "s3fs": ("docflow.adapters",),
    "aiohttp": ("docflow.adapters",),
    "prefect": ("docflow.adapters.checkpoints", "tasks", "blocks", "flows", "deployments",
                "docflow.server", "docflow.prefect_server", "docflow.service", "docflow.cli"),
    "prefect_dask": ("flows",),
    "sentence_transformers": ("docflow.adapters.embedders",),
    "onnxruntime": ("docflow.adapters.embedders",),
    "torch": ("docflow.adapters.embedders",),
}

# What the command line may reach below the service layer: types and settings, nothing that runs.
CLI_MAY_IMPORT = ("docflow.cli", "docflow.service", "docflow.server", "docflow.prefect_server",
                  "deployments", "docflow.core.models", "docflow.core.settings", "docflow.core.errors",
                  "docflow.env")


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    best, best_len = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(module, prefix) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # `from docflow.core import process` imports the module docflow.core.process
            for alias in node.names:
                candidate = root.joinpath(*node.module.split("."), alias.name)
                if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
                    found.append(f"{node.module}.{alias.name}")
    return found


def violations(root: Path = ROOT) -> list[str]:
    problems = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            source = module_name(path, root)
            own = layer_of(source)
            for target in imports_of(path, root):
                top = target.split(".")[0]
                if top in PACKAGES:
                    theirs = layer_of(target)
                    if theirs is not None and own is not None and theirs > own:
                        problems.append(f"{source} imports {target} (a higher layer)")
                    if _within(source, "docflow.cli") and not (
                            target == "docflow" or any(_within(target, p) for p in CLI_MAY_IMPORT)):
                        problems.append(f"{source} imports {target} (the CLI goes through docflow.service)")
                elif top in CONFINED and not any(_within(source, p) for p in CONFINED[top]):
                    problems.append(f"{source} imports {top} (only {', '.join(CONFINED[top])} may)")
    return sorted(set(problems))


def test_no_module_imports_against_the_direction():
    assert violations() == []


def test_the_rule_sees_a_violation(tmp_path):
    """A core module importing prefect, an adapter or a flow is reported (the check can fail)."""
    core = tmp_path / "docflow" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text(
        "import prefect\nfrom docflow.adapters.stores.lancedb import store\n"
        "def f():\n    from flows import ingest\n"
    )
    assert violations(tmp_path) == [
        "docflow.core.bad imports docflow.adapters.stores.lancedb (a higher layer)",
        "docflow.core.bad imports flows (a higher layer)",
        "docflow.core.bad imports prefect (only docflow.adapters.checkpoints, tasks, blocks, flows, "
        "deployments, docflow.server, docflow.prefect_server, docflow.service, docflow.cli may)",
    ]
