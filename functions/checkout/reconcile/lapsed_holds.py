"""Checkouts whose holds on stock lapsed and stayed idle: a pending or failed order that holds
units (`holdPools`) with no activity for STOCK_HOLD_SECONDS gets the abandonment step's
treatment (checkout.reconcile.abandonment) long before the abandonment period: its
PaymentIntent is canceled at Stripe when nobody is paying, so that the `canceled` it records
gives the units back for good and no late payment can succeed for units sold meanwhile. A
payment waiting on a bank pins the hold instead; a challenge restarts the idle clock.
"""

from datetime import datetime

from checkout.platform.firestore_client import db
from checkout.reconcile import abandonment, queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary

STEP = "lapsed_holds"


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.lapsed_hold_checkouts(db(), now - settings.stock_hold, settings.page_size)
    abandonment.expire_each(STEP, query, budget, summary, now)
