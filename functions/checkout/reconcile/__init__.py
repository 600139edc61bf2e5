"""The reconciler: orders that heal themselves when webhooks are late, lost or misconfigured.

One pass (checkout.reconcile.one_pass.run_pass) catches up on Stripe events since a cursor,
cancels PaymentIntents left open past the attempt cap, expires abandoned checkouts, re-checks
stuck orders with Stripe, and recovers fulfilment that did not happen. The scheduled function
`reconcile_orders` (functions/main.py) runs it every 10 minutes; by hand, from functions/:
`python -m checkout.reconcile [--abandon-after SECONDS]` (or `make reconcile`).
docs/operations.md has the details.
"""
