"""Promotion codes: their rules, and the discount they give a priced cart.

`promotion_codes/{CODE}` in Firestore, managed through the catalog file (docs/catalog.md). For a
checkout, in this order (each step raises or returns a 400 ApiError of its own code):

    code = promotion_code.normalize(typed)           # None: answer eligibility.unknown()
    found = store.read_code(db(), code, currency)    # None: no such (valid) document
    eligibility.check(found, cart, now, email=..., available=..., email_redeemed=...,
                      held_by_checkout=...)
    priced = pricing.discounted(cart, found)         # subtotal, discount, total, lines, code
"""
