"""The customer portal's pages (customer_views), signing in and the account (account_views)."""

from django.urls import path

from licensary.portal import (
    account_views,
    customer_billing_views,
    customer_claim_views,
    customer_support_views,
    customer_transfer_views,
    customer_views,
)

urlpatterns = [
    path("sign-in/", account_views.SignInView.as_view(), name="sign-in"),
    path("sign-in/code/", account_views.sign_in_code, name="sign-in-code"),
    path("sign-out/", account_views.SignOutView.as_view(), name="sign-out"),
    path("password/reset/", account_views.ResetRequestView.as_view(), name="password-reset"),
    path(
        "password/reset/sent/",
        account_views.ResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        account_views.ResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/done/",
        account_views.ResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("terms/", account_views.terms, name="terms"),
    path("language/", account_views.language_switch, name="language"),
    path("account/", account_views.account_settings, name="account"),
    path("account/password/", account_views.password_change, name="password-change"),
    path("", customer_views.dashboard, name="dashboard"),
    path("licenses/", customer_views.licenses_list, name="licenses"),
    path("licenses/<int:license_id>/", customer_views.license_detail, name="license"),
    path("licenses/<int:license_id>/renew/", customer_views.license_renew, name="license-renew"),
    path(
        "licenses/<int:license_id>/change-ip/",
        customer_views.license_change_ip_view,
        name="license-change-ip",
    ),
    path(
        "licenses/<int:license_id>/transfer/",
        customer_views.license_transfer,
        name="license-transfer",
    ),
    path("transfers/", customer_transfer_views.transfers_list, name="transfers"),
    path(
        "transfers/<int:transfer_id>/accept/",
        customer_transfer_views.transfer_accept_view,
        name="transfer-accept",
    ),
    path(
        "transfers/<int:transfer_id>/decline/",
        customer_transfer_views.transfer_decline_view,
        name="transfer-decline",
    ),
    path(
        "transfers/<int:transfer_id>/cancel/",
        customer_transfer_views.transfer_cancel_view,
        name="transfer-cancel",
    ),
    path("orders/", customer_views.orders_list, name="orders"),
    path("orders/new/", customer_views.order_new, name="order-new"),
    path("invoices/", customer_views.invoices_list, name="invoices"),
    path("invoices/<int:invoice_id>/", customer_views.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/pay/", customer_views.invoice_pay, name="invoice-pay"),
    path(
        "invoices/<int:invoice_id>/refund/",
        customer_billing_views.invoice_refund,
        name="invoice-refund",
    ),
    path("deposits/new/", customer_billing_views.deposit_new, name="deposit-new"),
    path("invoices/<int:invoice_id>/print/", customer_views.invoice_print, name="invoice-print"),
    path("invoices/<int:invoice_id>/pdf/", customer_views.invoice_pdf_view, name="invoice-pdf"),
    path(
        "invoices/<int:invoice_id>/checkout/",
        customer_views.invoice_checkout_view,
        name="invoice-checkout",
    ),
    path(
        "invoices/<int:invoice_id>/receipts/",
        customer_views.invoice_receipt_upload,
        name="invoice-receipt",
    ),
    path("tickets/", customer_support_views.tickets_list, name="tickets"),
    path("tickets/<int:ticket_id>/", customer_support_views.ticket_detail, name="ticket"),
    path(
        "tickets/<int:ticket_id>/reply/",
        customer_support_views.ticket_reply,
        name="ticket-reply",
    ),
    path(
        "tickets/<int:ticket_id>/close/",
        customer_support_views.ticket_close_view,
        name="ticket-close",
    ),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        customer_support_views.ticket_attachment,
        name="ticket-attachment",
    ),
    path("account/identity/", customer_claim_views.identity, name="identity"),
    path("claims/", customer_claim_views.claims_list, name="claims"),
    path("claims/<int:claim_id>/", customer_claim_views.claim_detail, name="claim"),
    path(
        "claims/<int:claim_id>/challenge/",
        customer_claim_views.claim_challenge,
        name="claim-challenge",
    ),
]
