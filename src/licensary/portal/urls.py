"""The portal's pages, under /portal/."""

from django.urls import path
from django.views.i18n import set_language

from licensary.portal import account_views, customer_views, staff_views

app_name = "portal"

urlpatterns = [
    path("sign-in/", account_views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", account_views.SignOutView.as_view(), name="sign-out"),
    path("terms/", account_views.terms, name="terms"),
    path("language/", set_language, name="language"),
    path("", customer_views.dashboard, name="dashboard"),
    path("licenses/", customer_views.licenses_list, name="licenses"),
    path("licenses/<int:license_id>/", customer_views.license_detail, name="license"),
    path("licenses/<int:license_id>/renew/", customer_views.license_renew, name="license-renew"),
    path(
        "licenses/<int:license_id>/change-ip/",
        customer_views.license_change_ip_view,
        name="license-change-ip",
    ),
    path("orders/", customer_views.orders_list, name="orders"),
    path("orders/new/", customer_views.order_new, name="order-new"),
    path("invoices/", customer_views.invoices_list, name="invoices"),
    path("invoices/<int:invoice_id>/", customer_views.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/pay/", customer_views.invoice_pay, name="invoice-pay"),
    # The staff console (staff_views): staff accounts only.
    path("staff/", staff_views.dashboard, name="staff-dashboard"),
    path("staff/review/", staff_views.review_queue, name="staff-review"),
    path(
        "staff/orders/<int:order_id>/retry/", staff_views.order_retry_view, name="staff-order-retry"
    ),
    path(
        "staff/orders/<int:order_id>/approve/",
        staff_views.order_approve_view,
        name="staff-order-approve",
    ),
    path(
        "staff/orders/<int:order_id>/reject/",
        staff_views.order_reject_view,
        name="staff-order-reject",
    ),
    path("staff/receipts/", staff_views.receipts, name="staff-receipts"),
    path(
        "staff/receipts/<int:receipt_id>/confirm/",
        staff_views.receipt_confirm_view,
        name="staff-receipt-confirm",
    ),
    path(
        "staff/receipts/<int:receipt_id>/reject/",
        staff_views.receipt_reject_view,
        name="staff-receipt-reject",
    ),
    path("staff/identity/", staff_views.identity_checks, name="staff-identity"),
    path(
        "staff/identity/<int:account_id>/verify/",
        staff_views.identity_verify_view,
        name="staff-identity-verify",
    ),
    path(
        "staff/identity/<int:account_id>/reject/",
        staff_views.identity_reject_view,
        name="staff-identity-reject",
    ),
    path("staff/claims/", staff_views.claims, name="staff-claims"),
    path(
        "staff/claims/<int:claim_id>/approve/",
        staff_views.claim_approve_view,
        name="staff-claim-approve",
    ),
    path(
        "staff/claims/<int:claim_id>/reject/",
        staff_views.claim_reject_view,
        name="staff-claim-reject",
    ),
    path("staff/refunds/", staff_views.refunds, name="staff-refunds"),
    path(
        "staff/refunds/<int:refund_id>/approve/",
        staff_views.refund_approve_view,
        name="staff-refund-approve",
    ),
    path(
        "staff/refunds/<int:refund_id>/reject/",
        staff_views.refund_reject_view,
        name="staff-refund-reject",
    ),
    path("staff/bans/", staff_views.bans, name="staff-bans"),
    path("staff/accounts/<int:account_id>/ban/", staff_views.ban_account, name="staff-ban"),
    path(
        "staff/accounts/<int:account_id>/ban/confirm/",
        staff_views.ban_confirm,
        name="staff-ban-confirm",
    ),
]
