"""Held units follow the payment: what an event planned for an order does to its stock. Pure.

The ledger (checkout.stripe_events.ledger) plans the order's change first; `pools_to_read` then
says which pools that change concerns (none for most events: nothing more is read), and
`settle` decides, from the order plan and the pools as read, the shards to write in the same
conditional commit as the order, each on the condition that it is still the version read:

- the success recorded on an unpaid order sells its units (checkout.holds.plan.convert; a hold
  that lapsed is taken again from the units on sale). If some are not on sale any more, nothing
  is sold, what it held goes back on sale, and the order records the fact `soldOut`: it is
  needs_review, never fulfilled, and refunded in full (checkout.stripe_events.sold_out);
- `canceled` gives its units back (checkout.holds.plan.release);
- `processing` pins its hold (until None: it does not lapse while Stripe says the payment is
  under way; a lapsed one is taken again if the units are on sale, else the success decides);
- a decline after `processing` unpins it: it lapses `hold_seconds` later, as a shopper's does.

Each of these changes the order's payment fact, and the commit is conditional on the order as
read, so it happens once whatever the delivery order, duplicates and paths. A refund does not
put units back on sale: the owner decides, by raising the product's stock.

Which units: the order's `holdPools` under its `holdKey` (written with the cart when the page
opened the checkout); an order rebuilt from its PaymentIntent has neither: each item's
product pool (and its promotion code's), under the order's own id. A page order without
`holdPools` predates stock: it holds nothing and sells nothing counted (and costs no read).
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from checkout.holds import plan as holds
from checkout.holds.pool import Pool, product_of, product_pool, promotion_pool
from checkout.orders.order import REBUILT
from checkout.orders.status import PaymentState, can_transition
from checkout.platform.json_fields import Json
from checkout.stripe_events.facts import SOLD_OUT, order_status, payment_state
from checkout.stripe_events.plan import Outcome, Plan

HOLD_KEY = "holdKey"
HOLD_POOLS = "holdPools"


class Move(StrEnum):
    """What the payment's new state does to the units the order holds."""

    SELL = "sell"
    RELEASE = "release"
    PIN = "pin"
    UNPIN = "unpin"


@dataclass(frozen=True)
class Settled:
    plan: Plan  # the order's plan, with the soldOut fact when the units were not on sale
    changes: dict[str, holds.Changes]  # pool -> its shards in their new state


def order_after(stored: Json | None, decided: Plan) -> Json:
    return decided.writes if decided.creates else {**(stored or {}), **decided.writes}


def hold_key(order: Json) -> str:
    key = order.get(HOLD_KEY)
    return key if isinstance(key, str) and key else str(order.get("paymentIntentId") or "")


def hold_pools(order: Json) -> list[str]:
    """The pools whose units the order holds or will sell (empty: none, nothing to read)."""
    pools = order.get(HOLD_POOLS)
    if isinstance(pools, list):
        return sorted({p for p in pools if isinstance(p, str) and p})
    if order.get("source") == REBUILT:
        rebuilt = {product_pool(product) for product in _quantities(order)}
        discount = order.get("discount")
        if isinstance(discount, dict) and isinstance(discount.get("code"), str):
            rebuilt.add(promotion_pool(discount["code"]))  # its redemption, when limited
        return sorted(rebuilt)
    return []


def _quantities(order: Json) -> dict[str, int]:
    quantities: dict[str, int] = {}
    for item in order.get("items") or []:
        if not isinstance(item, dict):
            continue
        product, quantity = item.get("productId"), item.get("quantity")
        if isinstance(product, str) and isinstance(quantity, int) and quantity > 0:
            quantities[product] = quantities.get(product, 0) + quantity
    return quantities


def demands(order: Json) -> dict[str, int]:
    """Units of each pool the order's cart takes: a product's quantity; one of any other
    pool (a promotion code's redemption)."""
    quantities = _quantities(order)
    return {
        pool: quantities.get(product, 0) if (product := product_of(pool)) is not None else 1
        for pool in hold_pools(order)
    }


def move(stored: Json | None, decided: Plan) -> Move | None:
    """The stock move `decided` makes, from the payment fact before and after it."""
    if decided.outcome is not Outcome.APPLIED:
        return None
    before, after = payment_state(stored), payment_state(order_after(stored, decided))
    if before is after:
        return None
    if after is PaymentState.SUCCEEDED:
        return Move.SELL
    if after is PaymentState.CANCELED:
        return Move.RELEASE
    if after is PaymentState.PROCESSING:
        return Move.PIN
    if after is PaymentState.FAILED and before is PaymentState.PROCESSING:
        return Move.UNPIN
    return None


def pools_to_read(stored: Json | None, decided: Plan) -> list[str]:
    """The pools `settle` needs, read before the commit (none: nothing to read)."""
    if move(stored, decided) is None:
        return []
    return hold_pools(order_after(stored, decided))


def settle(
    stored: Json | None,
    decided: Plan,
    pools: Mapping[str, Pool],
    now: datetime,
    hold_seconds: int,
) -> Settled:
    """The shards to write with the order's change, and the order's plan as committed."""
    moved = move(stored, decided)
    order = order_after(stored, decided)
    key, wanted = hold_key(order), demands(order)
    if moved is None or not wanted:
        return Settled(decided, {})
    read = {name: pools.get(name, Pool(name, {})) for name in wanted}
    if moved is Move.RELEASE:
        return Settled(decided, _written({n: holds.release(p, key, now) for n, p in read.items()}))
    if moved is Move.PIN:
        pinned = {n: holds.hold(p, key, wanted[n], None, now) for n, p in read.items()}
        # Not on sale any more: left to the success, which sells them if they are by then.
        return Settled(decided, _planned(pinned))
    if moved is Move.UNPIN:
        until = now + timedelta(seconds=hold_seconds)
        unpinned = {
            n: holds.hold(p, key, p.held_by(key, now), until, now)
            for n, p in read.items()
            if _pinned(p, key)
        }
        return Settled(decided, _planned(unpinned))
    sold = {n: holds.convert(p, key, wanted[n], now) for n, p in read.items()}
    short = {n: c for n, c in sold.items() if isinstance(c, holds.NotEnough)}
    if not short:
        return Settled(decided, _planned(sold))
    released = _written({n: holds.release(p, key, now) for n, p in read.items()})
    return Settled(_sold_out(decided, stored, order, wanted, short), released)


def _pinned(pool: Pool, key: str) -> bool:
    return any(
        key in shard.holds and shard.holds[key].until is None for shard in pool.shards.values()
    )


def _planned(changes: Mapping[str, holds.Changes | holds.NotEnough]) -> dict[str, holds.Changes]:
    return _written({name: c for name, c in changes.items() if isinstance(c, dict)})


def _written(changes: Mapping[str, holds.Changes]) -> dict[str, holds.Changes]:
    return {name: shards for name, shards in changes.items() if shards}


def _sold_out(
    decided: Plan,
    stored: Json | None,
    order: Json,
    wanted: Mapping[str, int],
    short: Mapping[str, holds.NotEnough],
) -> Plan:
    """The plan with the soldOut fact, and the status it adds up to (never paid, so never
    fulfilled)."""
    products = {
        product_of(pool) or pool: wanted[pool] - min(wanted[pool], lack.available)
        for pool, lack in short.items()
    }
    history = order.get("history") or []
    at = history[-1].get("eventCreated") if history and isinstance(history[-1], dict) else None
    fact: Json = {"products": products, "at": at}
    status = order_status({**order, SOLD_OUT: fact})
    if decided.previous_status is not None and not can_transition(decided.previous_status, status):
        return decided  # cannot happen: a success may take an unpaid order to any status after it
    writes = {k: v for k, v in decided.writes.items() if k != "fulfilledAt"}
    writes[SOLD_OUT] = fact
    writes["status"] = status.value
    if history:
        writes["history"] = [*history[:-1], {**history[-1], "status": status.value}]
    short_text = ", ".join(f"{units} x {name}" for name, units in sorted(products.items()))
    warning = f"paid for units no longer on sale ({short_text}): nothing sold, refunding in full"
    previous = decided.previous_status
    reason = f"{previous} -> {status}" if previous is not None and previous != status else status
    return replace(
        decided,
        status=status,
        writes=writes,
        newly_paid=False,
        reason=f"{reason}: {warning}",
        warning=warning,
    )
