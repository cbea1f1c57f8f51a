"""The layout tells the architecture: each layer imports only what it may (docs/architecture.md).

Every module of the package is parsed, its imports resolved (relative ones
included), and checked against :data:`ALLOWED`. The protocol layer also must
not import any I/O module, nor load one when imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import trio_mailsync

PACKAGE = Path(trio_mailsync.__file__).parent
FORBIDDEN_IO = {"trio", "trio_websocket", "socket", "ssl", "asyncio", "threading", "select"}
# attrs and the standard library may load threading themselves; I/O modules must stay out.
FORBIDDEN_LOADED = FORBIDDEN_IO - {"threading"}

#: layer -> the layers it may import (its own always). A layer is the first part
#: of the module's name below ``trio_mailsync`` (``providers.imap`` is its own).
ALLOWED: dict[str, set[str]] = {
    "secret": set(),
    "protocol": {"secret"},
    "core": {"secret"},
    "providers": {"core", "secret"},
    "providers.imap": {"core", "secret", "protocol", "providers"},
    "providers.gmail": {"core", "secret", "providers"},
    # The list of providers: it knows them all, and nothing else does.
    "providers.registry": {"core", "providers", "providers.imap", "providers.gmail"},
    "stores": {"core", "secret"},
    "sync": {"core"},
    "service": {"core", "sync"},
    "sinks": {"core", "secret"},
    # Scale-out: leases and placement over Redis, the worker that runs the accounts it
    # holds through the service (composed by app and cli, which give it store and providers).
    "cluster": {"core", "secret", "service"},
    # Not "protocol": the testing server reads commands its own way (testing/_wire.py),
    # so that a bug in the client's serializer is not mirrored by the server.
    "testing": {"core", "secret", "providers", "providers.imap"},
    "config": {"core", "providers.registry"},
    "app": {
        # The composition root: it reads account tables added at runtime with the
        # config file's own parser (config.parse_account).
        "config",
        "core",
        "secret",
        "providers",
        "providers.gmail",
        "providers.imap",
        "providers.registry",
        "stores",
        "service",
        "sinks",
        "cluster",
    },
    "demo": {"app", "core", "providers", "providers.gmail", "providers.imap", "sinks", "testing"},
    "cli": {
        "app",
        "config",
        "core",
        "demo",
        "providers",
        "providers.imap",
        "sinks",
        "stores",
        "sync",
    },
    "__main__": {"cli"},
    "__init__": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # below trio_mailsync
    if not parts:
        return "__init__"
    if parts[0] == "providers" and len(parts) > 1 and parts[1] in ("imap", "gmail", "registry"):
        return f"providers.{parts[1]}"
    return parts[0]


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            names.add(base)
            # "from trio_mailsync import cli" imports a module ("__version__" is not one).
            if base == "trio_mailsync":
                names.update(
                    f"{base}.{alias.name}"
                    for alias in node.names
                    if (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()
                )
    return names


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_known_layer() -> None:
    layers = {layer_of(module_name(p)) for p in SOURCES}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)
    assert {"core", "providers.imap", "stores", "sync", "service", "sinks", "app"} <= layers


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = layer_of(module_name(path))
    for name in imports_of(path):
        if name == "trio_mailsync" or not name.startswith("trio_mailsync."):
            continue
        target = layer_of(name)
        assert target == layer or target in ALLOWED[layer], (
            f"{module_name(path)} ({layer}) imports {name} ({target})"
        )


def test_only_the_imap_provider_imports_the_protocol_layer() -> None:
    importers = {
        layer_of(module_name(p))
        for p in SOURCES
        if any(name.startswith("trio_mailsync.protocol") for name in imports_of(p))
    } - {"protocol"}
    assert importers == {"providers.imap"}


def test_the_protocol_layer_does_no_io() -> None:
    files = [*sorted((PACKAGE / "protocol").glob("*.py")), PACKAGE / "secret.py"]
    assert len(files) > 5
    for path in files:
        for name in imports_of(path):
            assert name.split(".")[0] not in FORBIDDEN_IO, f"{path.name} imports {name}"


def test_importing_protocol_loads_no_trio() -> None:
    code = (
        "import sys, trio_mailsync.protocol; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(FORBIDDEN_LOADED)!r}); print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
