from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from licensary.accounts.identity import identity_submit, identity_verify
from licensary.accounts.models import User
from licensary.accounts.services import account_create, account_credit_adjust, token_create
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.jobs.runner import run_pending_jobs
from licensary.orders.services import order_create

# The smallest file the identity check takes (a PNG's signature): the demo's agent document.
DEMO_DOCUMENT = b"\x89PNG\r\n\x1a\n" + b"demo identity document"


class Command(BaseCommand):
    help = "Load demo data: products, a customer, an agent with a customer, a delivered license."

    def handle(self, *args, **options) -> None:
        if User.objects.filter(email="alice@demo.test").exists():
            self.stdout.write("Demo data is loaded already.")
            return
        with transaction.atomic():
            staff = User.objects.filter(kind=User.Kind.STAFF).first() or account_create(
                actor=None, kind="staff", email="staff@demo.test"
            )
            panel = product_create(
                actor=staff,
                slug="licensary-panel",
                name="Licensary Panel",
                kind=Product.Kind.OWN,
                price=1500,
                setup_fee=1000,
            )
            product_create(
                actor=staff,
                slug="licensary-firewall",
                name="Licensary Firewall",
                kind=Product.Kind.OWN,
                price=900,
                setup_fee=0,
            )
            alice = account_create(actor=None, kind="customer", email="alice@demo.test")
            carol = account_create(actor=None, kind="agent", email="carol@demo.test")
            account_create(actor=carol, kind="customer", email="dave@demo.test")
            # Agents sell once verified (rule 12): carol's document, verified by staff.
            identity_submit(
                account=carol,
                file=SimpleUploadedFile("carol-id.png", DEMO_DOCUMENT),
                actor=carol,
            )
            identity_verify(account=carol, actor=staff)
            account_credit_adjust(account=alice, amount=10_000, note="demo credit", actor=staff)
            account_credit_adjust(account=carol, amount=50_000, note="demo credit", actor=staff)
            order = order_create(actor=alice, product=panel, ip="93.184.216.34")
            invoice_pay_with_credit(invoice=order.invoice, actor=alice)
        run_pending_jobs()
        for user in (alice, carol):
            self.stdout.write(f"{user.email}: API token {token_create(user=user)[1]}")
        self.stdout.write(
            "Demo data loaded: 2 products, alice (1 active license), agent carol "
            "(verified) with customer dave."
        )
