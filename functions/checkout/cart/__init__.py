"""The catalog, validating a shopper's cart, and pricing it: the only place money is computed."""
