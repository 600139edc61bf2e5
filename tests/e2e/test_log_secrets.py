"""No checkout id, client secret, email or card data in any log line of the functions, over the
whole flow: pay, decline then pay, 3D Secure, and the webhook deliveries that follow.

The functions' logs are what the Functions emulator writes to the stack's log folder
(dev/stack.py sets STACK_LOG_DIR to it). The stand-in Stripe servers' own logs
(localstripe, the Stripe.js stand-in) are Stripe's side and are not ours to check.
"""

import json
import os
from pathlib import Path

from tests.e2e.conftest import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    ROOT,
    Checkout,
    firestore_status,
)

LOG_DIR = Path(os.environ.get("STACK_LOG_DIR", str(ROOT / ".run" / "logs")))
FUNCTION_LOGS = ("firebase-emulators.log",)
EMAIL = "log.check+e2e@example.com"


def log_sizes() -> dict[Path, int]:
    return {LOG_DIR / name: (LOG_DIR / name).stat().st_size for name in FUNCTION_LOGS}


def logged_since(sizes: dict[Path, int]) -> str:
    text = []
    for path, offset in sizes.items():
        with path.open("rb") as log:
            log.seek(offset)
            text.append(log.read().decode("utf-8", errors="replace"))
    return "".join(text)


def pay(checkout: Checkout, card: str, *, then: str | None = None) -> None:
    checkout.fill_card(card)
    checkout.pay()
    if then:
        checkout.page.click(then)


def test_the_full_flow_logs_no_secrets(checkout: Checkout) -> None:
    sizes = log_sizes()
    secrets: set[str] = set()
    intent_ids: list[str] = []

    def new_checkout() -> None:
        checkout.page.fill("#email", EMAIL)
        checkout.page.locator("#email").blur()
        checkout.set_quantity("tee-classic", 2)
        checkout.expect_ready()

    def remember() -> None:
        secrets.add(checkout.checkout_id())
        secrets.update(i["clientSecret"] for i in checkout.intents)
        intent_ids.append(checkout.intent["paymentIntentId"])

    # 1. a card that pays
    checkout.open()
    new_checkout()
    remember()
    pay(checkout, CARD_OK)
    checkout.expect_order("paid")

    # 2. a decline, then a card that pays
    checkout.page.click("#new-checkout")
    checkout.expect_ready()
    new_checkout()
    remember()
    pay(checkout, CARD_DECLINED)
    checkout.expect_payment_error("declined")
    pay(checkout, CARD_OK)
    checkout.expect_order("paid")

    # 3. 3D Secure
    checkout.page.click("#new-checkout")
    checkout.expect_ready()
    new_checkout()
    remember()
    pay(checkout, CARD_3DS, then="#standin-3ds-complete")
    checkout.expect_order("paid")

    # The webhook's deliveries (about 1 s after each change) are logged too.
    checkout.wait_until(lambda: all(firestore_status(i) == "paid" for i in intent_ids))
    checkout.wait_until(lambda: logged_since(sizes).count('"order fulfilled"') >= 3)
    logged = logged_since(sizes)

    entries = [
        json.loads(line[line.index("{") :]) for line in logged.splitlines() if '{"severity"' in line
    ]
    messages = {e["message"] for e in entries}
    assert {"payment intent created", "webhook event recorded", "order fulfilled"} <= messages
    assert {e.get("orderId") for e in entries} >= set(intent_ids)

    secrets.update(s.split("_secret_")[1] for s in list(secrets) if "_secret_" in s)
    secrets.update(s.replace("-", "") for s in list(secrets))
    cards = {CARD_OK, CARD_DECLINED, CARD_3DS}
    forbidden = {
        *secrets,
        EMAIL,
        EMAIL.split("@")[0],
        *cards,
        *(c.replace(" ", "") for c in cards),
        *(c.replace(" ", "")[-8:] for c in cards),
    }
    leaked = sorted(value for value in forbidden if value and value in logged)
    assert not leaked, f"found in the function logs: {leaked}"
