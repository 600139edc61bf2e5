"""Validating a shopper's cart, pricing it from the live catalog (the only place money is
computed), and what its PaymentIntent's metadata says was sold."""
