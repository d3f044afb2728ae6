"""The evaluation domains of `voxray improve` (scripts/make_flywheel_domain.py, flywheel_domains.json):
each holds out from its archive what the loop is judged on, and no two share a term."""

from __future__ import annotations

import string
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from make_flywheel_domain import DOMAINS, glossary  # noqa: E402

SLOTS = {"product", "feature", "staff", "city"}


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_dev_and_test_share_no_template_or_voice_with_the_archive(name: str) -> None:
    domain = DOMAINS[name]
    assert len(domain.archive_templates) == 12 and len(domain.held_out_templates) == 6
    assert not set(domain.archive_templates) & set(domain.held_out_templates)
    assert not set(domain.archive_voices) & set(domain.held_out_voices)
    for template in [*domain.archive_templates, *domain.held_out_templates]:
        slots = {field for _, field, _, _ in string.Formatter().parse(template) if field}
        assert slots and slots <= SLOTS, template


def test_no_two_domains_share_a_glossary_term() -> None:
    terms = [term for domain in DOMAINS.values() for term in glossary(domain)]
    assert len(DOMAINS) == 6 and len(terms) == len(set(terms))
