"""`licensary sweep`: the dry run reports what is due and changes nothing; the sweep works in
batches and still finishes everything due in one call."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from licensary.audit.models import AuditDigest, AuditEntry
from licensary.audit.services import audit_verify
from licensary.billing.models import Invoice
from licensary.licenses import sweep as sweep_module
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from tests.helpers import api_for, give_credit
from tests.licenses.support import DAY, START, buy_license, public_ip

PERIOD = timedelta(days=30)


def statuses() -> dict[int, str]:
    return dict(License.objects.values_list("pk", "status"))


def test_dry_run_prints_the_due_counts_and_changes_nothing(clock, alice, bob, dave, product, staff):
    for user in (alice, bob, dave):
        give_credit(user, 1500, staff)
    a = buy_license(api_for(alice), public_ip(1))  # ends Oct 31
    clock.move_to(START + 16 * DAY)
    c = buy_license(api_for(dave), public_ip(3))  # ends Nov 16
    clock.move_to(START + 23 * DAY)
    b = buy_license(api_for(bob), public_ip(2))  # ends Nov 23
    clock.move_to(START + 30 * DAY)
    sweep()  # a: invoiced and blocked on time
    assert statuses() == {int(a): "blocked", int(b): "active", int(c): "active"}
    clock.move_to(START + 46 * DAY)  # Nov 16: a cancel, c invoice and block, b invoice due
    before = (
        statuses(),
        AuditEntry.objects.count(),
        Invoice.objects.count(),
        DBTaskResult.objects.count(),
    )

    out = StringIO()
    call_command("sweep", dry_run=True, stdout=out)

    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["DRY", "RUN:", "nothing", "was", "changed.", "Due", "now:"],
        ["step", "licenses", "first", "ids"],
        ["renewal_invoice", "2", c, b],
        ["reminder", "0"],
        ["block", "1", c],
        ["cancel", "1", a],
        ["delete", "0"],
    ]
    assert (
        statuses(),
        AuditEntry.objects.count(),
        Invoice.objects.count(),
        DBTaskResult.objects.count(),
    ) == before

    # The real sweep then does exactly what the dry run announced.
    out = StringIO()
    call_command("sweep", stdout=out)
    assert [line.split() for line in out.getvalue().splitlines()][1:] == [
        ["renewal_invoice", "2", c, b],
        ["reminder", "0"],
        ["block", "1", c],
        ["cancel", "1", a],
        ["delete", "0"],
    ]
    assert statuses() == {int(a): "canceled", int(b): "active", int(c): "blocked"}


def test_sweep_in_batches_of_two_blocks_all_five_due_licenses_in_one_call(
    clock, alice, product, staff, monkeypatch
):
    give_credit(alice, 5 * 1500, staff)
    api = api_for(alice)
    ids = [int(buy_license(api, public_ip(n))) for n in range(5)]
    clock.move_to(START + PERIOD)
    batches: list[tuple[str, int]] = []
    renewal_batch, transition_batch = sweep_module._renewal_batch, sweep_module._transition_batch

    def recording_renewal(*args):
        done = renewal_batch(*args)
        if done:
            batches.append(("renewal_invoice", len(done)))
        return done

    def recording_transition(step, *args):
        done = transition_batch(step, *args)
        if done:
            batches.append((step.name, len(done)))
        return done

    monkeypatch.setattr(sweep_module, "_renewal_batch", recording_renewal)
    monkeypatch.setattr(sweep_module, "_transition_batch", recording_transition)

    report = sweep(batch=2)

    assert report.counts["block"] == 5
    assert report.counts["renewal_invoice"] == 5
    assert statuses() == dict.fromkeys(ids, "blocked")
    assert set(License.objects.values_list("blocked_at", flat=True)) == {START + PERIOD}
    # Renewal invoices, then blocks, two licenses per transaction.
    assert batches == [("renewal_invoice", 2)] * 2 + [("renewal_invoice", 1)] + [
        ("block", 2)
    ] * 2 + [("block", 1)]
    # Every license has its own entry; each batch of two is one digest link of the chain (the
    # last batch, of one, is chained as any single entry), and the chain holds.
    blocked = AuditEntry.objects.filter(action="license.blocked").order_by("id")
    assert [int(e.object_id) for e in blocked] == sorted(ids)
    assert [(d.last_id - d.first_id + 1) for d in AuditDigest.objects.all()] == [2, 2]
    assert audit_verify().problem == ""


class Terminal(StringIO):
    """Standard error as an interactive terminal."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_sweep_shows_a_progress_bar_and_prints_the_same_table(
    clock, alice, product, staff, monkeypatch
):
    give_credit(alice, 3 * 1500, staff)
    api = api_for(alice)
    ids = [buy_license(api, public_ip(n)) for n in range(3)]
    clock.move_to(START + PERIOD)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)

    out = StringIO()
    call_command("sweep", batch=2, stdout=out)

    shown = terminal.getvalue()
    assert "block" in shown and "3/3" in shown and "━" in shown
    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["step", "licenses", "first", "ids"],
        ["renewal_invoice", "3", *ids],
        ["reminder", "0"],
        ["block", "3", *ids],
        ["cancel", "0"],
        ["delete", "0"],
    ]


def test_off_a_terminal_the_sweep_writes_nothing_but_its_table(clock, alice, product, staff):
    give_credit(alice, 1500, staff)
    license_id = buy_license(api_for(alice), public_ip(1))
    clock.move_to(START + PERIOD)

    out, err = StringIO(), StringIO()
    call_command("sweep", stdout=out, stderr=err)

    assert err.getvalue() == ""
    assert out.getvalue().splitlines()[3].split() == ["block", "1", license_id]
