"""What an import does to the shipping rates: the file's `shipping` section compared with the
document `shop/shipping` (checkout.shipping). Pure, like changes.py for the products.

A file without a `shipping` section leaves the rates as they are (a file written before the
section existed still imports); `"rates": []` is how a file says the shop ships nowhere. A
section that differs from the document in any way (type-strict, as for products) replaces the
whole document; one that matches writes nothing.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkout.shipping.rates import ShippingRates, document_of


@dataclass(frozen=True)
class ShippingPlan:
    document: Mapping[str, Any] | None  # what Firestore holds now (None: no document)
    wanted: Mapping[str, Any] | None  # the document the file makes; None: no section

    @property
    def write(self) -> Mapping[str, Any] | None:
        """The document to write, or None when the import leaves the rates as they are."""
        if self.wanted is None:
            return None
        if self.document is not None and _same(self.document, self.wanted):
            return None
        return self.wanted


def _as_compared(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _same(document: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return _as_compared(dict(document)) == _as_compared(dict(wanted))


def plan_shipping(
    rates: ShippingRates | None, document: Mapping[str, Any] | None, currency: str
) -> ShippingPlan:
    """What importing the file's section (`rates`, None without one) does to `document`."""
    return ShippingPlan(document, None if rates is None else document_of(rates, currency))


def _shown(document: Mapping[str, Any], field: str) -> str:
    if field not in document:
        return "(missing)"
    # Keys sorted: Firestore gives a map's keys in no set order.
    return json.dumps(document[field], ensure_ascii=False, sort_keys=True, default=repr)


def describe_shipping(plan: ShippingPlan) -> list[str]:
    """One line when the rates are added, one per field that changes; none otherwise."""
    wanted = plan.write
    if wanted is None:
        return []
    if plan.document is None:
        rates = "; ".join(
            f"{', '.join(rate['countries'])} {rate['amount']}" for rate in wanted["rates"]
        )
        free = f", free from {wanted['freeAbove']}" if "freeAbove" in wanted else ""
        return [f"added shipping: {rates or 'no rates'}{free} {wanted['currency']}"]
    old = plan.document
    fields = [*wanted, *(field for field in old if field not in wanted)]
    return [
        f"changed shipping: {field} {_shown(old, field)} -> {_shown(wanted, field)}"
        for field in fields
        if (field in old) != (field in wanted)
        or _as_compared(old.get(field)) != _as_compared(wanted.get(field))
    ]


def shipping_summary(plan: ShippingPlan) -> str:
    """What the summary line adds: nothing without a section."""
    if plan.wanted is None:
        return ""
    if plan.write is None:
        return "; shipping unchanged"
    return "; shipping added" if plan.document is None else "; shipping changed"
