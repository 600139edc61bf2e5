"""`make catalog`: the owner's tool (`python -m checkout.catalog`) against `make dev`'s Firestore.

The Firestore emulator on `make dev`'s port (its default, or FIRESTORE_PORT as for `make dev`);
with real Stripe test keys in functions/.env.local, that file's settings too (SHOP_CURRENCY,
CATALOG_SOURCE), as `make dev` gives them to the functions. FIRESTORE_EMULATOR_HOST and the other
settings already in the environment win.

    python dev/catalog.py import FILE [--dry-run]
    python dev/catalog.py export
"""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dev.stack import PROJECT_ID, ROOT, VENV_BIN, configured_ports, real_stripe_settings


def catalog_env(environ: Mapping[str, str]) -> dict[str, str]:
    ports = configured_ports(("firestore",), environ)
    online = {} if environ.get("DEV_OFFLINE") else real_stripe_settings()
    return {
        **online,
        "GCLOUD_PROJECT": PROJECT_ID,
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{ports['firestore']}",
        **environ,
    }


def command_args(argv: list[str], cwd: Path) -> list[str]:
    """`argv` with the FILE of `import FILE` made absolute: the tool runs from functions/."""
    args = list(argv)
    if len(args) >= 2 and args[0] == "import" and not args[1].startswith("-"):
        args[1] = str((cwd / args[1]).resolve())
    return args


def main(argv: list[str]) -> int:
    command = [
        str(VENV_BIN / "python"),
        "-m",
        "checkout.catalog",
        *command_args(argv, Path.cwd()),
    ]
    return subprocess.call(command, cwd=ROOT / "functions", env=catalog_env(os.environ))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
