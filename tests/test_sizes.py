"""Size limits of the product's code: functions of at most 60 lines, classes 150, modules 400.

Counted in pipelines/, models/ and jobs/ (tools/ and tests/ are not the product). A long function
is where a newcomer gets lost and one option touches five places (issue 24). The code written
before the limits existed has a ratchet instead: each offender below may shrink, never grow, and
leaves the list once it fits. A new offender fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("pipelines", "models", "jobs")
MAX_FUNCTION = 60
MAX_CLASS = 150
MAX_MODULE = 400

# Debt: what was over a limit when the limits came in, at its size then. Split these; do not add.
# Empty since issue 24 split the last offenders; it stays so that a waiver has to be argued here.
RATCHET: dict[str, int] = {}


def measure(root: Path = REPO) -> dict[str, int]:
    """Every module, class and function of the product with its length in lines, over its limit or not."""
    sizes: dict[str, int] = {}
    for top in PRODUCT:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            source = path.read_text(encoding="utf-8")
            sizes[f"module {rel}"] = len(source.splitlines())
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    kind = "class" if isinstance(node, ast.ClassDef) else "function"
                    key = f"{kind} {rel}:{node.name}"
                    sizes[key] = max(sizes.get(key, 0), node.end_lineno - node.lineno + 1)
    return sizes


def limit(key: str) -> int:
    return {"function": MAX_FUNCTION, "class": MAX_CLASS, "module": MAX_MODULE}[key.split(" ", 1)[0]]


def over(sizes: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sizes.items() if v > limit(k)}


def test_no_new_code_over_the_limits() -> None:
    new = {k: v for k, v in over(measure()).items() if k not in RATCHET}
    assert new == {}, f"over the limits (functions {MAX_FUNCTION}, classes {MAX_CLASS}, modules {MAX_MODULE} lines)"


def test_old_offenders_only_shrink() -> None:
    sizes = measure()
    grown = {k: (sizes[k], cap) for k, cap in RATCHET.items() if sizes.get(k, 0) > cap}
    assert grown == {}, "code on the debt list grew: split it instead"


def test_the_debt_list_is_current() -> None:
    # An entry that now fits (or no longer exists) leaves the list, so the list never hides new growth.
    sizes = measure()
    fitted = [k for k in RATCHET if sizes.get(k, 0) <= limit(k)]
    assert fitted == [], "these fit now: remove them from RATCHET"


def test_the_measure_sees_long_code(tmp_path: Path) -> None:
    # The check itself, on code written to break it.
    (tmp_path / "pipelines").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION + 5))
    (tmp_path / "pipelines" / "long.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    assert "function pipelines/long.py:f" in over(measure(tmp_path))
