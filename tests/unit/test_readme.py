"""The README stays a page a newcomer reads in ten minutes, and its commands exist.

Design, operations, security and testing belong in docs/ (linked from the README); what grows
there does not lengthen the front page.
"""

import re

from tests.conftest import ROOT

README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"

# About 230 lines today, a quarter of them the module map; the bound leaves room for a few more
# modules, not for another design section.
MAX_README_LINES = 250


def test_the_readme_stays_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines, over {MAX_README_LINES}: move the detail to a page in "
        "docs/ and link to it"
    )


def test_the_readme_shows_the_commands_and_each_is_a_make_target() -> None:
    readme = README.read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE.read_text(), re.MULTILINE))
    for command in ("dev", "test", "unit"):
        assert f"make {command}" in readme, f"README.md does not show `make {command}`"
    shown = set(re.findall(r"`make ([a-z][a-z0-9-]*)", readme))
    assert shown <= targets, f"README.md shows make targets the Makefile lacks: {shown - targets}"
