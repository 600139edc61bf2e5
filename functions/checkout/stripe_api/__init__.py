"""Every call the checkout makes to Stripe, typed, and what Stripe's failures mean to callers."""
