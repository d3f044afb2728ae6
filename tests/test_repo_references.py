"""What the code, tests and docs cite must be in the repository (a reader of a fresh clone can check it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / n for n in names if n.endswith((".py", ".md", ".yaml", ".toml", ".cfg")) or n == "Makefile"]


def test_no_citation_of_a_notes_file_that_is_not_in_the_repository() -> None:
    if (REPO / "NOTES.md").exists():
        return
    this = Path(__file__).resolve()
    citing = [
        f"{path.relative_to(REPO)}:{n}"
        for path in tracked_text_files()
        if path.resolve() != this and path.exists()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if re.search(r"\bNOTES\b", line)
    ]
    assert not citing, f"these lines cite a NOTES.md that the repository does not have: {citing}"
