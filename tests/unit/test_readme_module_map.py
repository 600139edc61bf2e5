"""The README's module map names every package and module under functions/checkout, and nothing
that is gone.

The map is the first code block under "## Module map": one entry a line, its path first, then
what it is. An indented entry lives in the folder of the nearest less indented entry above it
(`  cart/` under `functions/checkout/`, `    pricing.py` under `cart/`). What the map must hold is
read from the file system, so a new module fails this test until the map has its line.
"""

import re

from tests.conftest import FUNCTIONS_DIR, ROOT

README = ROOT / "README.md"
CHECKOUT = FUNCTIONS_DIR / "checkout"
CHECKOUT_PREFIX = "functions/checkout/"


def map_block(readme: str) -> list[str]:
    """The lines of the first fenced code block after the "## Module map" heading."""
    section = readme.split("\n## Module map\n", 1)
    assert len(section) == 2, 'README.md has no "## Module map" section'
    fenced = re.search(r"^```[^\n]*\n(.*?)^```", section[1], re.MULTILINE | re.DOTALL)
    assert fenced, 'the "## Module map" section has no code block'
    return fenced.group(1).splitlines()


def map_entries(lines: list[str]) -> dict[str, str]:
    """{full path: what the map says it is}; a folder's path ends with "/"."""
    entries: dict[str, str] = {}
    folders: list[tuple[int, str]] = []  # (indent, path) of the folders enclosing this line
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        name, _, description = line.strip().partition(" ")
        while folders and folders[-1][0] >= indent:
            folders.pop()
        path = folders[-1][1] + name if folders else name
        assert path not in entries, f"the module map names {path} twice"
        entries[path] = description.strip()
        if name.endswith("/"):
            folders.append((indent, path))
    return entries


def checkout_tree() -> set[str]:
    """Every package (as "dir/") and module under functions/checkout, from the file system."""
    found: set[str] = set()
    for source in CHECKOUT.rglob("*.py"):
        if "__pycache__" in source.parts:
            continue
        relative = source.relative_to(ROOT)
        if source.name != "__init__.py":
            found.add(relative.as_posix())
        # Each folder from functions/checkout down to this file is a package.
        for folder in relative.parents:
            if folder.is_relative_to(CHECKOUT.relative_to(ROOT)):
                found.add(folder.as_posix() + "/")
    return found


def readme_map() -> dict[str, str]:
    return map_entries(map_block(README.read_text()))


def test_the_map_is_read_as_a_tree() -> None:
    lines = [
        "functions/main.py     the entry points",
        "functions/checkout/   the core",
        "  cart/               what is sold",
        "    pricing.py        pricing a cart",
        "  orders/             the order book",
        "    status.py         the statuses",
        "web/                  the page",
    ]
    assert map_entries(lines) == {
        "functions/main.py": "the entry points",
        "functions/checkout/": "the core",
        "functions/checkout/cart/": "what is sold",
        "functions/checkout/cart/pricing.py": "pricing a cart",
        "functions/checkout/orders/": "the order book",
        "functions/checkout/orders/status.py": "the statuses",
        "web/": "the page",
    }


def test_every_package_and_module_under_functions_checkout_is_in_the_map() -> None:
    tree = checkout_tree()
    assert "functions/checkout/cart/pricing.py" in tree  # the walk itself finds modules
    missing = sorted(tree - readme_map().keys())
    assert not missing, (
        "add a line for each to the module map in README.md (## Module map), indented under its "
        f"package: {missing}"
    )


def test_the_map_names_nothing_that_no_longer_exists() -> None:
    gone = sorted(path for path in readme_map() if not (ROOT / path).exists())
    assert not gone, f"the module map in README.md names paths that do not exist: {gone}"
    stale = sorted(
        path
        for path in readme_map()
        if path.startswith(CHECKOUT_PREFIX) and path not in checkout_tree()
    )
    assert not stale, f"the module map names what is no package or module: {stale}"


def test_every_entry_says_what_it_is() -> None:
    silent = sorted(path for path, description in readme_map().items() if not description)
    assert not silent, f"module map entries without a description: {silent}"


def test_a_module_left_out_of_the_map_is_found() -> None:
    lines = [line for line in map_block(README.read_text()) if "pricing.py" not in line]
    assert "functions/checkout/cart/pricing.py" in checkout_tree() - map_entries(lines).keys()
