"""What a checkout's hold asks of each pool: its cart, and 0 of what it no longer wants."""

from checkout.cart.pricing import PricedCart, PricedLine
from checkout.intents.stock_holds import demands


def test_a_hold_asks_for_the_cart_and_gives_back_what_left_it() -> None:
    cart = PricedCart((PricedLine("mug", "Mug", 1400, 2), PricedLine("tee", "Tee", 2500, 1)), "usd")
    assert demands(cart) == {"product:mug": 2, "product:tee": 1}
    assert demands(cart, ["product:mug", "product:cap"]) == {
        "product:mug": 2,
        "product:tee": 1,
        "product:cap": 0,  # removed from the cart: its units go back on sale
    }
