"""`python -m checkout.reconcile`: one pass with the functions' environment, from functions/.

Logs as the functions do, then prints the pass's one-line JSON summary last; exits 0 when the
pass completed (errors it counted are in the summary), 1 when it could not run at all.
"""

import argparse
import json
import sys
from dataclasses import replace
from datetime import timedelta

from checkout.platform import structured_log as logger
from checkout.platform.settings import STRIPE_SECRET_KEY, MissingSetting, require
from checkout.reconcile.pass_state import PassSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checkout.reconcile", description=__doc__)
    parser.add_argument(
        "--abandon-after",
        type=int,
        metavar="SECONDS",
        help="cancel checkouts idle for this long (default: ABANDON_CHECKOUT_AFTER_SECONDS, 24 h)",
    )
    args = parser.parse_args(argv)
    if args.abandon_after is not None and args.abandon_after < 0:
        parser.error("--abandon-after must be 0 or more")

    settings = PassSettings()
    if args.abandon_after is not None:
        settings = replace(settings, abandon_after=timedelta(seconds=args.abandon_after))
    try:
        require(STRIPE_SECRET_KEY)
    except MissingSetting as missing:
        logger.error("missing configuration", setting=missing.name)
        print(json.dumps({"summary": "reconcile", "completed": False, "missing": missing.name}))
        return 1
    # Imported here: --help and a missing key need neither Firestore nor Stripe.
    from checkout.reconcile.one_pass import run_pass

    summary = run_pass(settings)
    print(json.dumps(summary.as_dict(), separators=(",", ":")), flush=True)
    return 0 if summary.completed else 1


if __name__ == "__main__":
    sys.exit(main())
