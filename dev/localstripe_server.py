"""localstripe with its data in a file of our choosing (dev and tests only; never deployed).

localstripe always keeps its data in /tmp/localstripe.pickle: it has no option for another
place, and its code names that absolute path, so no working directory, HOME or TMPDIR moves it.
Two localstripes at once (a test run beside `make dev`, or two users on one machine) would
rewrite the same file, and on a machine where another user owns it every write fails. This
launcher runs localstripe unchanged in its own process, with only its store's two file methods
pointed at the file given here; everything else is localstripe's own argument handling.

It also cancels PaymentIntents as Stripe does: localstripe refuses `cancellation_reason` and
sends no `payment_intent.canceled` event, and the product sends the one and handles the other.

    python dev/localstripe_server.py --data .run/dev-5000/localstripe.pickle --port 8420 --from-scratch
"""

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

from localstripe import resources, webhooks

# The reasons Stripe accepts when a PaymentIntent is canceled through the API.
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def use_data_file(path: Path) -> None:
    store_class = resources.Store
    if not all(hasattr(store_class, name) for name in ("try_load_from_disk", "dump_to_disk")):
        raise SystemExit(
            "this localstripe version keeps its data differently: update dev/localstripe_server.py"
        )

    def try_load_from_disk(store: Any) -> None:
        if path.is_file():
            with path.open("rb") as file:
                old = pickle.load(file)  # noqa: S301 - our own file, written below
            store.clear()
            store.update(old)

    def dump_to_disk(store: Any) -> None:
        with path.open("wb") as file:
            pickle.dump(dict(store), file, protocol=pickle.HIGHEST_PROTOCOL)

    store_class.try_load_from_disk = try_load_from_disk
    store_class.dump_to_disk = dump_to_disk


def cancel_like_stripe() -> None:
    """Accept `cancellation_reason` and send `payment_intent.canceled`, as Stripe does.

    localstripe's server binds its routes when it is imported, so this must run before that.
    """
    cancel_route = "/v1/payment_intents/{id}/cancel"
    original = resources.PaymentIntent._api_cancel

    def cancel(id: str, cancellation_reason: str | None = None, **kwargs: Any) -> Any:
        if cancellation_reason is not None and cancellation_reason not in CANCELLATION_REASONS:
            raise resources.UserError(400, f"Invalid cancellation_reason: {cancellation_reason}")
        intent = original(id, **kwargs)
        intent.cancellation_reason = cancellation_reason
        webhooks.schedule_webhook(resources.Event("payment_intent.canceled", intent))
        return intent

    routes = resources.extra_apis
    for index, (method, url, _) in enumerate(routes):
        if (method, url) == ("POST", cancel_route):
            routes[index] = (method, url, cancel)
            return
    raise SystemExit(
        "this localstripe version cancels differently: update dev/localstripe_server.py"
    )


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", type=Path, required=True)
    args, localstripe_args = parser.parse_known_args()
    args.data.parent.mkdir(parents=True, exist_ok=True)
    use_data_file(args.data.resolve())
    cancel_like_stripe()
    from localstripe import server  # binds the routes, patched above

    sys.argv = [sys.argv[0], *localstripe_args]
    server.start()


if __name__ == "__main__":
    main()
