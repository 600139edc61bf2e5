"""Promotion codes: their rules, and the discount they give a priced cart."""
