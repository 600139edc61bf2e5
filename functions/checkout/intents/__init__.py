"""The checkout function: its HTTP routes, one server-priced PaymentIntent per checkout, the
return page's check with Stripe, the rate limits, and the checkout's own refusals."""
