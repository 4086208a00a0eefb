"""Zarinpal: checkout, the payer's return and its verification, against a local stand-in of
Zarinpal's documented API v4 (tests/payments/fake_zarinpal.py)."""

from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.test import Client

from licensary.billing.models import GatewayCheckout, GatewayEvent, Invoice, Payment
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.ledger.models import LedgerAccount, LedgerTransaction
from licensary.ledger.services import balance
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, api_for, run_jobs
from tests.payments.fake_zarinpal import MERCHANT_ID, FakeZarinpal

# 150,000 rials and a setup fee of 50,000, in minor units (hundredths, as every amount here).
PRICE, SETUP_FEE = 15_000_000, 5_000_000
TOTAL, TOTAL_RIALS = 20_000_000, 200_000
RETURN = "/api/v1/gateways/zarinpal/return"


@pytest.fixture
def fake_zarinpal(settings) -> Iterator[FakeZarinpal]:
    server = FakeZarinpal()
    server.thread.start()
    settings.ZARINPAL_BASE_URL = server.url
    settings.ZARINPAL_MERCHANT_ID = MERCHANT_ID
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rial_product(staff) -> Product:
    return product_create(
        actor=staff,
        slug="panel-ir",
        name="Panel Pro (IR)",
        kind="own",
        price=PRICE,
        setup_fee=SETUP_FEE,
        currency="IRR",
    )


@pytest.fixture
def order(alice, rial_product) -> Order:
    return order_create(actor=alice, product=rial_product, ip=PUBLIC_IP)


def checkout(user, order: Order):
    return api_for(user).post(f"/invoices/{order.invoice_id}/checkout", {"gateway": "zarinpal"})


def started(user, order: Order) -> str:
    """Checkout at Zarinpal; the authority it handed out."""
    answer = checkout(user, order)
    assert answer.status_code == 200, answer.json_body
    return answer.json_body["url"].rsplit("/", 1)[1]


def come_back(authority: str, status: str = "OK", *, accept: str = "application/json"):
    """The payer's browser (or a client asking for JSON) returning from Zarinpal."""
    return Client().get(RETURN, {"Authority": authority, "Status": status}, HTTP_ACCEPT=accept)


def rial_credit(user) -> int:
    """The account's credit in rials (its book in the invoice's currency)."""
    book = LedgerAccount.objects.filter(key=f"credit:{user.pk}:IRR").first()
    return balance(book) if book else 0


def nothing_recorded(order: Order) -> bool:
    return (
        Invoice.objects.get(pk=order.invoice_id).status == "unpaid"
        and not Payment.objects.exists()
        and not GatewayEvent.objects.exists()
        and not LedgerTransaction.objects.filter(kind="payment").exists()
    )


def test_checkout_asks_zarinpal_for_a_payment_and_answers_its_start_pay_url(
    alice, order, fake_zarinpal
):
    answer = checkout(alice, order)

    assert answer.status_code == 200, answer.json_body
    authority = "A" + "0" * 34 + "1"
    assert answer.json_body == {"url": f"{fake_zarinpal.url}/pg/StartPay/{authority}"}
    assert fake_zarinpal.bodies("/pg/v4/payment/request.json") == [
        {
            "merchant_id": MERCHANT_ID,
            "amount": TOTAL_RIALS,
            "currency": "IRR",
            "description": f"Invoice {order.invoice.number}",
            "callback_url": f"{django_settings.PUBLIC_URL}{RETURN}",
            "metadata": {"order_id": str(order.invoice_id), "email": alice.email},
        }
    ]
    pending = GatewayCheckout.objects.get()
    assert (pending.gateway, pending.reference, pending.invoice_id) == (
        "zarinpal",
        authority,
        order.invoice_id,
    )
    assert (pending.amount, pending.currency) == (TOTAL, "IRR")
    assert nothing_recorded(order)


def test_a_paid_return_pays_the_invoice_and_delivers_the_order(alice, order, fake_zarinpal):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)

    answer = come_back(authority)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["invoice"], body["paid"], body["outcome"]) == (
        str(order.invoice_id),
        True,
        "applied",
    )
    assert (body["authority"], body["ref_id"]) == (authority, "201001")
    assert fake_zarinpal.bodies("/pg/v4/payment/verify.json") == [
        {"merchant_id": MERCHANT_ID, "amount": TOTAL_RIALS, "authority": authority}
    ]
    payment = Payment.objects.get()
    assert (payment.amount, payment.currency, payment.gateway, payment.reference) == (
        TOTAL,
        "IRR",
        "zarinpal",
        authority,
    )
    order.refresh_from_db()
    assert (order.invoice.status, order.status) == ("paid", "processing")
    run_jobs()
    order.refresh_from_db()
    assert order.status == "completed"
    assert order.license is not None
    assert rial_credit(alice) == 0


def test_a_browser_is_sent_to_the_success_page_when_paid(alice, order, fake_zarinpal):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)

    answer = come_back(authority, accept="text/html,application/xhtml+xml,*/*;q=0.8")

    assert answer.status_code == 302
    base = f"{django_settings.PUBLIC_URL}/api/v1/invoices/{order.invoice_id}"
    assert answer["Location"] == f"{base}?paid=1"
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"


def test_a_browser_is_sent_to_the_failure_page_when_canceled(alice, order, fake_zarinpal):
    authority = started(alice, order)

    answer = come_back(authority, "NOK", accept="text/html")

    assert answer.status_code == 302
    base = f"{django_settings.PUBLIC_URL}/api/v1/invoices/{order.invoice_id}"
    assert answer["Location"] == f"{base}?canceled=1&error=canceled"
    assert nothing_recorded(order)


def test_a_canceled_return_pays_nothing_and_asks_zarinpal_nothing(alice, order, fake_zarinpal):
    authority = started(alice, order)

    answer = come_back(authority, "NOK")

    assert answer.status_code == 200
    assert (answer.json()["paid"], answer.json()["outcome"]) == (False, "canceled")
    assert fake_zarinpal.bodies("/pg/v4/payment/verify.json") == []
    assert nothing_recorded(order)


def test_a_return_visited_twice_records_one_payment(alice, order, fake_zarinpal):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)

    first, second = come_back(authority), come_back(authority)

    assert first.json() == second.json()
    assert second.json()["paid"] is True
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert GatewayEvent.objects.get().event_id == authority
    assert rial_credit(alice) == 0
    # A later visit, even one that says NOK, tells what the first one recorded.
    assert come_back(authority, "NOK").json()["paid"] is True
    assert fake_zarinpal.verify_codes == [100]


def test_a_verification_whose_answer_was_lost_is_recorded_once_when_it_answers_101(
    alice, order, fake_zarinpal
):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)
    fake_zarinpal.lose_next_answer = 1

    lost = come_back(authority)

    assert (lost.status_code, lost.json()["code"]) == (502, "gateway_unreachable")
    assert nothing_recorded(order)

    again = come_back(authority)

    assert (again.status_code, again.json()["paid"]) == (200, True)
    assert fake_zarinpal.verify_codes == [100, 101]
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"


def test_zarinpal_unreachable_records_nothing_and_a_later_return_pays(
    alice, order, fake_zarinpal, settings
):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)
    settings.ZARINPAL_BASE_URL = "http://127.0.0.1:9"  # nothing listens there

    down = come_back(authority)

    assert (down.status_code, down.json()["code"]) == (502, "gateway_unreachable")
    assert nothing_recorded(order)

    settings.ZARINPAL_BASE_URL = fake_zarinpal.url
    back = come_back(authority)

    assert (back.status_code, back.json()["outcome"]) == (200, "applied")
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_returns_record_one_payment(alice, rial_product, fake_zarinpal):
    require_postgres()
    order = order_create(actor=alice, product=rial_product, ip=PUBLIC_IP)
    authority = started(alice, order)
    fake_zarinpal.pay(authority)

    answers = run_concurrently(lambda _: come_back(authority), 8)

    assert [a.status_code for a in answers] == [200] * 8
    assert all(a.json()["paid"] for a in answers)
    assert fake_zarinpal.verify_codes.count(100) == 1
    assert set(fake_zarinpal.verify_codes[1:]) <= {101}  # whoever verified later heard 101
    assert Payment.objects.count() == 1
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    assert GatewayEvent.objects.count() == 1
    assert Invoice.objects.get(pk=order.invoice_id).status == "paid"
    assert rial_credit(alice) == 0


def test_an_unknown_authority_is_not_found_and_changes_nothing(alice, order, fake_zarinpal):
    started(alice, order)

    for accept in ("application/json", "text/html"):
        answer = come_back("A" + "9" * 35, accept=accept)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert fake_zarinpal.bodies("/pg/v4/payment/verify.json") == []
    assert nothing_recorded(order)


def test_a_return_without_its_query_is_refused(order, fake_zarinpal):
    for query in ({}, {"Authority": "A1"}, {"Status": "OK"}, {"Authority": "A1", "Status": "ok"}):
        answer = Client().get(RETURN, query)
        assert (answer.status_code, answer.json()["code"]) == (422, "validation_error"), query
    assert nothing_recorded(order)


def test_zarinpal_saying_the_amounts_differ_records_nothing(alice, order, fake_zarinpal):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)
    fake_zarinpal.payments[authority]["amount"] = TOTAL_RIALS + 1  # not what we will verify

    answer = come_back(authority)

    assert (answer.status_code, answer.json()["code"]) == (409, "amount_mismatch")
    assert nothing_recorded(order)


def test_an_invoice_whose_total_differs_from_the_payment_is_not_verified(
    alice, order, fake_zarinpal
):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)
    # Invoice totals do not change; the guard is for one that did (e.g. a hand-made fix).
    Invoice.objects.filter(pk=order.invoice_id).update(total=TOTAL + 100)

    answer = come_back(authority)

    assert (answer.status_code, answer.json()["code"]) == (409, "amount_mismatch")
    assert fake_zarinpal.bodies("/pg/v4/payment/verify.json") == []
    assert nothing_recorded(order)


def test_a_return_that_says_ok_for_an_unpaid_payment_records_nothing(alice, order, fake_zarinpal):
    authority = started(alice, order)  # never paid at StartPay

    answer = come_back(authority)

    assert (answer.status_code, answer.json()["code"]) == (409, "payment_not_completed")
    assert nothing_recorded(order)
    redirected = come_back(authority, accept="text/html")
    assert redirected.status_code == 302
    assert redirected["Location"].endswith("?canceled=1&error=payment_not_completed")


def test_a_second_payment_of_a_paid_invoice_goes_to_credit(alice, order, fake_zarinpal):
    # The payer opened the checkout twice and paid both times.
    first, second = started(alice, order), started(alice, order)
    fake_zarinpal.pay(first)
    fake_zarinpal.pay(second)

    paid, credited = come_back(first).json(), come_back(second).json()

    assert (paid["paid"], paid["outcome"]) == (True, "applied")
    assert (credited["paid"], credited["outcome"]) == (True, "overpaid")
    assert Payment.objects.get().reference == first
    assert rial_credit(alice) == TOTAL  # the second payment is not lost


def test_checkout_of_another_accounts_invoice_is_not_found(bob, order, fake_zarinpal):
    answer = checkout(bob, order)

    assert (answer.status_code, answer.json_body["code"]) == (404, "not_found")
    assert fake_zarinpal.requests == []
    assert not GatewayCheckout.objects.exists()


def test_an_invoice_in_another_currency_is_refused_with_a_clear_code(alice, product, fake_zarinpal):
    usd = order_create(actor=alice, product=product, ip=PUBLIC_IP)

    answer = checkout(alice, usd)

    assert (answer.status_code, answer.json_body["code"]) == (422, "currency_not_supported")
    assert fake_zarinpal.requests == []
    assert not GatewayCheckout.objects.exists()


def test_checkout_without_a_merchant_id_is_refused(alice, order, fake_zarinpal, settings):
    settings.ZARINPAL_MERCHANT_ID = ""

    answer = checkout(alice, order)

    assert (answer.status_code, answer.json_body["code"]) == (503, "gateway_unavailable")
    assert fake_zarinpal.requests == []


def test_zarinpal_refusing_the_payment_request_records_nothing(
    alice, order, fake_zarinpal, settings
):
    settings.ZARINPAL_MERCHANT_ID = "not-our-merchant"

    answer = checkout(alice, order)

    assert (answer.status_code, answer.json_body["code"]) == (502, "gateway_unavailable")
    assert "code -10" in answer.json_body["detail"]
    assert not GatewayCheckout.objects.exists()


def test_zarinpal_has_no_webhook(order, fake_zarinpal):
    answer = Client().post(
        "/api/v1/gateways/zarinpal/webhook", data="{}", content_type="application/json"
    )

    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")


def test_a_refund_to_the_zarinpal_payment_goes_back_to_staff(alice, staff, order, fake_zarinpal):
    authority = started(alice, order)
    fake_zarinpal.pay(authority)
    assert come_back(authority).json()["paid"] is True
    Order.objects.filter(pk=order.pk).update(status="rejected")  # never delivered
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(order.invoice_id), "reason": "changed my mind"})
        .json_body
    )
    assert (refund["rule"], refund["eligible"]["amount"]) == ("never_delivered", TOTAL)
    staff_api = api_for(staff)

    refused = staff_api.post(f"/refunds/{refund['id']}/approve", {"destination": "original"})

    assert (refused.status_code, refused.json_body["code"]) == (409, "gateway_unavailable")
    assert staff_api.get(f"/refunds/{refund['id']}").json_body["status"] == "requested"
    assert not LedgerTransaction.objects.filter(kind="refund").exists()
    to_credit = staff_api.post(f"/refunds/{refund['id']}/approve", {"destination": "credit"})
    assert to_credit.json_body["status"] == "paid"
    assert rial_credit(alice) == TOTAL
