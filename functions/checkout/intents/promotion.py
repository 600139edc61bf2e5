"""A checkout's promotion code: read, checked, priced, and the redemption pools it must hold.

For POST /api/payment-intents with a `promotionCode` (checkout.discounts has the rules):
  1. one read of the code's document and of the client's count of unknown codes this window:
     a client past WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES gets 429 for any code, known or
     not (so a lucky guess past the limit reveals nothing), unless the checkout already uses
     this code (a shopper behind a busy address can still pay);
  2. an unknown (or deactivated, or malformed) code counts against the client and is answered
     `promotion_code_unknown`, never anything more;
  3. one read of its redemption pools (checkout.discounts.redemptions); the checks in the order
     checkout.discounts.eligibility gives; the discount priced (checkout.discounts.pricing).
The caller holds the pools with the cart's units (checkout.intents.stock_holds), where 50
checkouts racing for the last redemption find out which one has it.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from checkout.cart.metadata import signature_discount_code
from checkout.cart.pricing import Discount, PricedCart
from checkout.cart.validation import CartRequest
from checkout.discounts import eligibility, pricing, redemptions
from checkout.discounts.promotion_code import PromotionCode, normalize
from checkout.discounts.store import code_or_none
from checkout.holds import store as holds
from checkout.intents import rate_limits
from checkout.platform import firestore_counters
from checkout.platform import structured_log as logger
from checkout.platform.collections import PROMOTION_CODES, RATE_LIMITS
from checkout.platform.firestore_client import RPC_RETRY, RPC_TIMEOUT_SECONDS, db


@dataclass(frozen=True)
class AppliedCode:
    cart: PricedCart  # with the code's Discount
    pools: tuple[str, ...]  # redemption pools to hold one unit of each (none: unlimited)


def _read(
    code: str | None, counter: firestore_counters.Counter
) -> tuple[dict[str, Any] | None, int]:
    """The code's document (None: none) and the client's count, in one round trip."""
    counter_ref = db().collection(RATE_LIMITS).document(counter.doc_id)
    refs = [counter_ref]
    if code is not None:
        refs.append(db().collection(PROMOTION_CODES).document(code))
    found: dict[str, Any] | None = None
    count = 0
    for snapshot in db().get_all(refs, retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS):
        if not snapshot.exists:
            continue
        data = snapshot.to_dict() or {}
        if snapshot.reference.path == counter_ref.path:
            value = data.get("count")
            count = value if isinstance(value, int) else 0
        else:
            found = data
    return found, count


def _known_code(typed: str, client_ip: str, record: dict[str, Any], currency: str) -> PromotionCode:
    """The active code `typed` names, or the 400 unknown / 429 (counted against the client)."""
    code = normalize(typed)
    now = rate_limits.clock()
    counter = rate_limits.wrong_code_counter(client_ip, now)
    document, count = _read(code, counter)
    if code is None or code != signature_discount_code(record.get("cart")):
        rate_limits.check_wrong_codes(client_ip, count, now, counted=False)
    found = code_or_none(code, document, currency) if code is not None else None
    if found is not None and found.active:
        return found
    rate_limits.check_wrong_codes(client_ip, firestore_counters.increment(counter), now, True)
    raise eligibility.unknown()


def _ensure_email_pool(pool: str, tracked: bool) -> None:
    """An email's first use of a oncePerEmail code makes its one-unit pool (re-made by a
    concurrent first use, it stays one unit: set_total never goes below what is held)."""
    if not tracked:
        holds.set_total(pool, 1, datetime.now(UTC))


def apply_code(
    request: CartRequest, cart: PricedCart, client_ip: str, record: dict[str, Any]
) -> AppliedCode | None:
    """The cart with the request's promotion code, or None when it names none; raises the
    code's 400 refusal (or 429). `record`: the checkout record as read (the code it used)."""
    if request.promotion_code is None:
        return None
    code = _known_code(request.promotion_code, client_ip, record, cart.currency)
    key, now = request.checkout_id, datetime.now(UTC)
    code_pool = redemptions.code_pool(code.code)
    email_pool = (
        redemptions.email_pool(code.code, request.email)
        if code.once_per_email and request.email
        else None
    )
    read = holds.read_pools(db(), [code_pool] + ([email_pool] if email_pool else []))
    pool = read.pools[code_pool]
    per_email = read.pools[email_pool] if email_pool else None
    # An unlimited code holds nothing: the record says whether this checkout used it already.
    held = (
        pool.held_by(key, now) > 0
        if pool.tracked
        else signature_discount_code(record.get("cart")) == code.code
    )
    eligibility.check(
        code,
        cart,
        now,
        email=request.email,
        available=pool.available(now, key) if pool.tracked else None,
        email_redeemed=per_email is not None and per_email.sold() > 0,
        held_by_checkout=held,
    )
    priced = pricing.discounted(cart, code)
    discount = Discount(code.code, priced.discount, tuple(x.product_id for x in priced.lines))
    pools: list[str] = []
    if code.max_redemptions is not None:
        pools.append(code_pool)
    if email_pool is not None and per_email is not None:
        _ensure_email_pool(email_pool, per_email.tracked)
        pools.append(email_pool)
    logger.info("promotion code applied", promotionCode=code.code, discount=priced.discount)
    return AppliedCode(replace(cart, discount=discount), tuple(pools))
