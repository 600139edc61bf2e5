"""A checkout's hold on the stock of its cart (checkout.holds), taken or changed by opening.

The key of a checkout's hold is its checkoutId. A hold asks for every product of the cart, and
for 0 of each pool the checkout held before and no longer wants, so a smaller cart or a
removed product gives its units back; untracked products hold nothing. A promotion code's
redemption pools (checkout.intents.promotion) are held in the same call, one unit each, so the
cart's units and its code's redemption are held together or not at all. The pools that turned
out tracked are the order's `holdPools` (the ledger converts, pins or releases them).
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from checkout.cart.pricing import PricedCart
from checkout.discounts.redemptions import redemption_refused
from checkout.holds import store as holds
from checkout.holds.pool import product_of, product_pool
from checkout.intents.errors import out_of_stock
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import WriteConflict
from checkout.platform.settings import stock_hold_seconds


def demands(
    cart: PricedCart, held_before: Iterable[str] = (), redemptions: Iterable[str] = ()
) -> dict[str, int]:
    """Pool -> units the checkout must hold for `cart` and its code's `redemptions` (one unit
    of each): 0 for pools it holds and no longer wants."""
    wanted: dict[str, int] = {pool: 0 for pool in held_before}
    for line in cart.lines:
        pool = product_pool(line.product_id)
        wanted[pool] = wanted.get(pool, 0) + line.quantity
    for pool in redemptions:
        wanted[pool] = 1
    return wanted


def hold_cart(
    checkout_id: str,
    cart: PricedCart,
    held_before: Iterable[str] = (),
    redemptions: Iterable[str] = (),
) -> list[str]:
    """Checkout `checkout_id` holds exactly its cart's units, and one of each of `redemptions`,
    for STOCK_HOLD_SECONDS from now (a renewal less than a minute later is not written).
    Returns the tracked pools held; raises 409 out_of_stock, holding nothing new, when some
    product has fewer units on sale, or the code's refusal when a redemption pool has none."""
    now = datetime.now(UTC)
    wanted = demands(cart, held_before, redemptions)
    try:
        available = holds.hold(
            checkout_id, wanted, now, now + timedelta(seconds=stock_hold_seconds())
        )
    except holds.NotEnough as short:
        short_pools = {p for p, units in short.available.items() if units < wanted.get(p, 0)}
        if short_pools and all(product_of(pool) is None for pool in short_pools):
            logger.info(
                "checkout refused: no redemption left", checkout=logger.pseudonym(checkout_id)
            )
            raise redemption_refused(short_pools) from None
        in_cart = {line.product_id for line in cart.lines}
        by_product = {
            product: units
            for pool, units in short.available.items()
            if (product := product_of(pool)) is not None and product in in_cart
        }
        logger.info(
            "checkout refused: out of stock",
            checkout=logger.pseudonym(checkout_id),
            available=by_product,
        )
        raise out_of_stock(by_product) from None
    except WriteConflict:
        # Lost every retry to other checkouts of the same shards: a rush, not our fault.
        raise ApiError(503, "storage_busy", "Too many changes at once; try again.") from None
    return sorted(
        pool for pool, units in available.items() if units is not None and wanted[pool] > 0
    )


def release_cart(checkout_id: str, pools: Iterable[str]) -> None:
    """Put the checkout's units back on sale now, when its PaymentIntent could not be made.
    Best effort: a hold left behind lapses by itself after STOCK_HOLD_SECONDS."""
    pools = list(pools)
    if not pools:
        return
    try:
        holds.release(checkout_id, pools, datetime.now(UTC))
    except Exception as error:  # noqa: BLE001 - the hold lapses anyway; the caller's error counts
        logger.warn(
            "stock hold not released",
            checkout=logger.pseudonym(checkout_id),
            error=type(error).__name__,
        )
