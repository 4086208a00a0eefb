"""The staff console's pages (staff_views), under /portal/staff/: staff accounts only."""

from django.urls import path

from licensary.portal import (
    staff_dashboard_views,
    staff_platform_views,
    staff_support_views,
    staff_views,
)

urlpatterns = [
    path("", staff_dashboard_views.dashboard, name="staff-dashboard"),
    path("review/", staff_views.review_queue, name="staff-review"),
    path("orders/<int:order_id>/retry/", staff_views.order_retry_view, name="staff-order-retry"),
    path(
        "orders/<int:order_id>/approve/",
        staff_views.order_approve_view,
        name="staff-order-approve",
    ),
    path(
        "orders/<int:order_id>/reject/",
        staff_views.order_reject_view,
        name="staff-order-reject",
    ),
    path("receipts/", staff_views.receipts, name="staff-receipts"),
    path(
        "receipts/<int:receipt_id>/confirm/",
        staff_views.receipt_confirm_view,
        name="staff-receipt-confirm",
    ),
    path(
        "receipts/<int:receipt_id>/reject/",
        staff_views.receipt_reject_view,
        name="staff-receipt-reject",
    ),
    path("identity/", staff_views.identity_checks, name="staff-identity"),
    path(
        "identity/<int:account_id>/verify/",
        staff_views.identity_verify_view,
        name="staff-identity-verify",
    ),
    path(
        "identity/<int:account_id>/reject/",
        staff_views.identity_reject_view,
        name="staff-identity-reject",
    ),
    path("claims/", staff_views.claims, name="staff-claims"),
    path(
        "claims/<int:claim_id>/approve/",
        staff_views.claim_approve_view,
        name="staff-claim-approve",
    ),
    path(
        "claims/<int:claim_id>/reject/",
        staff_views.claim_reject_view,
        name="staff-claim-reject",
    ),
    path("refunds/", staff_views.refunds, name="staff-refunds"),
    path(
        "refunds/<int:refund_id>/approve/",
        staff_views.refund_approve_view,
        name="staff-refund-approve",
    ),
    path(
        "refunds/<int:refund_id>/reject/",
        staff_views.refund_reject_view,
        name="staff-refund-reject",
    ),
    path("bans/", staff_views.bans, name="staff-bans"),
    path("accounts/<int:account_id>/ban/", staff_views.ban_account, name="staff-ban"),
    path(
        "accounts/<int:account_id>/ban/confirm/",
        staff_views.ban_confirm,
        name="staff-ban-confirm",
    ),
    path("tickets/", staff_support_views.tickets, name="staff-tickets"),
    path("tickets/<int:ticket_id>/", staff_support_views.ticket_detail, name="staff-ticket"),
    path(
        "tickets/<int:ticket_id>/answer/",
        staff_support_views.ticket_answer_view,
        name="staff-ticket-answer",
    ),
    path(
        "tickets/<int:ticket_id>/note/",
        staff_support_views.ticket_note_view,
        name="staff-ticket-note",
    ),
    path(
        "tickets/<int:ticket_id>/assign/",
        staff_support_views.ticket_assign_view,
        name="staff-ticket-assign",
    ),
    path(
        "tickets/<int:ticket_id>/close/",
        staff_support_views.ticket_close_view,
        name="staff-ticket-close",
    ),
    path(
        "tickets/<int:ticket_id>/unresolvable/",
        staff_support_views.ticket_unresolvable_view,
        name="staff-ticket-unresolvable",
    ),
    path("terms/", staff_platform_views.terms, name="staff-terms"),
    path("terms/publish/", staff_platform_views.terms_publish_view, name="staff-terms-publish"),
    path(
        "terms/<int:version>/",
        staff_platform_views.terms_acceptances,
        name="staff-terms-acceptances",
    ),
    path("suppliers/", staff_platform_views.suppliers, name="staff-suppliers"),
    path(
        "suppliers/<slug:name>/",
        staff_platform_views.supplier_edit_view,
        name="staff-supplier-edit",
    ),
    path("dead-jobs/", staff_platform_views.dead_jobs, name="staff-dead-jobs"),
    path(
        "dead-jobs/<int:job_id>/retry/",
        staff_platform_views.dead_job_retry_view,
        name="staff-dead-job-retry",
    ),
]
