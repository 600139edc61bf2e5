"""The smallest amount Stripe charges in a currency: the one table of it.

Stripe refuses a PaymentIntent below it (real Stripe does; localstripe does not), so a total
below it is refused here, with a clear 400, before Stripe is asked. The figures are Stripe's
"Minimum and maximum charge amounts" (https://docs.stripe.com/currencies), in minor units. Stripe
applies the minimum in the settlement currency too: a charge converted to a settlement currency
may need more, and Stripe's own refusal (`amount_too_small`) still covers that case.
"""

from checkout.platform.errors import ApiError

MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
}
# A currency the table does not name: at least one minor unit; Stripe says "$0.50 US or
# equivalent", and refuses what is below it.
UNLISTED_MINIMUM = 1


def minimum_charge(currency: str) -> int:
    """The smallest total Stripe charges in `currency` (lower case), in its minor unit."""
    return MINIMUM_CHARGE.get(currency, UNLISTED_MINIMUM)


def amount_too_small(currency: str) -> ApiError:
    minimum = minimum_charge(currency)
    return ApiError(
        400,
        "amount_too_small",
        f"The total is below the smallest amount that can be paid by card "
        f"({minimum} in the minor unit of {currency.upper()}).",
        details={"minimumCharge": minimum},
    )


def check_minimum_charge(total: int, currency: str) -> None:
    """Raise 400 amount_too_small when Stripe would refuse to charge `total`."""
    if total < minimum_charge(currency):
        raise amount_too_small(currency)
