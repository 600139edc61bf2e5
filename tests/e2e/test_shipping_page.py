"""The page's shipping: the Address Element while the cart ships, the server's shipping line, and
a payment with an address that ends `paid` with the address on the order."""

from playwright.sync_api import expect

from tests.e2e.conftest import CARD_OK, Checkout, firestore_order, stripe_get
from tests.shipping_address import US_ADDRESS, address_in


def test_pay_with_an_address_records_it_and_the_shipping_line(checkout: Checkout) -> None:
    checkout.open()
    page = checkout.page
    # The first answer comes before any address: no shipping line yet.
    assert checkout.intent["shippingAmount"] is None
    expect(page.locator("#shipping-line")).to_be_hidden()
    expect(page.locator("#standin-address-country option")).to_have_count(3)  # CA, MX, US

    checkout.fill_address(address_in("CA"))
    expect(page.locator("#shipping-amount")).to_have_text("$15.00")
    expect(page.locator("#amount")).to_have_text("$40.00")
    checkout.fill_address(US_ADDRESS)
    expect(page.locator("#shipping-amount")).to_have_text("$5.00")
    expect(page.locator("#amount")).to_have_text("$30.00")
    checkout.expect_ready()
    pi_id = checkout.intent["paymentIntentId"]
    assert {i["paymentIntentId"] for i in checkout.intents} == {pi_id}

    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    order = firestore_order(pi_id)  # Firestore's REST shape
    assert order["status"] == {"stringValue": "paid"}
    assert order["amount"] == {"integerValue": "3000"}
    shipping = order["shipping"]["mapValue"]["fields"]
    assert (shipping["amount"], shipping["country"]) == (
        {"integerValue": "500"},
        {"stringValue": "US"},
    )
    address = shipping["address"]["mapValue"]["fields"]
    assert address["name"] == {"stringValue": US_ADDRESS["name"]}
    lines = address["address"]["mapValue"]["fields"]
    assert {key: value.get("stringValue") for key, value in lines.items()} == (
        US_ADDRESS["address"]
    )
    at_stripe = stripe_get(f"/v1/payment_intents/{pi_id}")["shipping"]
    assert at_stripe["address"]["country"] == "US" and at_stripe["name"] == US_ADDRESS["name"]
