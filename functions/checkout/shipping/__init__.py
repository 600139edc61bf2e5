"""Shipping: the address a shopper gives, checked; the owner's rates; what shipping costs."""
