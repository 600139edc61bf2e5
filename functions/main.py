"""The entry points. They only parse, call and respond; the work is in `checkout/`.

Two HTTP functions serve the page and Stripe's webhook; a scheduled one, `reconcile_orders`,
heals what the webhook missed. Firebase discovers them through their decorators; each HTTP one
also runs under plain functions-framework
(`functions-framework --target checkout_api --source functions/main.py`).
"""

from firebase_functions import https_fn, scheduler_fn
from flask import Request, Response

from checkout.platform.settings import (
    CHECKOUT_CONCURRENCY,
    CHECKOUT_MAX_INSTANCES,
    CHECKOUT_MEMORY_MB,
    CHECKOUT_TIMEOUT_SECONDS,
    RECONCILE_MAX_INSTANCES,
    RECONCILE_MEMORY_MB,
    RECONCILE_TIMEOUT_SECONDS,
    SMTP_URL,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    WEBHOOK_CONCURRENCY,
    WEBHOOK_MAX_INSTANCES,
    WEBHOOK_MEMORY_MB,
    WEBHOOK_TIMEOUT_SECONDS,
)

# Ceilings (params, defaults in settings.py; docs/security.md has the cost they imply).


# SMTP_URL: each function that can make an order paid sends its mail right after the commit
# (checkout.mail.sender); the reconciler retries what is due.
@https_fn.on_request(
    secrets=[STRIPE_SECRET_KEY, SMTP_URL],
    max_instances=CHECKOUT_MAX_INSTANCES,
    concurrency=CHECKOUT_CONCURRENCY,
    memory=CHECKOUT_MEMORY_MB,
    timeout_sec=CHECKOUT_TIMEOUT_SECONDS,
)
def checkout_api(request: Request) -> Response:
    """GET /api/config, POST /api/payment-intents, GET /api/orders/{paymentIntentId}."""
    # Imported on first use so that the webhook function never loads the checkout routes.
    from checkout.intents import routes

    return routes.handle(request)


@https_fn.on_request(
    # The secret key too: the webhook cancels a PaymentIntent past the attempt cap.
    secrets=[STRIPE_WEBHOOK_SECRET, STRIPE_SECRET_KEY, SMTP_URL],
    max_instances=WEBHOOK_MAX_INSTANCES,
    concurrency=WEBHOOK_CONCURRENCY,
    memory=WEBHOOK_MEMORY_MB,
    timeout_sec=WEBHOOK_TIMEOUT_SECONDS,
)
def stripe_webhook(request: Request) -> Response:
    """POST /api/stripe-webhook: Stripe's events, verified and applied to orders exactly once."""
    # Imported on first use, like checkout_api's routes: each function loads only its own code.
    from checkout.webhooks import route

    return route.handle(request)


# Operations need a clock: webhooks get lost (a wrong signing secret, a disabled endpoint) and
# fulfilment can fail, and nothing else would notice. One pass is bounded by a time budget
# (checkout.reconcile.PassSettings, 4 min) inside its timeout; passes may overlap safely.
@scheduler_fn.on_schedule(
    schedule="every 10 minutes",
    secrets=[STRIPE_SECRET_KEY, SMTP_URL],
    max_instances=RECONCILE_MAX_INSTANCES,
    memory=RECONCILE_MEMORY_MB,
    timeout_sec=RECONCILE_TIMEOUT_SECONDS,
)
def reconcile_orders(event: scheduler_fn.ScheduledEvent) -> None:
    """One reconciliation pass: missed events, stuck orders, lost fulfilment, abandoned
    checkouts."""
    # Imported on first use: the two HTTP functions never load the reconciler.
    from checkout.reconcile import one_pass

    one_pass.run_pass()
