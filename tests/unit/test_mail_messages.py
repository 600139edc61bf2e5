"""The mail's documents and messages, composed from orders: pure, no server."""

import email
import email.policy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checkout.mail import delivery
from checkout.mail.amounts import format_amount
from checkout.mail.compose import MailKind, address_lines, compose
from checkout.mail.delivery import DeliveryState
from checkout.mail.documents import (
    MAIL_CREATED_FOR,
    MailSettings,
    mail_for_change,
    order_mail,
)
from checkout.mail.smtp import build_message, message_id
from checkout.orders.order_number import order_number
from checkout.orders.view_token import check_view_token

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = MailSettings(owner_email="owner@shop.test", public_base_url="https://shop.test")


@pytest.fixture(autouse=True)
def stripe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_mail_unit")


def paid_order(**fields: Any) -> dict[str, Any]:
    return {
        "paymentIntentId": "pi_mail_1",
        "status": "paid",
        "items": [
            {"productId": "mug", "name": "Mug", "unitAmount": 1250, "quantity": 2},
            {"productId": "tee", "name": "Tee", "unitAmount": 2000, "quantity": 1},
        ],
        "amount": 4500,
        "currency": "usd",
        "email": "ann@example.test",
        **fields,
    }


SHIPPING = {
    "amount": 500,
    "address": {
        "name": "Ann Lee",
        "phone": None,
        "address": {
            "line1": "1 Main St",
            "line2": "Apt 4",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    },
}


# --- amounts


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (123450, "usd", "$1,234.50"),
        (5, "usd", "$0.05"),
        (1500, "jpy", "¥1,500"),  # zero-decimal: whole yen
        (1500, "JPY", "¥1,500"),
        (990, "krw", "990 KRW"),
        (12345, "kwd", "12.345 KWD"),  # three-decimal
        (1200, "chf", "12.00 CHF"),
        (999, "eur", "€9.99"),
        (-250, "usd", "-$2.50"),
    ],
)
def test_amounts_are_shown_in_each_currencys_minor_unit(
    amount: int, currency: str, shown: str
) -> None:
    assert format_amount(amount, currency) == shown


# --- compose


def test_the_confirmation_shows_number_items_total_and_link() -> None:
    message = compose(MailKind.CONFIRMATION, "pi_mail_1", paid_order(), "https://shop.test/?x=1")
    number = order_number("pi_mail_1")
    assert number in message.subject
    for part in (message.text, message.html):
        assert number in part
        assert "Mug" in part and "Tee" in part
        assert "$12.50" in part and "$25.00" in part and "$20.00" in part
        assert "$45.00" in part
    assert "2 x Mug at $12.50: $25.00" in message.text
    assert "Total: $45.00" in message.text
    assert "https://shop.test/?x=1" in message.text
    assert 'href="https://shop.test/?x=1"' in message.html
    # No discount or shipping on this order: no such lines, no subtotal.
    assert "Discount" not in message.text and "Shipping" not in message.text
    assert "Subtotal" not in message.text


def test_discount_and_shipping_lines_and_the_address_when_the_order_has_them() -> None:
    order = paid_order(discount={"code": "TEN", "amount": 1000}, shipping=SHIPPING, amount=4000)
    message = compose(MailKind.CONFIRMATION, "pi_mail_1", order, None)
    text = message.text
    assert "Subtotal: $45.00" in text
    assert "Discount (TEN): -$10.00" in text
    assert "Shipping: $5.00" in text
    assert "Total: $40.00" in text
    for line in ("Ann Lee", "1 Main St", "Apt 4", "Springfield, IL 62701", "US"):
        assert line in text and line in message.html
    assert "https://" not in text  # no PUBLIC_BASE_URL, no link


def test_html_is_escaped_and_its_styles_inlined() -> None:
    order = paid_order(
        items=[{"productId": "x", "name": '<script>alert("x")</script>', "unitAmount": 100,
                "quantity": 1}],
        shipping={**SHIPPING, "address": {"name": "<b>Eve</b>", "address": {"country": "US"}}},
    )  # fmt: skip
    message = compose(MailKind.CONFIRMATION, "pi_mail_1", order, None)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<b>Eve</b>" not in message.html and "&lt;b&gt;Eve&lt;/b&gt;" in message.html
    assert "<style" not in message.html and 'style="' in message.html
    # The text part is plain text: nothing escaped.
    assert '<script>alert("x")</script>' in message.text


def test_the_owner_message_has_the_items_the_address_and_the_shoppers_email() -> None:
    message = compose(MailKind.OWNER, "pi_mail_1", paid_order(shipping=SHIPPING), None)
    assert message.subject == f"New order {order_number('pi_mail_1')}: 3 items"
    assert "ship these items" in message.text
    assert "ann@example.test" in message.text and "Springfield, IL 62701" in message.text
    assert "pi_mail_1" in message.text


def test_the_refund_message_says_what_was_refunded() -> None:
    order = paid_order(status="refunded", refundedAmount=4500)
    message = compose(MailKind.REFUND, "pi_mail_1", order, None)
    assert "refunded" in message.subject
    assert "We have refunded $45.00" in message.text


def test_a_zero_decimal_order_is_shown_in_whole_units() -> None:
    order = paid_order(
        currency="jpy",
        items=[{"productId": "mug", "name": "Mug", "unitAmount": 1500, "quantity": 2}],
        amount=3000,
    )
    assert "Total: ¥3,000" in compose(MailKind.CONFIRMATION, "pi_1", order, None).text


def test_an_address_label_leaves_out_empty_lines() -> None:
    shipping = {"name": "Bo", "address": {"line1": "Rue 1", "line2": None, "city": "Paris",
                                          "postal_code": "75001", "country": "FR"}}  # fmt: skip
    assert address_lines(shipping) == ["Bo", "Rue 1", "Paris, 75001", "FR"]
    assert address_lines(None) == []


# --- documents


def test_a_paid_order_gets_its_confirmation_and_the_owners_message() -> None:
    plan = mail_for_change("pi_mail_1", {"status": "pending"}, paid_order(), SETTINGS, NOW)
    assert plan.doc_ids == ["pi_mail_1", "pi_mail_1-owner"]
    assert plan.order_fields == {MAIL_CREATED_FOR: ["paid"]}
    confirmation, owner = (mail.fields for mail in plan.documents)
    assert confirmation["to"] == "ann@example.test" and confirmation["kind"] == "confirmation"
    assert owner["to"] == "owner@shop.test" and owner["kind"] == "owner"
    for fields in (confirmation, owner):
        assert fields["orderId"] == "pi_mail_1"
        assert set(fields["message"]) == {"subject", "text", "html"}
        assert fields["delivery"] == {
            "state": "PENDING", "attempts": 0, "startTime": None, "endTime": None,
            "error": None, "leaseExpireTime": None, "info": None,
        }  # fmt: skip
        assert fields["nextAttemptAt"] > NOW
        assert "expireAt" not in fields  # only once delivered or given up


def test_the_link_carries_a_view_token_for_that_order() -> None:
    (confirmation,) = [
        m for m in mail_for_change("pi_mail_1", None, paid_order(), SETTINGS, NOW).documents
        if m.doc_id == "pi_mail_1"
    ]  # fmt: skip
    text = confirmation.fields["message"]["text"]
    prefix = "https://shop.test/?order=pi_mail_1&view="
    (link,) = [line for line in text.splitlines() if line.startswith(prefix)]
    assert check_view_token("pi_mail_1", link.removeprefix(prefix), NOW + timedelta(days=29))


def test_no_email_no_confirmation_and_no_owner_email_no_owner_message() -> None:
    plan = mail_for_change("pi_1", None, paid_order(email=None), SETTINGS, NOW)
    assert plan.doc_ids == ["pi_1-owner"]
    plan = mail_for_change("pi_1", None, paid_order(), MailSettings(), NOW)
    assert plan.doc_ids == ["pi_1"]
    plan = mail_for_change("pi_1", None, paid_order(email=None), MailSettings(), NOW)
    assert plan.doc_ids == [] and plan.order_fields == {MAIL_CREATED_FOR: ["paid"]}


def test_an_order_is_mailed_for_each_status_once() -> None:
    # A dispute won brings the order back to paid: nothing new is created.
    already = paid_order(status="disputed", **{MAIL_CREATED_FOR: ["paid"]})
    again = mail_for_change("pi_1", already, paid_order(**{MAIL_CREATED_FOR: ["paid"]}),
                            SETTINGS, NOW)  # fmt: skip
    assert again.documents == [] and again.order_fields == {}
    # A full refund: the refund message, once.
    refunded = paid_order(status="refunded", refundedAmount=4500)
    plan = mail_for_change("pi_1", already, refunded, SETTINGS, NOW)
    assert plan.doc_ids == ["pi_1-refund"]
    assert plan.order_fields == {MAIL_CREATED_FOR: ["paid", "refunded"]}
    twice = {**paid_order(), MAIL_CREATED_FOR: ["paid", "refunded"]}
    assert mail_for_change("pi_1", twice, refunded, SETTINGS, NOW).documents == []


@pytest.mark.parametrize("status", ["pending", "processing", "failed", "canceled",
                                    "needs_review", "disputed", "dispute_lost"])  # fmt: skip
def test_other_statuses_create_no_mail(status: str) -> None:
    plan = mail_for_change("pi_1", None, paid_order(status=status), SETTINGS, NOW)
    assert plan.documents == [] and plan.order_fields == {}


def test_a_message_without_recipient_is_no_document() -> None:
    assert order_mail("pi_1", paid_order(email="  "), MailKind.REFUND, SETTINGS, NOW) is None


# --- delivery: claims, leases, backoff, giving up


def mail_in(state: str, attempts: int = 0, **fields: Any) -> dict[str, Any]:
    document = delivery.new_delivery(NOW)
    document["delivery"].update(state=state, attempts=attempts)
    return {**document, **fields}


def test_a_pending_mail_is_claimed_at_once_with_a_60_s_lease() -> None:
    claim = delivery.plan_claim(mail_in("PENDING"), NOW)
    assert claim is not None and not claim.gives_up
    assert claim.fields["delivery.state"] == "PROCESSING"
    assert claim.fields["delivery.attempts"] == 1
    assert claim.fields["delivery.leaseExpireTime"] == NOW + timedelta(seconds=60)
    assert claim.fields["nextAttemptAt"] == NOW + timedelta(seconds=60)


def test_a_held_lease_is_not_taken_and_an_expired_one_is() -> None:
    held = mail_in("PROCESSING", 1, **{"nextAttemptAt": NOW + timedelta(seconds=30)})
    held["delivery"]["leaseExpireTime"] = NOW + timedelta(seconds=30)
    assert delivery.plan_claim(held, NOW) is None
    taken = delivery.plan_claim(held, NOW + timedelta(seconds=30))
    assert taken is not None and taken.fields["delivery.attempts"] == 2


def test_mail_created_held_by_its_committer_is_its_first_attempt_under_a_lease() -> None:
    plan = mail_for_change("pi_1", None, paid_order(), SETTINGS, NOW).held_by_committer(NOW)
    assert [mail.doc_id for mail in plan.documents] == ["pi_1", "pi_1-owner"]
    for mail in plan.documents:
        assert mail.fields["delivery"]["state"] == "PROCESSING"
        assert mail.fields["delivery"]["attempts"] == 1
        assert mail.fields["delivery"]["leaseExpireTime"] == NOW + delivery.LEASE
        assert mail.fields["to"] and mail.fields["message"]["subject"]
        # Nobody else takes it before the lease ends; then it is a second attempt.
        assert delivery.plan_claim(mail.fields, NOW + delivery.LEASE / 2) is None
        taken = delivery.plan_claim(mail.fields, NOW + delivery.LEASE)
        assert taken is not None and taken.fields["delivery.attempts"] == 2


def test_sent_and_given_up_mail_is_never_claimed() -> None:
    assert delivery.plan_claim(mail_in("SUCCESS", 1, nextAttemptAt=None), NOW) is None
    assert delivery.plan_claim(mail_in("ERROR", 5, nextAttemptAt=None), NOW) is None


def test_a_failed_mail_is_retried_after_a_growing_backoff_then_given_up() -> None:
    waits = []
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        fields = delivery.failure_fields(attempt, "451 try later", NOW)
        assert fields["delivery.state"] == DeliveryState.ERROR.value
        if attempt < delivery.MAX_ATTEMPTS:
            assert not delivery.given_up(fields)
            waits.append(fields["nextAttemptAt"] - NOW)
            assert "expireAt" not in fields
        else:
            assert delivery.given_up(fields)
            assert fields["nextAttemptAt"] is None
            assert fields["expireAt"] == NOW + delivery.KEEP_GIVEN_UP
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    not_yet = mail_in("ERROR", 1, nextAttemptAt=NOW + waits[0])
    assert delivery.plan_claim(not_yet, NOW) is None
    assert delivery.plan_claim(not_yet, NOW + waits[0]) is not None


def test_a_permanent_refusal_is_given_up_at_once() -> None:
    assert delivery.given_up(delivery.failure_fields(1, "550 no such user", NOW, permanent=True))


def test_a_sender_that_died_on_the_last_attempt_leaves_it_given_up() -> None:
    last = mail_in("PROCESSING", delivery.MAX_ATTEMPTS)
    last["delivery"]["leaseExpireTime"] = NOW
    claim = delivery.plan_claim(last, NOW)
    assert claim is not None and claim.gives_up
    assert claim.fields["delivery.state"] == "ERROR" and claim.fields["nextAttemptAt"] is None


def test_delivered_mail_expires_after_30_days() -> None:
    fields = delivery.success_fields(NOW, {"messageId": "<m@x>"})
    assert fields["delivery.state"] == "SUCCESS" and fields["nextAttemptAt"] is None
    assert fields["expireAt"] == NOW + timedelta(days=30)


# --- the message as sent


def test_the_sent_message_has_text_and_html_parts_and_a_stable_message_id() -> None:
    built = build_message(
        "Shop <orders@shop.test>", "ann@example.test", "Subject é", "text part", "<p>html</p>",
        message_id("pi_1-owner", "Shop <orders@shop.test>"),
    )  # fmt: skip
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<mail-pi_1-owner@shop.test>"
    assert parsed["Subject"] == "Subject é"
    body = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert body is not None and body.get_content().strip() == "text part"
    assert html is not None and html.get_content().strip() == "<p>html</p>"


@pytest.mark.parametrize("status", ["paid", "refunded"])
def test_an_event_recorded_on_an_order_already_in_that_status_creates_no_mail(status: str) -> None:
    # An order paid (or refunded) before mail existed has no MAIL_CREATED_FOR: a later event
    # that leaves its status as it is (a late charge event, a dispute closed) mails nothing.
    before = paid_order(status=status)
    plan = mail_for_change("pi_1", before, {**before, "declineCount": 1}, SETTINGS, NOW)
    assert plan.documents == [] and plan.order_fields == {}
