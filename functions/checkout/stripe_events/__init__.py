"""What Stripe says, applied to orders: events parsed, planned as facts, recorded exactly once.

`apply.apply` is the one way in, for every path Stripe's word takes: the webhook, the events
catch-up, and observations of a PaymentIntent (docs/architecture.md).
"""
