"""`licensary demo` loads a lived-in platform (issue 12, item 8): five months replayed through
the real services, so that every state the portals and the console show is there."""

from io import StringIO

from django.core.management import call_command

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.audit.services import audit_verify
from licensary.billing.models import Receipt, Refund
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from tests.helpers import api_for


def load() -> str:
    out = StringIO()
    call_command("demo", "--quiet", stdout=out)
    return out.getvalue()


def test_the_demo_leaves_every_state_a_distributor_meets(db):
    printed = load()

    assert "lived-in-demo-2026" in printed
    states = set(License.objects.values_list("status", flat=True))
    assert states == {"active", "blocked", "canceled", "deleted"}
    # carol's and erin's customers hold licenses they sold, billed to them.
    carol = User.objects.get(email="carol@demo.test")
    assert License.objects.filter(billed_to=carol, account__agent=carol).exists()
    queue = api_for(User.objects.get(email="staff@demo.test")).get("/review-queue").json_body
    assert [item["overdue"] for item in queue["items"]] == [True, False]
    assert Receipt.objects.filter(status="pending").count() == 1
    [refund] = Refund.objects.filter(status="requested")
    assert refund.eligible > 0
    for user in User.objects.all():
        assert account_credit(user).amount >= 0
    report = audit_verify()
    assert (report.first_broken, report.checked > 100) == (None, True)


def test_loading_the_demo_again_changes_nothing(db):
    load()
    entries = AuditEntry.objects.count()

    assert "loaded already" in load()
    assert AuditEntry.objects.count() == entries
