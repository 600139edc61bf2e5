"""The checkout function: one server-priced PaymentIntent per checkout, and its HTTP routes."""
