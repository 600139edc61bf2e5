"""The webhook function: verify Stripe's events, plan what each means, apply it exactly once."""
