"""The product catalog: the only place prices exist.

The page shows these prices (via GET /api/config) but never sends them back; the server
prices every cart from here. To sell your own products, edit PRODUCTS.
"""

from dataclasses import dataclass

# One currency for the whole store: a PaymentIntent has exactly one.
CURRENCY = "usd"


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    unit_amount: int  # in the currency's minor unit (cents), as Stripe expects


PRODUCTS: dict[str, Product] = {
    p.id: p
    for p in (
        Product("tee-classic", "Classic tee", "Organic cotton, unisex fit.", 2500),
        Product("mug-enamel", "Enamel mug", "Camp-style, 350 ml.", 1400),
        Product("sticker-pack", "Sticker pack", "Five die-cut vinyl stickers.", 500),
    )
}


def public_catalog() -> list[dict[str, str | int]]:
    """The catalog as the page receives it."""
    return [
        {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "unitAmount": p.unit_amount,
            "currency": CURRENCY,
        }
        for p in PRODUCTS.values()
    ]
