"""The owner's catalog tool: `python -m checkout.catalog import FILE | export | sync-from-stripe`.

A catalog file in, checked whole, and the changes written to the products (checkout.products);
the live products out in the same format; or, in Stripe mode, the products backfilled from the
Stripe Dashboard (docs/catalog.md).
"""
