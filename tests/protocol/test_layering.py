"""The protocol layer does no I/O: it imports neither Trio nor anything above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import trio_mailsync.protocol

PROTOCOL_DIR = Path(trio_mailsync.protocol.__file__).parent
FORBIDDEN = {"trio", "trio_websocket", "socket", "ssl", "asyncio", "threading", "select"}
# attrs and the standard library may load threading themselves; I/O modules must stay out.
FORBIDDEN_LOADED = FORBIDDEN - {"threading"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module)
            elif node.level > 1:
                names.add("." * node.level + (node.module or ""))
    return names


def test_no_forbidden_imports_in_source() -> None:
    files = sorted(PROTOCOL_DIR.glob("*.py"))
    assert len(files) > 5
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {name}"
            assert not name.startswith(".."), f"{path.name} imports upward: {name}"
            assert not name.startswith("trio_mailsync"), f"{path.name} imports {name}"


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
