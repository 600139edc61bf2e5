"""`make reconcile`: one reconciler pass (`python -m checkout.reconcile`) against `make dev`.

The settings are the ones `make dev` gives the functions (dev/stack.py): offline, localstripe
and the Firestore emulator on `make dev`'s ports (its defaults, or FIRESTORE_PORT and
LOCALSTRIPE_PORT as for `make dev`); with real Stripe test keys in functions/.env.local, those
keys. FIRESTORE_EMULATOR_HOST, STRIPE_API_BASE and the other settings already in the
environment win.

    python dev/reconcile.py [--abandon-after SECONDS]
"""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dev.stack import (
    OFFLINE_KEYS_ENV,
    PROJECT_ID,
    ROOT,
    VENV_BIN,
    configured_ports,
    real_stripe_settings,
)


def reconcile_env() -> dict[str, str]:
    # The ports `make dev` uses: its defaults, or the same variables (FIRESTORE_PORT, ...).
    ports = configured_ports(("firestore", "localstripe"), os.environ)
    firestore = {
        "GCLOUD_PROJECT": PROJECT_ID,
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{ports['firestore']}",
    }
    online = {} if os.environ.get("DEV_OFFLINE") else real_stripe_settings()
    if online:
        defaults = {**online, **firestore}
    else:
        defaults = {
            **OFFLINE_KEYS_ENV,
            **firestore,
            "STRIPE_API_BASE": f"http://127.0.0.1:{ports['localstripe']}",
        }
    return {**defaults, **os.environ}


def main(argv: list[str]) -> int:
    env = reconcile_env()
    command = [str(VENV_BIN / "python"), "-m", "checkout.reconcile", *argv]
    return subprocess.call(command, cwd=ROOT / "functions", env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
