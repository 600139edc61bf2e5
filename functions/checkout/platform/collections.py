"""Every Firestore collection the checkout uses, named once (docs/architecture.md has the model).

checkouts/{checkoutId}      which PaymentIntent serves the checkout, what it holds (`cart`),
                            its client secret sealed; until it has one, `expireAt` (TTL)
orders/{paymentIntentId}    the order; only Stripe's word (checkout.stripe_events) moves it on
stripe_events/{eventId}     the ledger of applied events (checkout.stripe_events.ledger)
reconciler/{name}           the reconciler's own state: its events cursor, its walks
rate_limits/{counterId}     counters of the rate limits (checkout.platform.firestore_counters)
products/{productId}        the catalog the owner imports (checkout.catalog, docs/catalog.md)
stripe_prices/{priceId}     in Stripe mode, what each Stripe Price says (checkout.stripe_events)
pools/{pool}/shards/{n}     a pool of limited units (stock, redemptions) spread over shards:
                            on sale, held by checkouts, sold (checkout.holds)
mail/{mailId}               an email to send, in the Trigger Email shape (checkout.mail); once
                            delivered or given up, `expireAt` (TTL)
promotion_codes/{CODE}      the promotion codes the owner imports (checkout.discounts,
                            docs/catalog.md), the code upper-case
shop/shipping               the owner's shipping rates (checkout.shipping, docs/catalog.md)
"""

CHECKOUTS = "checkouts"
ORDERS = "orders"
STRIPE_EVENTS = "stripe_events"
RECONCILER_STATE = "reconciler"
RATE_LIMITS = "rate_limits"
PRODUCTS = "products"
STRIPE_PRICES = "stripe_prices"
POOLS = "pools"
POOL_SHARDS = "shards"  # the subcollection of each pool
MAIL = "mail"
PROMOTION_CODES = "promotion_codes"
SHOP = "shop"  # the shop's one-of-a-kind settings documents
SHIPPING_RATES_DOCUMENT = "shipping"  # in SHOP
