"""Units of a limited pool (a product's stock, a promotion code's redemptions) held by checkouts,
sold, or on sale: sharded so that no document takes every checkout's write."""
