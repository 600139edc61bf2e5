"""Shipping at checkout, without servers: the cart priced with its address, the record's
signature, Stripe's `shipping` parameter, and the review rules of a successful payment."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.cart.metadata import cart_signature
from checkout.cart.pricing import Discount, PricedCart, price_cart
from checkout.cart.validation import CartLine
from checkout.orders.order import REBUILT
from checkout.orders.ownership import marked
from checkout.orders.status import OrderStatus
from checkout.platform.errors import ApiError
from checkout.products.live_catalog import catalog_from_documents
from checkout.shipping.address import ShippingAddress, parse_request_shipping, parse_shipping
from checkout.shipping.charge import shipped_cart
from checkout.stripe_api.payment_intents import shipping_param
from checkout.stripe_events.plan import Plan, plan
from checkout.stripe_events.rebuild import order_from_payment_intent
from checkout.stripe_events.shipping_review import shipping_problem
from tests import stripe_events as se
from tests.sample_catalog import sample_documents, sample_rates, sample_shop
from tests.shipping_address import US_ADDRESS, address_in, at_stripe

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def address(shipping: dict[str, Any] = US_ADDRESS) -> ShippingAddress:
    return parse_shipping(shipping, sample_rates())


def cart(*lines: tuple[str, int], discount: int = 0) -> PricedCart:
    priced = price_cart(tuple(CartLine(p, q) for p, q in lines), sample_shop())
    if discount:
        priced = replace(priced, discount=Discount("CODE", discount, ("tee-classic",)))
    return priced


# --- the cart, priced with its shipping


def test_a_shippable_cart_with_an_address_pays_its_countrys_rate() -> None:
    shipped = shipped_cart(cart(("tee-classic", 1)), sample_shop(), address(), sample_rates())
    assert shipped.needs_shipping
    assert shipped.shipping is not None
    assert (shipped.shipping.amount, shipped.shipping.country) == (500, "US")
    assert shipped.shipping.address == address().stripe_shipping()
    assert shipped.amount == 2500 + 500
    to_canada = shipped_cart(
        cart(("tee-classic", 1)), sample_shop(), address(address_in("CA")), sample_rates()
    )
    assert to_canada.amount == 2500 + 1500


def test_a_shippable_cart_without_an_address_yet_has_no_shipping_line() -> None:
    shipped = shipped_cart(cart(("mug-enamel", 1)), sample_shop(), None, sample_rates())
    assert shipped.needs_shipping and shipped.shipping is None and shipped.amount == 1400


def test_a_cart_with_nothing_to_ship_ignores_an_address() -> None:
    documents = sample_documents()
    documents["sticker-pack"]["shippable"] = False
    shop = catalog_from_documents(documents, "usd")
    priced = price_cart((CartLine("sticker-pack", 2),), shop)
    shipped = shipped_cart(priced, shop, address(), sample_rates())
    assert not shipped.needs_shipping and shipped.shipping is None and shipped.amount == 1000


def test_free_above_counts_the_subtotal_after_the_discount() -> None:
    # 4 tees: 10000, the rates' freeAbove.
    free = shipped_cart(cart(("tee-classic", 4)), sample_shop(), address(), sample_rates())
    assert free.shipping is not None and free.shipping.amount == 0 and free.amount == 10000
    discounted = cart(("tee-classic", 4), discount=1)
    paid = shipped_cart(discounted, sample_shop(), address(), sample_rates())
    assert paid.shipping is not None and paid.shipping.amount == 500
    assert paid.amount == 10000 - 1 + 500


def test_a_country_the_rates_no_longer_list_is_invalid_shipping() -> None:
    rates = replace(sample_rates(), rates=sample_rates().rates[:1])  # US only now
    with pytest.raises(ApiError) as refused:
        shipped_cart(cart(("tee-classic", 1)), sample_shop(), address(address_in("MX")), rates)
    assert (refused.value.code, refused.value.details) == (
        "invalid_shipping",
        {"field": "shipping.address.country"},
    )


def test_a_request_without_shipping_reads_no_rates() -> None:
    assert parse_request_shipping(None) is None


def test_a_request_shipping_is_checked_against_the_live_rates() -> None:
    assert parse_request_shipping(US_ADDRESS) == address()
    with pytest.raises(ApiError) as refused:
        parse_request_shipping(address_in("FR"))
    assert refused.value.details == {"field": "shipping.address.country"}


# --- the record's signature and Stripe's parameter


def test_the_signature_changes_with_the_street_not_only_the_country() -> None:
    base = cart(("tee-classic", 1))
    home = shipped_cart(base, sample_shop(), address(), sample_rates())
    moved = {**US_ADDRESS, "address": {**US_ADDRESS["address"], "line1": "2 Elm St"}}
    elsewhere = shipped_cart(base, sample_shop(), address(moved), sample_rates())
    assert cart_signature(home) != cart_signature(elsewhere)
    # Without the address itself: the record is not a copy of personal data.
    assert "Main" not in cart_signature(home) and "Lovelace" not in cart_signature(home)
    # Without an address, the signature is the one it always was.
    assert cart_signature(shipped_cart(base, sample_shop(), None, sample_rates())) == (
        cart_signature(base)
    )


def test_stripe_gets_the_address_with_empty_optional_fields_cleared() -> None:
    shipped = shipped_cart(cart(("tee-classic", 1)), sample_shop(), address(), sample_rates())
    assert shipping_param(shipped) == {
        "name": "Ada Lovelace",
        "phone": "",
        "address": {
            "line1": "1 Main St",
            "line2": "",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    }
    assert shipping_param(cart(("tee-classic", 1))) is None


# --- the review rules (pure)


def order_shipped(country: str = "US", **extra: Any) -> dict[str, Any]:
    shipping = {"amount": 500, "country": country, "address": address_in(country)}
    return se.order("pi_ship", amount=5500, shipping=shipping, shippingRequired=True, **extra)


def success(shipping: Any = None) -> dict[str, Any]:
    pi = se.payment_intent("pi_ship", amount=5500, shipping=shipping)
    return se.event("payment_intent.succeeded", pi)


def decide(order: dict[str, Any] | None, event: dict[str, Any]) -> Plan:
    return plan(order, event, NOW)


def test_a_shipped_order_paid_with_its_address_is_paid() -> None:
    decided = decide(order_shipped(), success(at_stripe(US_ADDRESS)))
    assert decided.status is OrderStatus.PAID and decided.alert is None


def test_a_shippable_order_paid_without_an_address_needs_review() -> None:
    order = se.order("pi_ship", amount=5500, shipping=None, shippingRequired=True)
    decided = decide(order, success(None))
    assert decided.status is OrderStatus.NEEDS_REVIEW
    assert "no shipping address" in decided.writes["reviewReason"]
    assert decided.alert is not None and "Lovelace" not in decided.alert


def test_a_country_at_stripe_other_than_the_priced_one_needs_review() -> None:
    decided = decide(order_shipped("US"), success(at_stripe(address_in("CA"))))
    assert decided.status is OrderStatus.NEEDS_REVIEW
    assert decided.writes["reviewReason"] == (
        "shipping was priced to US but the payment ships to CA"
    )


def test_no_shipping_at_stripe_is_not_a_mismatch() -> None:
    assert shipping_problem(order_shipped(), se.payment_intent("pi_ship", shipping=None)) is None


def test_orders_with_nothing_to_ship_or_from_before_shipping_are_not_reviewed_for_it() -> None:
    for order in (
        se.order("pi_ship", amount=5500, shippingRequired=False),
        se.order("pi_ship", amount=5500),  # written before shipping existed
    ):
        assert decide(order, success(None)).status is OrderStatus.PAID


def test_a_payment_problem_keeps_its_own_reason() -> None:
    order = se.order("pi_ship", amount=4000, shipping=None, shippingRequired=True)
    decided = decide(order, success(None))
    assert decided.status is OrderStatus.NEEDS_REVIEW
    assert decided.writes["reviewReason"].startswith("paid 5500")


# --- rebuilt orders


def rebuilt_pi(**extra: Any) -> dict[str, Any]:
    metadata = marked({"items": "tee-classic:2:2500", "shipping": "500:US"})
    return se.payment_intent("pi_re", amount=5500, metadata=metadata, **extra)


def test_a_rebuilt_order_takes_its_address_from_the_payment_intent() -> None:
    order = order_from_payment_intent(rebuilt_pi(shipping=at_stripe(US_ADDRESS)))
    assert order is not None and order["source"] == REBUILT
    assert order["shipping"] == {"amount": 500, "country": "US", "address": US_ADDRESS}
    assert order["shippingRequired"] is True


def test_a_rebuilt_order_without_an_address_at_stripe_needs_review() -> None:
    decided = decide(None, se.event("payment_intent.succeeded", rebuilt_pi(shipping=None)))
    assert decided.creates and decided.status is OrderStatus.NEEDS_REVIEW
    decided = decide(None, se.event("payment_intent.succeeded", rebuilt_pi()))
    assert decided.status is OrderStatus.PAID


def test_an_old_format_payment_intent_predates_shipping_and_is_not_reviewed_for_it() -> None:
    pi = se.payment_intent("pi_old", amount=5000, metadata=marked({"items": "tee-classic:2"}))
    order = order_from_payment_intent({**pi, "shipping": None})
    assert order is not None and order["shippingRequired"] is False
