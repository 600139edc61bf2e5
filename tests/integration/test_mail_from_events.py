"""Mail wired into the ledger's commit, against the Firestore emulator and a real SMTP server
(aiosmtpd): the commit that makes an order paid creates its mail documents, whatever the
duplicates, the concurrency and the path (webhook, catch-up, return page, reconciler), and the
function that committed sends them; a full refund mails once; a refused send is retried by the
reconciler. And the email's link: GET /api/orders/{id}?view=<token>."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from checkout.mail.documents import MAIL_CREATED_FOR
from checkout.orders.order_number import order_number
from checkout.orders.view_token import make_view_token
from checkout.platform.collections import MAIL
from checkout.reconcile import catch_up
from checkout.reconcile.pass_state import Summary
from checkout.stripe_events import observations
from checkout.stripe_events.plan import Source
from tests import stripe_events as se
from tests.integration.conftest import deliver_to, function_client
from tests.integration.test_mail import Inbox, counts, inbox, reconcile_mail
from tests.integration.test_webhook_fast_path import order_of, seed

Json = dict[str, Any]
Deliver = Callable[[Json], Any]
OWNER = "owner@shop.test"
__all__ = ["inbox"]  # a fixture, used by name


@pytest.fixture
def smtp(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """test_mail's in-process SMTP server (the sender pointed at it), and OWNER_EMAIL set."""
    monkeypatch.setenv("OWNER_EMAIL", OWNER)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.test")
    return inbox


def mail_of(db: firestore.Client, pi_id: str) -> dict[str, Json]:
    query = db.collection(MAIL).where(filter=FieldFilter("orderId", "==", pi_id))
    return {s.id: s.to_dict() or {} for s in query.stream()}


def recipients(inbox: Inbox) -> list[str]:
    return sorted(address for e in inbox.received for address in e.rcpt_tos)


def test_a_payment_delivered_concurrently_by_every_source_mails_once(
    firestore_db: firestore.Client, smtp: Inbox
) -> None:
    pi_id = seed(firestore_db)
    order = order_of(firestore_db, pi_id)
    event = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    payment_intent = event["data"]["object"]
    webhooks = [function_client("stripe_webhook") for _ in range(8)]

    def by_webhook(client: FlaskClient) -> Callable[[], None]:
        def delivered() -> None:
            deliver_to(client, event)

        return delivered

    def by_catch_up() -> None:
        summary = Summary()
        catch_up.apply_listed(event, summary)
        assert summary.error_count == 0

    def by_observation(source: Source) -> Callable[[], None]:
        # Each observation is its own event id: only the order's state keeps it from mailing.
        def observed() -> None:
            observations.apply_observation(payment_intent, order, source, event["created"])

        return observed

    paths = [
        *(by_webhook(client) for client in webhooks),
        by_catch_up,
        by_catch_up,
        by_observation(Source.RETURN_PAGE),
        by_observation(Source.RECONCILER),
    ]
    start = threading.Barrier(len(paths))

    def run(path: Callable[[], None]) -> None:
        start.wait()
        path()

    with ThreadPoolExecutor(len(paths)) as pool:
        list(pool.map(run, paths))

    mail = mail_of(firestore_db, pi_id)
    assert sorted(mail) == [pi_id, f"{pi_id}-owner"]
    assert {m["delivery"]["state"] for m in mail.values()} == {"SUCCESS"}
    assert {m["delivery"]["attempts"] for m in mail.values()} == {1}
    assert order_of(firestore_db, pi_id)[MAIL_CREATED_FOR] == ["paid"]
    assert recipients(smtp) == [OWNER, "shopper@example.com"]
    assert len(set(smtp.connections)) == 1  # both sent by the one that committed, together
    # Every path again, one after the other: nothing more is created or sent, and the
    # reconciler's mail step finds nothing to do.
    for path in paths:
        path()
    assert sorted(mail_of(firestore_db, pi_id)) == [pi_id, f"{pi_id}-owner"]
    assert counts(reconcile_mail(datetime.now(UTC) + timedelta(hours=1))) == {}
    assert len(smtp.received) == 2


def test_the_confirmation_has_the_items_the_total_the_number_and_a_working_link(
    firestore_db: firestore.Client, smtp: Inbox, deliver: Deliver, checkout_api: FlaskClient
) -> None:
    pi_id = seed(firestore_db)
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id)))
    (confirmation,) = [m for m in smtp.messages() if m["To"] == "shopper@example.com"]
    assert confirmation["Subject"] == f"Your order {order_number(pi_id)} is confirmed"
    text_part = confirmation.get_body(("plain",))
    assert text_part is not None
    text = text_part.get_content()
    assert "2 x Classic tee at $25.00: $50.00" in text and "Total: $50.00" in text
    prefix = f"https://shop.test/?order={pi_id}&view="
    (link,) = [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]
    answer = checkout_api.get(f"/api/orders/{pi_id}?view={link.removeprefix(prefix)}")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "paid"
    assert answer.get_json()["orderNumber"] == order_number(pi_id)


def test_a_full_refund_mails_the_shopper_once(
    firestore_db: firestore.Client, smtp: Inbox, deliver: Deliver
) -> None:
    pi_id = seed(firestore_db)
    now = int(datetime.now(UTC).timestamp())
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now - 10))
    refunded = se.event("charge.refunded", se.charge(pi_id, amount_refunded=5000), created=now)
    assert deliver(refunded)["status"] == "refunded"
    assert deliver(refunded)["outcome"] == "duplicate"

    mail = mail_of(firestore_db, pi_id)
    assert sorted(mail) == [pi_id, f"{pi_id}-owner", f"{pi_id}-refund"]
    assert mail[f"{pi_id}-refund"]["to"] == "shopper@example.com"
    assert mail[f"{pi_id}-refund"]["delivery"]["state"] == "SUCCESS"
    assert order_of(firestore_db, pi_id)[MAIL_CREATED_FOR] == ["paid", "refunded"]
    subjects = sorted(m["Subject"] for m in smtp.messages())
    assert subjects.count(f"Your order {order_number(pi_id)} was refunded") == 1
    assert len(subjects) == 3


def test_a_send_refused_after_the_commit_leaves_the_event_applied_and_the_reconciler_sends_it(
    firestore_db: firestore.Client, smtp: Inbox, deliver: Deliver
) -> None:
    pi_id = seed(firestore_db)
    smtp.refuse = "451 4.3.0 Try again later"
    reply = deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id)))
    assert (reply["outcome"], reply["status"]) == ("applied", "paid")  # mail never fails it
    mail = mail_of(firestore_db, pi_id)
    assert {m["delivery"]["state"] for m in mail.values()} == {"ERROR"}
    assert smtp.received == []

    smtp.refuse = None
    due = max(m["nextAttemptAt"] for m in mail.values())
    assert counts(reconcile_mail(due + timedelta(seconds=1))) == {"sent": 2}
    assert recipients(smtp) == [OWNER, "shopper@example.com"]
    assert {m["delivery"]["attempts"] for m in mail_of(firestore_db, pi_id).values()} == {2}


def test_an_order_without_email_mails_only_the_owner(
    firestore_db: firestore.Client, smtp: Inbox, deliver: Deliver
) -> None:
    pi_id = seed(firestore_db, email=None)
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id)))
    assert sorted(mail_of(firestore_db, pi_id)) == [f"{pi_id}-owner"]
    assert recipients(smtp) == [OWNER]


# --- the email's link: GET /api/orders/{id}?view=<token>


def test_a_view_token_shows_the_status_and_nothing_else_opens_it(
    firestore_db: firestore.Client, checkout_api: FlaskClient
) -> None:
    pi_id = seed(firestore_db, status="paid")
    now = datetime.now(UTC)
    token = make_view_token(pi_id, now)
    answer = checkout_api.get(f"/api/orders/{pi_id}?view={token}")
    assert answer.status_code == 200
    shown = answer.get_json()
    assert shown["status"] == "paid" and shown["amount"] == 5000
    assert shown["orderNumber"] == order_number(pi_id)
    assert "email" not in shown and "items" not in shown

    expired = make_view_token(pi_id, now - timedelta(days=31))
    other = make_view_token(se.new_id("pi"), now)
    expiry, mac = token.split(".")
    flipped = mac[:-1] + ("B" if mac.endswith("A") else "A")
    tampered = [f"{int(expiry) + 86400}.{mac}", f"{expiry}.{flipped}", "", "x" * 500, other]
    for bad in [expired, *tampered]:
        refused = checkout_api.get(f"/api/orders/{pi_id}", query_string={"view": bad})
        assert refused.status_code == 403, bad
        assert refused.get_json()["error"]["code"] == "invalid_view_token"

    missing = se.new_id("pi")
    unknown = checkout_api.get(f"/api/orders/{missing}?view={make_view_token(missing, now)}")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["code"] == "order_not_found"
