"""What the page weighs as shoppers download it, and its budget; for the tests and the bench.

Firebase Hosting keeps each file gzipped (firebase-tools compresses every file with zlib at level 9
before uploading it) and answers with the smallest encoding the browser accepts among identity,
gzip and brotli. So a browser that takes only gzip downloads each file gzipped at level 9, and one
that takes brotli downloads less: the gzipped size is the most any shopper downloads. Python's
zlib comes within a few bytes of Node's at the same level (a few bytes more, here), and counting
compressed bytes lets comments and indentation stay in the page at little cost.
"""

import gzip
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"

# At most this many bytes for all of web/ (our HTML, JS and CSS), each file gzipped on its own as
# served: what a shopper downloads at most (above), so comments and indentation cost little.
GZIPPED_BUDGET = 12_000


def our_files() -> list[Path]:
    """Everything Hosting serves from web/: all of it is ours (Stripe.js comes from Stripe)."""
    return sorted(p for p in WEB.rglob("*") if p.is_file())


def gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def weight() -> dict[str, int]:
    """The number of files, their bytes on disk, and their bytes gzipped one by one."""
    files = our_files()
    return {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "gzipped": sum(gzipped_size(p) for p in files),
    }
