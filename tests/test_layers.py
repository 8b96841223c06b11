"""The package's shape: arrows point down (cli → runtime → doors → core → config), each
outside library lives in its layer, the core does no I/O, only the tmux door runs tmux, and
every module says its one job in its first line and stays small (README, Design)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agent_orchestrator"
LAYERS = ("config", "core", "doors", "runtime", "cli")
TOP = len(LAYERS)  # agent_orchestrator/__init__.py and __main__.py sit above everything
# Libraries that belong to one layer only.
OWNED = {"rich": "cli", "watchfiles": "runtime", "mcp": "cli", "pyte": "cli"}
# The core decides; it never touches the outside world or reads a clock.
CORE_FORBIDDEN_MODULES = {"os", "subprocess", "time", "socket", "select", "fcntl", "shutil",
                          "signal", "threading", "tempfile", "asyncio", "httpx", "sqlite3",
                          "multiprocessing", "glob"}
CORE_FORBIDDEN_CALLS = {"open", "now", "today", "utcnow", "read_text",
                        "read_bytes", "write_text", "write_bytes", "stat", "exists", "unlink",
                        "mkdir", "iterdir", "glob"}
TMUX_DOOR = "doors/tmux.py"
MAX_LINES = 350
# Data tables may be longer: the presets and the demo agent's screens.
LONG_DATA = {"config/presets.py", "fakeagent/screens.py"}


def layer_of(rel: str) -> int | None:
    """The layer index of a module path relative to the package; None for fakeagent/
    (a stand-alone program, checked on its own)."""
    head = rel.split("/")[0]
    if head in LAYERS:
        return LAYERS.index(head)
    if head == "fakeagent":
        return None
    return TOP


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in the module, nested ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "agent_orchestrator":  # `from agent_orchestrator import x`
                found += [(node.lineno, f"agent_orchestrator.{a.name}") for a in node.names]
    return found


def problems(rel: str, source: str) -> list[str]:
    """Every rule the module at `rel` (e.g. "core/rules.py") breaks."""
    tree = ast.parse(source)
    out = []
    mine = layer_of(rel)
    for line, module in imported(tree):
        parts = module.split(".")
        if parts[0] == "agent_orchestrator":
            if mine is None and parts[1:2] != ["fakeagent"]:
                out.append(f"{rel}:{line}: the demo agent imports {module} (stdlib only)")
                continue
            if mine is None:
                continue
            if len(parts) > 1 and parts[1] in LAYERS and LAYERS.index(parts[1]) > mine:
                out.append(f"{rel}:{line}: imports {module}, a layer above it")
            if len(parts) > 1 and parts[1] == "fakeagent" and mine < TOP:
                out.append(f"{rel}:{line}: imports the demo agent")
        owner = OWNED.get(parts[0])
        if owner is not None and not rel.startswith(owner + "/"):
            out.append(f"{rel}:{line}: imports {parts[0]} outside {owner}/")
        if rel.startswith("core/") and parts[0] in CORE_FORBIDDEN_MODULES:
            out.append(f"{rel}:{line}: the core imports {parts[0]} (I/O or a clock)")
    for node in ast.walk(tree):
        if rel.startswith("core/") and isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            if name in CORE_FORBIDDEN_CALLS:
                out.append(f"{rel}:{node.lineno}: the core calls {name}() (I/O or a clock)")
        if rel != TMUX_DOOR and isinstance(node, ast.List | ast.Tuple) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and first.value == "tmux":
                out.append(f"{rel}:{node.lineno}: a tmux command line outside {TMUX_DOOR}")
    return out


def modules() -> list[tuple[str, str]]:
    return [(str(p.relative_to(PACKAGE)), p.read_text(encoding="utf-8"))
            for p in sorted(PACKAGE.rglob("*.py"))]


def test_every_layer_exists_and_holds_modules() -> None:
    rels = [rel for rel, _ in modules()]
    for layer in (*LAYERS, "fakeagent"):
        assert any(rel.startswith(layer + "/") and not rel.endswith("__init__.py")
                   or rel == f"{layer}/__init__.py" for rel in rels), layer
    assert len(rels) > 40


def test_the_package_keeps_its_layers() -> None:
    found = [p for rel, source in modules() for p in problems(rel, source)]
    assert found == []


PLANTED = [
    ("core/rules.py", "from agent_orchestrator.doors import tmux\n", "a layer above"),
    ("core/rules.py", "from agent_orchestrator import runtime\n", "a layer above"),
    ("doors/markers.py", "from agent_orchestrator.runtime.launch import plan_agent\n",
     "a layer above"),
    ("config/schema.py", "from agent_orchestrator.core.screen import classify\n",
     "a layer above"),
    ("runtime/fleet.py", "def f():\n    from agent_orchestrator.cli import render\n",
     "a layer above"),
    ("doors/tmux.py", "import rich.table\n", "rich outside cli/"),
    ("cli/main.py", "import watchfiles\n", "watchfiles outside runtime/"),
    ("core/screen.py", "import subprocess\n", "the core imports subprocess"),
    ("core/screen.py", "import time\n", "the core imports time"),
    ("core/screen.py", "from datetime import datetime\nx = datetime.now()\n", "calls now()"),
    ("core/screen.py", "def f(p):\n    return open(p).read()\n", "calls open()"),
    ("runtime/delivery.py", "import subprocess\nsubprocess.run(['tmux', 'send-keys'])\n",
     "tmux command line outside"),
    ("fakeagent/agent.py", "from agent_orchestrator.config import Config\n",
     "demo agent imports"),
]


@pytest.mark.parametrize(("rel", "source", "says"), PLANTED,
                         ids=[f"{r}:{s.splitlines()[-1][:30]}" for r, s, _ in PLANTED])
def test_a_planted_violation_is_caught(rel: str, source: str, says: str) -> None:
    """The checker can fail: each planted line is reported with what it breaks."""
    found = problems(rel, source)
    assert found and says in found[0], found


def test_allowed_arrows_pass() -> None:
    assert problems("cli/main.py", "from agent_orchestrator.runtime import fleet\n"
                    "from agent_orchestrator.core.rules import decide\nimport rich\n") == []
    assert problems("doors/tmux.py", "import subprocess\nsubprocess.run(['tmux', 'ls'])\n") == []
    assert problems("core/rules.py", "from agent_orchestrator.config import Config\n") == []


def test_every_module_says_its_job_and_stays_small() -> None:
    too_long, silent = [], []
    for rel, source in modules():
        doc = ast.get_docstring(ast.parse(source))
        if rel.endswith("__main__.py") and len(source.splitlines()) < 10:
            continue
        if not doc or not doc.splitlines()[0].strip():
            silent.append(rel)
        if len(source.splitlines()) > MAX_LINES and rel not in LONG_DATA:
            too_long.append(f"{rel}: {len(source.splitlines())} lines")
    assert silent == [], "modules without a first line saying their job"
    assert too_long == [], f"modules over {MAX_LINES} lines"


def test_every_package_folder_ships_in_the_wheel() -> None:
    """pyproject.toml lists the packages by name (the prompts folder is mapped in), so a
    new sub-package must be listed too, or `pip install .` leaves it out."""
    import tomllib
    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.relative_to(PACKAGE.parent).parts[:-1])
             for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
