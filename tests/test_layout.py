"""The layering rule: jobs -> tools -> pipelines -> models -> models.common, and nothing imports upward.

Every import statement is checked, including imports inside functions (voxray imports lazily to
keep start-up light, so a top-level-only check would miss most of them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# What each layer may not import; the first matching prefix of a module's own name decides.
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("models.common", ("models.", "pipelines", "tools", "jobs")),
    ("models", ("pipelines", "tools", "jobs")),
    # Redaction owns its settings (pipelines/redaction/settings.py); the run's config imports them.
    ("pipelines.redaction", ("pipelines.config", "tools", "jobs")),
    # The batch path never imports the store: jobs/ chooses a Delta sink and hands it in.
    ("pipelines.batch", ("pipelines.store", "tools", "jobs")),
    # The product never imports the development tools (benchmarks, the load test).
    ("pipelines", ("tools", "jobs")),
    ("tools", ("jobs",)),
]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(source: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pipelines import wer` imports pipelines.wer: judge the full names.
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return out


def violations(name: str, source: str) -> list[str]:
    for layer, forbidden in FORBIDDEN:
        if name == layer or name.startswith(layer + "."):
            allowed_self = "models.common" if layer == "models.common" else None
            return [
                f"{name}:{line} imports {mod}"
                for line, mod in imported_modules(source)
                if any(mod == f.rstrip(".") or mod.startswith(f if f.endswith(".") else f + ".") for f in forbidden)
                and not (allowed_self and (mod == allowed_self or mod.startswith(allowed_self + ".")))
            ]
    return []


SOURCES = sorted(p for top in ("models", "pipelines", "tools", "jobs") for p in (REPO / top).rglob("*.py"))


def test_every_package_is_checked() -> None:
    assert any(module_name(p).startswith("models.common.") for p in SOURCES)
    assert any(module_name(p).startswith("pipelines.store.") for p in SOURCES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_upward_import(path: Path) -> None:
    assert violations(module_name(path), path.read_text(encoding="utf-8")) == []


def test_the_check_catches_upward_imports() -> None:
    # The rule itself, on code written to break it (a check that cannot fail proves nothing).
    assert violations("models.x", "from pipelines.config import TranscribeConfig\n")
    assert violations("pipelines.x", "def f():\n    from jobs import cli\n")
    assert violations("models.common.x", "from models import registry\n")
    assert violations("models.common.x", "import pipelines.decode\n")
    assert violations("pipelines.x", "from tools.bench.benchmark import BenchConfig\n")
    assert violations("tools.x", "from jobs.cli import main\n")
    assert not violations("models.common.x", "from models.common.audio import SAMPLE_RATE\n")
    assert not violations("pipelines.x", "from models.registry import resolve_model\n")
    assert not violations("jobs.x", "from pipelines.batch.run import run_transcription\n")
    assert violations("pipelines.batch.run", "def f():\n    from pipelines.store.sink import DeltaSink\n")
