"""Every relative link in the README and docs/ reaches a file, and every #anchor a heading.

Sections move between the README and docs/ pages; a link left pointing at the old place fails
here instead of sending a reader to the top of a page. Anchors follow GitHub's rule for
headings: lower case, punctuation dropped, spaces turned into hyphens, repeats numbered.
"""

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # https:, mailto:, ...
    ]


def test_anchors_follow_githubs_rule() -> None:
    assert slug("Which IP: `X-Forwarded-For` behind Hosting, and direct calls") == (
        "which-ip-x-forwarded-for-behind-hosting-and-direct-calls"
    )
    assert slug("`GET /api/orders/{paymentIntentId}`") == "get-apiorderspaymentintentid"
    assert slug("What a new instance's first request does") == (
        "what-a-new-instances-first-request-does"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_reaches_its_file_and_heading(page: Path) -> None:
    broken: list[str] = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and anchor not in anchors(destination):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_readme_links_every_docs_page() -> None:
    readme_links = {target.partition("#")[0] for target in relative_links(ROOT / "README.md")}
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages <= readme_links, f"docs pages the README does not link: {pages - readme_links}"
