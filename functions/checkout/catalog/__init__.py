"""The catalog: products in Firestore (`products/{id}`), which the owner changes without a deploy.

The shop sells from `live_catalog.current_catalog()` (read, checked, cached in the instance);
the owner changes it with `python -m checkout.catalog import FILE` from a catalog file
(docs/catalog.md).
"""
