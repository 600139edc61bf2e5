"""Every configuration name the functions read, declared once.

Secrets are Firebase `SecretParam`s: Secret Manager in production, the environment or
`functions/.env.local` in the emulator and in tests. Nothing here reads a value at import
time, so a missing setting never crashes the import; `require()` turns it into a clear error
at request time instead.
"""

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
    description="Comma-separated origins allowed to call the API cross-origin; empty: same-origin only.",
)

ABANDON_CHECKOUT_AFTER_SECONDS = params.IntParam(
    "ABANDON_CHECKOUT_AFTER_SECONDS",
    default=24 * 3600,
    description="The reconciler cancels a pending checkout's unpaid PaymentIntent after this long.",
)


class MissingSetting(Exception):
    """A required setting has no value. The message names the variable, never a value."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not set")
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
