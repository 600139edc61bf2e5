"""localstripe with its data in a file of our choosing (dev and tests only; never deployed).

localstripe always keeps its data in /tmp/localstripe.pickle: it has no option for another
place, and its code names that absolute path, so no working directory, HOME or TMPDIR moves it.
Two localstripes at once (a test run beside `make dev`, or two users on one machine) would
rewrite the same file, and on a machine where another user owns it every write fails. This
launcher runs localstripe unchanged in its own process, with only its store's two file methods
pointed at the file given here; everything else is localstripe's own argument handling.

It also cancels PaymentIntents as Stripe does: localstripe refuses `cancellation_reason` and
sends no `payment_intent.canceled` event, and the product sends the one and handles the other.

And it gives localstripe what the catalog's Stripe mode needs and it lacks (docs/catalog.md):
Prices (`POST /v1/prices`, `GET /v1/prices[/{id}]`, `POST /v1/prices/{id}`, with their
price.created and price.updated events) and Products with `default_price` (expandable),
`images` and `updated` (bumped, with a product.updated event, on each update). Only as much of
Stripe's behaviour as the backfill and its tests use: no tiers, no deletion of prices.

And PaymentIntents take `shipping` as Stripe's do (localstripe refuses it on create, update and
confirm): {name, phone, address {line1, line2, city, state, postal_code, country}, carrier,
tracking_number}, `null` until set, unset by an update with `shipping=""`; the Address Element
sends it at confirm (the Stripe.js stand-in passes it on).

    python dev/localstripe_server.py --data .run/dev-5000/localstripe.pickle --port 8420 \\
        --from-scratch
"""

import argparse
import pickle
import sys
import time
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


class Price(resources.StripeObject):  # type: ignore[misc]
    """A one-time or recurring Price, per unit (module level: the store pickles it)."""

    object = "price"
    _id_prefix = "price_"

    def __init__(
        self,
        product: str | None = None,
        currency: str | None = None,
        unit_amount: Any = None,
        recurring: dict[str, Any] | None = None,
        active: Any = True,
        billing_scheme: str = "per_unit",
        metadata: dict[str, str] | None = None,
        nickname: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs))
        amount = resources.try_convert_to_int(unit_amount)
        active = resources.try_convert_to_bool(active)
        if not isinstance(product, str) or not isinstance(currency, str):
            raise resources.UserError(400, "Bad request: product and currency are required")
        if not isinstance(amount, int) or not isinstance(active, bool):
            raise resources.UserError(400, "Bad request: unit_amount, active")
        super().__init__()
        self.product = product
        self.currency = currency.lower()
        self.unit_amount = amount
        self.unit_amount_decimal = str(amount)
        self.active = active
        self.billing_scheme = billing_scheme
        self.recurring = recurring
        self.type = "recurring" if recurring else "one_time"
        self.tiers_mode = None
        self.custom_unit_amount = None
        self.metadata = metadata or {}
        self.nickname = nickname
        self.lookup_key = None
        self.tax_behavior = "unspecified"
        self.transform_quantity = None
        webhooks.schedule_webhook(resources.Event("price.created", self))

    def _update(self, **data: Any) -> None:
        if "active" in data:
            data["active"] = resources.try_convert_to_bool(data["active"])
        super()._update(**data)
        webhooks.schedule_webhook(resources.Event("price.updated", self))

    @classmethod
    def _api_list_all(
        cls,
        url: str,
        active: Any = None,
        product: str | None = None,
        limit: Any = None,
        starting_after: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs))
        listed = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        wanted = resources.try_convert_to_bool(active)
        listed._list = [
            price
            for price in listed._list
            if (wanted is None or price.active == wanted)
            and (product is None or price.product == product)
        ]
        return listed


def prices_and_products_like_stripe() -> None:
    """Prices, and Products with a default price, images and `updated` (see the docstring).

    Like cancel_like_stripe, before localstripe's server binds its routes.
    """

    def update_price(id: str, **data: Any) -> Any:
        return Price._api_update(id, **data)

    resources.extra_apis.extend(
        [
            ("POST", "/v1/prices", lambda **data: Price._api_create(**data)),
            ("GET", "/v1/prices", lambda **data: Price._api_list_all("/v1/prices", **data)),
            ("GET", "/v1/prices/{id}", lambda id, **_: Price._api_retrieve(id)),
            ("POST", "/v1/prices/{id}", update_price),
        ]
    )

    product_class = resources.Product
    original_init = product_class.__init__
    original_update = product_class._update

    def init(
        self: Any,
        *args: Any,
        default_price: str | None = None,
        images: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        # Set before localstripe's own __init__, which exports the object into product.created.
        self.default_price = default_price
        self.images = images or []
        self.updated = int(time.time())
        original_init(self, *args, **kwargs)

    def update(self: Any, **data: Any) -> None:
        original_update(self, **data)
        self.updated = int(time.time())
        webhooks.schedule_webhook(resources.Event("product.updated", self))

    product_class.__init__ = init
    product_class._update = update


SHIPPING_ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


def stripe_shipping(value: Any) -> dict[str, Any] | None:
    """A PaymentIntent's `shipping` as Stripe stores it; "" unsets it. Stripe requires `name`
    and `address` (with line1); anything else here is a 400, as there."""
    if value == "":
        return None
    if not isinstance(value, dict) or not isinstance(value.get("address"), dict):
        raise resources.UserError(400, "Invalid shipping: an address is required")
    if not value.get("name") or not value["address"].get("line1"):
        raise resources.UserError(400, "Invalid shipping: name and address[line1] are required")
    address = value["address"]
    return {
        "name": value["name"],
        "phone": value.get("phone") or None,
        "address": {field: address.get(field) or None for field in SHIPPING_ADDRESS_FIELDS},
        "carrier": value.get("carrier") or None,
        "tracking_number": value.get("tracking_number") or None,
    }


def shipping_like_stripe() -> None:
    """`shipping` on PaymentIntent create, update and confirm (see the docstring).

    Like cancel_like_stripe, before localstripe's server binds its routes.
    """
    intent_class = resources.PaymentIntent
    original_init = intent_class.__init__
    original_update = intent_class._update
    original_confirm = intent_class._api_confirm

    def init(self: Any, *args: Any, shipping: Any = None, **kwargs: Any) -> None:
        # Set before localstripe's own __init__, which may export the object into an event.
        self.shipping = None if shipping is None else stripe_shipping(shipping)
        original_init(self, *args, **kwargs)

    def update(self: Any, **data: Any) -> None:
        if "shipping" in data:
            checked = stripe_shipping(data.pop("shipping"))
            original_update(self, **data)
            self.shipping = checked
        else:
            original_update(self, **data)

    def confirm(id: str, shipping: Any = None, **kwargs: Any) -> Any:
        if shipping is not None:
            checked = stripe_shipping(shipping)
            intent_class._api_retrieve(id).shipping = checked
        return original_confirm(id, **kwargs)

    intent_class.__init__ = init
    intent_class._update = update
    confirm_route = "/v1/payment_intents/{id}/confirm"
    routes = resources.extra_apis
    for index, (method, url, _) in enumerate(routes):
        if (method, url) == ("POST", confirm_route):
            routes[index] = (method, url, confirm)
            return
    raise SystemExit(
        "this localstripe version confirms differently: update dev/localstripe_server.py"
    )


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", type=Path, required=True)
    args, localstripe_args = parser.parse_known_args()
    args.data.parent.mkdir(parents=True, exist_ok=True)
    use_data_file(args.data.resolve())
    cancel_like_stripe()
    prices_and_products_like_stripe()
    shipping_like_stripe()
    from localstripe import server  # binds the routes, patched above

    sys.argv = [sys.argv[0], *localstripe_args]
    server.start()


if __name__ == "__main__":
    main()
