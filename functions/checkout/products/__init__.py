"""The products the shop sells: `products/{id}` in Firestore, their rules, and the live catalog.

The shop prices carts from `live_catalog.current_catalog()` (read, checked, cached in the
instance). The owner changes the documents with the catalog tool (checkout.catalog), or Stripe
does in Stripe mode (checkout.stripe_events.catalog_events); docs/catalog.md has the fields.
"""
