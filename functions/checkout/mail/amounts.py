"""Amounts as a message shows them, from integer minor units, per currency.

Stripe counts every amount in the currency's minor unit: cents for usd, but whole yen for jpy
(zero-decimal) and thousandths for kwd (three-decimal): the lists are Stripe's
(docs.stripe.com/currencies). Formatting is fixed and locale-free ("$1,234.50", "¥1,500",
"12.00 CHF"): one way the owner and the shopper both read it.
"""

# Stripe's zero-decimal and three-decimal currencies.
_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
_THREE_DECIMAL = frozenset(("bhd", "jod", "kwd", "omr", "tnd"))
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def decimals(currency: str) -> int:
    """How many decimal places the currency's minor unit has."""
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """`amount` minor units of `currency`, e.g. format_amount(123450, "usd") == "$1,234.50"."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**places)
    number = f"{whole:,}" + (f".{fraction:0{places}d}" if places else "")
    symbol = _SYMBOLS.get(currency.lower())
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency.upper()}"
