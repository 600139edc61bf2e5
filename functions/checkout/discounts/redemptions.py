"""A promotion code's redemptions as pools of checkout.holds: what a checkout using it holds.

- `promotion:{CODE}` (holds.pool.promotion_pool): a code with `maxRedemptions` has that many
  units, set by the catalog import. A checkout using the code holds one, with its cart's units,
  in one all-or-nothing hold; the ledger sells it when the payment succeeds and releases it when
  the checkout ends unpaid, exactly as a product's units. No hot document: it is sharded.
- `promotion:{CODE}:email:{sha256 of the email, lower-cased}`: a `oncePerEmail` code's one
  redemption per email, a pool of one unit made when an email first applies the code. Held and
  sold like the other, so two checkouts of one email can never both pay with the code: the
  second one's hold finds the unit held or sold (`promotion_code_already_used`). The email goes
  in only as a hash (pool ids are document ids; emails never reach logs or ids in clear).
"""

import hashlib
from collections.abc import Iterable

from checkout.discounts.eligibility import already_used, used_up
from checkout.holds.pool import promotion_pool
from checkout.platform.errors import ApiError

EMAIL_MARK = ":email:"


def code_pool(code: str) -> str:
    return promotion_pool(code)


def email_pool(code: str, email: str) -> str:
    """The pool of `code`'s one redemption by `email` (case-insensitive, as mail is in practice)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"{promotion_pool(code)}{EMAIL_MARK}{digest}"


def redemption_refused(short: Iterable[str]) -> ApiError:
    """The refusal when the redemption pools `short` had no unit for the checkout."""
    if any(EMAIL_MARK in pool for pool in short):
        return already_used()
    return used_up()
