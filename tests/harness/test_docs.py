"""Docs the code cites live in the repo: every `docs/<file>.md#<anchor>` in the packages and tests names an
existing file and heading, links inside docs/ and the README resolve, and no code points at the project's
private notes (the old "specs §n" / DESIGN.md citations)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = [
    p for d in ("harness", "methods", "spaces", "tests") for p in (ROOT / d).rglob("*") if p.suffix in (".py", ".toml")
]
# `docs/methods.md#close`, and more anchors of the same file after it: `docs/methods.md#close, #close-s`
CITATION = re.compile(r"docs/([\w-]+\.md)((?:#[\w-]+)(?:,\s*#[\w-]+)*)")
PRIVATE = re.compile(r"\bspecs?\s*§|specs/methods\.md|DESIGN\.md|/work/shared")
LINK = re.compile(r"\]\(([^)\s]*)\)")


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    out, seen, fenced = set(), {}, False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not (m := re.match(r"#{1,6}\s+(.*)", line)):
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def citations() -> list[tuple[str, str, str]]:
    """(where, doc file, anchor) for every citation in code."""
    found = []
    for path in CODE:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            for m in CITATION.finditer(line):
                for anchor in re.findall(r"#([\w-]+)", m.group(2)):
                    found.append((f"{path.relative_to(ROOT)}:{i}", m.group(1), anchor))
    return found


def test_slug_follows_github():
    assert slug("CaLR and MS numbers") == "calr-and-ms-numbers"
    assert slug("Curriculum, WIT and SRT") == "curriculum-wit-and-srt"
    assert slug("CLOSE-S") == "close-s"


def test_code_cites_docs_sections():
    found = citations()
    assert len(found) > 40  # the code's method and protocol citations
    assert {doc for _, doc, _ in found} >= {"methods.md", "protocol.md"}


@pytest.mark.parametrize("where,doc,anchor", citations(), ids=lambda v: str(v))
def test_every_citation_resolves(where, doc, anchor):
    path = ROOT / "docs" / doc
    assert path.is_file(), f"{where} cites docs/{doc}, which does not exist"
    assert anchor in anchors(path), f"{where} cites docs/{doc}#{anchor}: no such heading"


def test_no_code_cites_private_notes():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in CODE
        if p != Path(__file__).resolve()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"], ids=lambda p: p.name)
def test_links_in_docs_resolve(page):
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.name} links to {target}: no such file"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.name} links to {target}: no such heading"
