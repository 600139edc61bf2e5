"""The webhook function: verify Stripe's signed deliveries and hand each to the one pipeline
(checkout.stripe_events.apply)."""
