"""Every configuration name the functions read, declared once.

Secrets are Firebase `SecretParam`s: Secret Manager in production, the environment or
`functions/.env.local` in the emulator and in tests. Nothing here reads a value at import
time, so a missing setting never crashes the import; `require()` turns it into a clear error
at request time instead.
"""

import re

from firebase_functions import params

STRIPE_SECRET_KEY = params.SecretParam(
    "STRIPE_SECRET_KEY", description="Stripe secret key (sk_test_... or sk_live_...)."
)
STRIPE_WEBHOOK_SECRET = params.SecretParam(
    "STRIPE_WEBHOOK_SECRET",
    description="Webhook signing secret(s), whsec_...; comma-separated during rotation.",
)
STRIPE_PUBLISHABLE_KEY = params.StringParam(
    "STRIPE_PUBLISHABLE_KEY", description="Stripe publishable key (pk_...), sent to the page."
)
STRIPE_API_BASE = params.StringParam(
    "STRIPE_API_BASE",
    default="",
    description="Optional Stripe API base URL for an offline stand-in; empty means real Stripe.",
)
CORS_ALLOWED_ORIGINS = params.StringParam(
    "CORS_ALLOWED_ORIGINS",
    default="",
    description=(
        "Comma-separated origins allowed to call the API cross-origin; empty: same-origin only."
    ),
)

ABANDON_CHECKOUT_AFTER_SECONDS = params.IntParam(
    "ABANDON_CHECKOUT_AFTER_SECONDS",
    default=24 * 3600,
    description=(
        "A pending or failed checkout with no activity for this long has its PaymentIntent "
        "canceled by the reconciler, unless a payment is still under way."
    ),
)

# --- Stock (docs/architecture.md, "Stock").
STOCK_HOLD_SECONDS = params.IntParam(
    "STOCK_HOLD_SECONDS",
    default=900,
    description=(
        "A checkout holds its units of a stocked product for this long after its last request "
        "(Pay renews it); then they go back on sale, unless the payment is under way. The "
        "reconciler cancels at Stripe a checkout idle for this long whose hold has lapsed."
    ),
)

# --- The catalog (docs/catalog.md).
SHOP_CURRENCY = params.StringParam(
    "SHOP_CURRENCY",
    default="usd",
    description=(
        "The shop's one currency, an ISO 4217 code in lower case (usd, eur): the catalog's, "
        "and so every PaymentIntent's."
    ),
)
CATALOG_CACHE_SECONDS = params.IntParam(
    "CATALOG_CACHE_SECONDS",
    default=30,
    description=(
        "An instance reads the catalog from Firestore at most once per this many seconds: the "
        "bound on how late a catalog change reaches it. 0: read it for every request."
    ),
)
CATALOG_SOURCE = params.StringParam(
    "CATALOG_SOURCE",
    default="firestore",
    description=(
        "Where the owner keeps the catalog: 'firestore' (a file imported with "
        "`python -m checkout.catalog import`) or 'stripe' (the Stripe Dashboard)."
    ),
)
CATALOG_SOURCES = ("firestore", "stripe")

# --- Email (docs/operations.md, "Mail"): the confirmation, refund and owner messages.
SMTP_URL = params.SecretParam(
    "SMTP_URL",
    description=(
        "Where mail is sent: smtp://host:port (STARTTLS when offered), "
        "smtps://user:password@host:465 (TLS), or 'disabled' (nothing is sent)."
    ),
)
MAIL_FROM = params.StringParam(
    "MAIL_FROM",
    default="",
    description="The From of every message, e.g. 'Shop <orders@example.com>'.",
)
OWNER_EMAIL = params.StringParam(
    "OWNER_EMAIL",
    default="",
    description="Optional: who is told, for each paid order, what to ship and where.",
)
PUBLIC_BASE_URL = params.StringParam(
    "PUBLIC_BASE_URL",
    default="",
    description=(
        "The shop page's origin (https://shop.example.com), for the order-status link in "
        "emails; empty: the emails carry no link."
    ),
)


class MissingSetting(Exception):
    """A required setting has no value. The message names the variable, never a value."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not set")
        self.name = name


class InvalidSetting(Exception):
    """A setting has a value the code cannot use. The message names the variable and what it
    accepts (these settings are not secrets, so the value is named too)."""

    def __init__(self, name: str, value: str, accepted: str) -> None:
        super().__init__(f"{name}={value!r} is not valid: {accepted}")
        self.name = name


def require(param: params.SecretParam | params.StringParam) -> str:
    """The setting's value, or MissingSetting when it is empty."""
    value = param.value.strip()
    if not value:
        raise MissingSetting(param.name)
    return value


def optional(param: params.StringParam) -> str:
    return param.value.strip()


def allowed_origins() -> frozenset[str]:
    return frozenset(o.strip() for o in optional(CORS_ALLOWED_ORIGINS).split(",") if o.strip())


def webhook_secrets() -> list[str]:
    """All current signing secrets: during rotation Stripe signs with each active one."""
    return [s.strip() for s in require(STRIPE_WEBHOOK_SECRET).split(",") if s.strip()]


# --- Abuse limits on POST /api/payment-intents (see docs/security.md). Tests and shops tune
# them through the environment / functions/.env.<project>, like any Firebase param.
REQUESTS_PER_IP_PER_MINUTE = params.IntParam(
    "REQUESTS_PER_IP_PER_MINUTE",
    default=60,
    description="POST /api/payment-intents per client IP per minute, counted per instance.",
)
NEW_CHECKOUTS_PER_IP_PER_10_MINUTES = params.IntParam(
    "NEW_CHECKOUTS_PER_IP_PER_10_MINUTES",
    default=20,
    description="New checkouts (new PaymentIntents) per client IP per 10 minutes.",
)
NEW_CHECKOUTS_PER_MINUTE = params.IntParam(
    "NEW_CHECKOUTS_PER_MINUTE",
    default=300,
    description="New checkouts (new PaymentIntents) per minute for the whole shop.",
)
WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES = params.IntParam(
    "WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES",
    default=10,
    description=(
        "Unknown promotion codes per client IP per 10 minutes; past it, every code that client "
        "sends is answered 429 until the window ends (codes are not brute-forced)."
    ),
)
FORWARDED_FOR_CLIENT_HOP = params.IntParam(
    "FORWARDED_FOR_CLIENT_HOP",
    default=2,
    description=(
        "Which X-Forwarded-For entry, counted from the right, is the client IP: 2 is the "
        "client address Google's front end appends before its own; 0 ignores the header."
    ),
)
CLIENT_IP_DIAGNOSTIC = params.BoolParam(
    "CLIENT_IP_DIAGNOSTIC",
    default=False,
    description=(
        "One-off check of X-Forwarded-For's shape: each POST /api/payment-intents logs how many "
        "entries it had and which one was used (positions, never addresses). Turn off after."
    ),
)

# --- Ceilings: instances, concurrency, memory and timeout of each function (deploy-time params).
CHECKOUT_MAX_INSTANCES = params.IntParam(
    "CHECKOUT_MAX_INSTANCES", default=10, description="checkout_api: most instances at once."
)
CHECKOUT_CONCURRENCY = params.IntParam(
    "CHECKOUT_CONCURRENCY", default=40, description="checkout_api: requests per instance at once."
)
CHECKOUT_MEMORY_MB = params.IntParam(
    "CHECKOUT_MEMORY_MB", default=512, description="checkout_api: memory per instance, in MB."
)
CHECKOUT_TIMEOUT_SECONDS = params.IntParam(
    "CHECKOUT_TIMEOUT_SECONDS", default=60, description="checkout_api: request timeout, seconds."
)
WEBHOOK_MAX_INSTANCES = params.IntParam(
    "WEBHOOK_MAX_INSTANCES", default=10, description="stripe_webhook: most instances at once."
)
WEBHOOK_CONCURRENCY = params.IntParam(
    "WEBHOOK_CONCURRENCY", default=40, description="stripe_webhook: requests per instance at once."
)
WEBHOOK_MEMORY_MB = params.IntParam(
    "WEBHOOK_MEMORY_MB", default=512, description="stripe_webhook: memory per instance, in MB."
)
WEBHOOK_TIMEOUT_SECONDS = params.IntParam(
    "WEBHOOK_TIMEOUT_SECONDS", default=60, description="stripe_webhook: request timeout, seconds."
)
# One pass at a time is enough (passes may overlap safely, but need not); its time budget
# (checkout.reconcile.PassSettings, 4 min) stays inside the timeout.
RECONCILE_MAX_INSTANCES = params.IntParam(
    "RECONCILE_MAX_INSTANCES", default=1, description="reconcile_orders: most instances at once."
)
RECONCILE_MEMORY_MB = params.IntParam(
    "RECONCILE_MEMORY_MB", default=512, description="reconcile_orders: memory per instance, in MB."
)
RECONCILE_TIMEOUT_SECONDS = params.IntParam(
    "RECONCILE_TIMEOUT_SECONDS",
    default=300,
    description="reconcile_orders: timeout of a pass, seconds.",
)


def positive(param: params.IntParam) -> int:
    """An int param's value, at least 1 (0 or a negative value would block everything)."""
    return max(1, param.value)


def shop_currency() -> str:
    """SHOP_CURRENCY, normalised as Stripe writes currencies (three lower-case letters)."""
    value = SHOP_CURRENCY.value.strip().lower()
    if not re.fullmatch(r"[a-z]{3}", value):
        raise InvalidSetting(SHOP_CURRENCY.name, SHOP_CURRENCY.value, "an ISO code such as usd")
    return value


def stock_hold_seconds() -> int:
    """STOCK_HOLD_SECONDS, at least 1 (a hold must outlive the request that takes it)."""
    return positive(STOCK_HOLD_SECONDS)


def catalog_cache_seconds() -> int:
    """CATALOG_CACHE_SECONDS, at least 0 (0: no cache)."""
    return max(0, CATALOG_CACHE_SECONDS.value)


def catalog_source() -> str:
    """CATALOG_SOURCE: "firestore" or "stripe"."""
    value = CATALOG_SOURCE.value.strip().lower()
    if value not in CATALOG_SOURCES:
        raise InvalidSetting(
            CATALOG_SOURCE.name, CATALOG_SOURCE.value, " or ".join(CATALOG_SOURCES)
        )
    return value


def public_base_url() -> str:
    """PUBLIC_BASE_URL without a trailing slash; empty when unset."""
    value = optional(PUBLIC_BASE_URL).rstrip("/")
    if value and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
        raise InvalidSetting(
            PUBLIC_BASE_URL.name, PUBLIC_BASE_URL.value, "an http(s) URL such as https://shop.io"
        )
    return value


def owner_email() -> str:
    """OWNER_EMAIL; empty when unset (no owner messages)."""
    value = optional(OWNER_EMAIL)
    if value and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        # Not the value: an address is personal data, even the owner's.
        raise InvalidSetting(OWNER_EMAIL.name, "...", "one email address")
    return value
