"""Composing a message from an order: subject, text and HTML, from the templates in templates/.

Pure: the order (as stored) and the link in, the three parts out. HTML is autoescaped (a
product name or an address is the shopper's or the owner's text, never markup) and its CSS is
inlined (css-inline), since mail clients drop `<style>` blocks. Fields that later issues add
to the order are shown when present: `discount` ({code, amount}) and `shipping` ({amount,
address: Stripe's shape {name, address {line1, line2, city, state, postal_code, country}}}).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checkout.mail.amounts import format_amount
from checkout.orders.order_number import order_number

if TYPE_CHECKING:  # imported when the first message is composed: the webhook's cold start
    import css_inline
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"


class MailKind(StrEnum):
    CONFIRMATION = "confirmation"  # to the shopper, when the order is paid
    OWNER = "owner"  # to OWNER_EMAIL, when the order is paid: what to ship, where
    REFUND = "refund"  # to the shopper, after a full refund


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


@cache
def _templates() -> "jinja2.Environment":
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,  # a template asking for what is not there fails here
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _inliner() -> "css_inline.CSSInliner":
    import css_inline

    # Nothing is fetched: a message is composed inside the paying commit's function.
    return css_inline.CSSInliner(load_remote_stylesheets=False)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def address_lines(shipping: Any) -> list[str]:
    """Stripe's shipping details as the lines of an address label (empty ones left out)."""
    if not isinstance(shipping, Mapping):
        return []
    address = shipping.get("address")
    address = address if isinstance(address, Mapping) else {}
    city, region = _text(address.get("city")), _text(address.get("state"))
    postal_code = _text(address.get("postal_code"))
    # "Springfield, IL 62701": one line, the way most countries' labels can read it.
    city_line = ", ".join(p for p in (city, " ".join(p for p in (region, postal_code) if p)) if p)
    lines = [
        _text(shipping.get("name")),
        _text(address.get("line1")),
        _text(address.get("line2")),
        city_line,
        _text(address.get("country")),
    ]
    return [line for line in lines if line]


def _context(order_id: str, order: Mapping[str, Any], status_url: str | None) -> dict[str, Any]:
    currency = _text(order.get("currency")) or "usd"

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    lines = []
    subtotal = 0
    for item in order.get("items") or []:
        unit, quantity = _int(item.get("unitAmount")), _int(item.get("quantity"))
        subtotal += unit * quantity
        lines.append(
            {
                "name": _text(item.get("name")) or _text(item.get("productId")),
                "quantity": quantity,
                "unit": money(unit),
                "amount": money(unit * quantity),
            }
        )
    discount = order.get("discount")
    discount = discount if isinstance(discount, Mapping) else {}
    shipping = order.get("shipping")
    shipping = shipping if isinstance(shipping, Mapping) else {}
    total = _int(order.get("amount"))
    return {
        "order_id": order_id,
        "number": order_number(order_id),
        "lines": lines,
        "subtotal": money(subtotal),
        "discount": {"code": _text(discount.get("code")), "amount": money(discount["amount"])}
        if _int(discount.get("amount")) > 0
        else None,
        "shipping": {"amount": money(shipping["amount"])}
        if isinstance(shipping.get("amount"), int)
        else None,
        "address": address_lines(shipping.get("address")),
        "total": money(total),
        "refunded": money(_int(order.get("refundedAmount")) or total),
        "email": _text(order.get("email")) or None,
        "status_url": status_url,
    }


def subject(kind: MailKind, number: str, item_count: int) -> str:
    if kind is MailKind.CONFIRMATION:
        return f"Your order {number} is confirmed"
    if kind is MailKind.REFUND:
        return f"Your order {number} was refunded"
    return f"New order {number}: {item_count} item{'s' if item_count != 1 else ''}"


def compose(
    kind: MailKind, order_id: str, order: Mapping[str, Any], status_url: str | None
) -> Message:
    """The message of `kind` about the order `order_id` (the order as stored)."""
    context = _context(order_id, order, status_url)
    context["subject"] = subject(
        kind, context["number"], sum(line["quantity"] for line in context["lines"])
    )
    environment = _templates()
    text = environment.get_template(f"{kind.value}.txt").render(context)
    html = environment.get_template(f"{kind.value}.html").render(context)
    return Message(subject=context["subject"], text=text, html=_inliner().inline(html))
