"""The confirmation email, end to end: a shopper pays with an email and a shipping address; the
order in Firestore has the address and the shipping line; the stack's own SMTP server
(dev/mail_server.py, its folder in DEV_MAIL_DIR) receives exactly one message for them, with the
items, the shipping line, the total and the address; and its link opens the order's status."""

import email
import email.policy
import os
import uuid
from email.message import EmailMessage
from pathlib import Path

import requests
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    BASE_URL,
    CARD_OK,
    FIRESTORE_HOST,
    PROJECT_ID,
    SLOW,
    Checkout,
    firestore_order,
    open_context,
)


def messages_to(address: str) -> list[EmailMessage]:
    folder = Path(os.environ["DEV_MAIL_DIR"])
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            found.append(message)
    return found


def mail_state(payment_intent_id: str) -> tuple[str, int]:
    """The confirmation's delivery state and attempts, as stored ("" while there is none)."""
    url = (
        f"http://{FIRESTORE_HOST}/v1/projects/{PROJECT_ID}/databases/(default)/documents/"
        f"mail/{payment_intent_id}"
    )
    response = requests.get(url, headers={"Authorization": "Bearer owner"}, timeout=10)
    if response.status_code == 404:
        return ("", 0)
    delivery = response.json()["fields"]["delivery"]["mapValue"]["fields"]
    return delivery["state"]["stringValue"], int(delivery["attempts"]["integerValue"])


def test_a_paid_order_mails_one_confirmation_whose_link_shows_the_order(
    checkout: Checkout, browser: Browser
) -> None:
    address = f"ann-{uuid.uuid4().hex[:8]}@example.test"
    checkout.open()
    checkout.page.fill("#email", address)
    checkout.page.locator("#email").blur()
    checkout.set_quantity("tee-classic", 2)
    checkout.set_quantity("mug-enamel", 1)
    checkout.expect_ready()
    intent_id = checkout.intent["paymentIntentId"]
    checkout.wait_until(
        lambda: firestore_order(intent_id).get("email", {}).get("stringValue") == address
    )
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    number = checkout.page.text_content("#order-detail") or ""
    # $64.00 of goods and $5.00 shipping to the address fill_card gave (tests.shipping_address).
    assert number.startswith("Order ") and "$69.00" in number
    shipping = firestore_order(intent_id)["shipping"]["mapValue"]["fields"]
    assert shipping["amount"]["integerValue"] == "500"
    shipped_to = shipping["address"]["mapValue"]["fields"]["address"]["mapValue"]["fields"]
    assert shipped_to["line1"]["stringValue"] == "1 Main St"

    # Sent once, whatever paths applied the payment (the webhook, the return page's check).
    checkout.wait_until(lambda: mail_state(intent_id) == ("SUCCESS", 1))
    (message,) = messages_to(address)
    order_number = number.removeprefix("Order ").split(".")[0]
    assert message["Subject"] == f"Your order {order_number} is confirmed"
    text_part = message.get_body(("plain",))
    assert text_part is not None
    text = text_part.get_content()
    assert "2 x Classic tee at $25.00: $50.00" in text
    assert "1 x Enamel mug at $14.00: $14.00" in text
    assert "Subtotal: $64.00" in text and "Shipping: $5.00" in text
    assert "Total: $69.00" in text
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("Shipping to:")
    assert lines[at + 1 : at + 5] == ["Ada Lovelace", "1 Main St", "Springfield, IL 62701", "US"]
    prefix = f"{BASE_URL}/?order={intent_id}&view="
    (link,) = [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]

    # A new browser, no sessionStorage, no client secret: the link alone shows the order.
    context = open_context(browser)
    page = context.new_page()
    page.goto(link)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid", timeout=SLOW)
    expect(page.locator("#order-detail")).to_contain_text(f"Order {order_number}.")
    expect(page.locator("#order-detail")).to_contain_text("$69.00")
    expect(page.locator("#cart")).to_be_hidden()
    expect(page.locator("#payment")).to_be_hidden()
    # A tampered link is refused, and said so.
    page.goto(link[:-2] + ("AA" if not link.endswith("AA") else "BB"))
    expect(page.locator("#status-message")).to_contain_text("invalid or has expired")
    context.close()
    assert len(messages_to(address)) == 1
