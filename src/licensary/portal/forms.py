"""The portal's forms: they only check the shape of what is typed; the services decide the
rest, and their refusals that concern one field are shown next to it (`field_of`)."""

import ipaddress
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision
from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext_lazy as _

from licensary.accounts.models import User
from licensary.accounts.services import (
    account_password_reset_request,
    account_password_set,
    time_zones,
)
from licensary.licenses.models import License
from licensary.portal.formatting import format_money
from licensary.portal.labels import status_label

# The refusals of a service that belong to one field of the form that asked.
FIELD_OF_CODE = {
    "invalid_ip": "ip",
    "ip_taken": "ip",
    "ip_change_limit": "ip",
    "ip_change_abandoned": "ip",
    "product_inactive": "product",
    "identity_required": "product",
}


class SignInForm(AuthenticationForm):
    """Email and password (the account's USERNAME_FIELD is its email); django-axes counts
    the failures and locks out, as for the admin."""

    username = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _("That email and password do not match an account."),
        "inactive": _("This account is inactive."),
    }


class SignInCodeForm(forms.Form):
    """The second step for staff with an authenticator (django-otp's TOTP device)."""

    code = forms.RegexField(
        label=_("Code"),
        regex=r"^\s*\d{6,8}\s*$",
        max_length=12,
        help_text=_("The 6-digit code your authenticator app shows now."),
        error_messages={"invalid": _("A code is 6 digits.")},
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


class TermsForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise forms.ValidationError(_("Enter an IPv4 or IPv6 address.")) from None


class IpField(forms.CharField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=64, label=_("Server IP address"), **kwargs)  # type: ignore[arg-type]
        self.widget.attrs.update({"dir": "ltr", "inputmode": "decimal", "spellcheck": "false"})


class OrderForm(forms.Form):
    product = forms.ChoiceField(label=_("Product"))
    ip = IpField()

    def __init__(self, *args: object, products: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["product"].choices = products  # type: ignore[attr-defined]


# A receipt's refusals, shown next to its file (a duplicate is the same file or the same bank
# reference: both are the transfer, told next to the file with the service's reason).
RECEIPT_FIELD_OF_CODE = {
    "empty_file": "file",
    "file_too_large": "file",
    "unsupported_file_type": "file",
    "duplicate_receipt": "file",
}


class ReceiptForm(forms.Form):
    """A bank transfer's receipt: the file (judged by its first bytes by the service) and the
    bank's reference of the transfer."""

    file = forms.FileField(
        label=_("Receipt"),
        help_text=_("A PDF, PNG, JPEG or WebP file, at most 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.webp"}),
    )
    reference = forms.CharField(
        label=_("Bank reference"),
        max_length=200,
        required=False,
        help_text=_("The transfer's reference or tracking number, as your bank shows it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reference"].widget.attrs.update({"dir": "ltr", "spellcheck": "false"})


class ChangeIpForm(forms.Form):
    ip = IpField(help_text=_("At most 3 changes per period."))


class LicenseFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)
    product = forms.ChoiceField(label=_("Product"), required=False)
    ip = forms.CharField(label=_("IP address"), required=False, max_length=45)

    def __init__(self, *args: object, products: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            ("", _("any status")),
            *[(value, status_label(value)) for value in License.Status.values],
        ]
        self.fields["product"].choices = [("", _("any product")), *products]  # type: ignore[attr-defined]
        self.fields["ip"].widget.attrs.update({"dir": "ltr"})

    def clean_ip(self) -> str:
        value = self.cleaned_data["ip"]
        return _ip(value) if value else ""


class ResetRequestForm(PasswordResetForm):
    """The e-mail to send a reset link to. Whether an account has it is never shown (the
    same answer either way); the mail goes through the outbox (`notifications`), not here."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def get_users(self, email: str) -> Iterator[User]:
        # Django leaves out accounts without a usable password; here those are the accounts
        # an agent made for its customers, and the reset mail is how they choose their first.
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)

    def save(self, **kwargs: Any) -> None:  # type: ignore[override]
        for account in self.get_users(self.cleaned_data["email"]):
            account_password_reset_request(account=account)


def _new_password_fields(form: SetPasswordForm) -> None:
    form.fields["new_password1"].label = _("New password")
    form.fields["new_password1"].help_text = _("At least 8 characters, and not a common password.")
    form.fields["new_password2"].label = _("New password again")
    form.fields["new_password2"].help_text = ""
    form.error_messages = {
        **form.error_messages,
        "password_mismatch": _("The two passwords are not the same."),
        "password_incorrect": _("That is not your current password."),
    }


class NewPasswordForm(SetPasswordForm):
    """The reset link's form: a new password, twice; saving it ends every session and API
    token of the account (`account_password_set`)."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        _new_password_fields(self)

    def save(self, commit: bool = True) -> User:
        self.user = account_password_set(
            account=self.user, password=self.cleaned_data["new_password1"], actor=self.user
        )
        return self.user


class ChangePasswordForm(NewPasswordForm):
    """The signed-in account's own change: its current password first; saving ends every
    other session and every API token, the browser that changed it stays signed in."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    field_order = ["old_password", "new_password1", "new_password2"]

    def __init__(self, user: User, *args: Any, keep_session: str | None = None, **kwargs: Any):
        super().__init__(user, *args, **kwargs)
        self.keep_session = keep_session
        self.order_fields(self.field_order)

    def clean_old_password(self) -> str:
        old: str = self.cleaned_data["old_password"]
        if not self.user.check_password(old):
            raise forms.ValidationError(self.error_messages["password_incorrect"])
        return old

    def save(self, commit: bool = True) -> User:
        self.user = account_password_set(
            account=self.user,
            password=self.cleaned_data["new_password1"],
            actor=self.user,
            keep_session=self.keep_session,
        )
        return self.user


# The canonical IANA zones (region/city) and UTC; the service takes any zone the system knows.
ZONE_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zone for zone in time_zones() if zone.startswith(ZONE_REGIONS))
    return [("UTC", "UTC"), *((zone, zone.replace("_", " ")) for zone in zones)]


class AccountSettingsForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("en", "English"), ("fa", "فارسی")],
        help_text=_("The portal's pages are shown in it."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Dates and times are shown in it."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = time_zone_choices()
        field.widget.attrs.update({"dir": "ltr"})


class DepositForm(forms.Form):
    """An amount of the account's currency, as people write it (`50` or `50.25`, Persian
    digits too), turned into minor units; the service holds it to MAX_DEPOSIT."""

    amount = forms.CharField(label=_("Amount"), max_length=20)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].help_text = _("In %(currency)s.") % {"currency": currency}
        self.fields["amount"].widget.attrs.update({"dir": "ltr", "inputmode": "decimal"})

    def clean_amount(self) -> int:
        text = self.cleaned_data["amount"].strip().translate(LATIN_DIGITS).replace(",", "")
        exponent = get_currency_precision(self.currency)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(_("Enter an amount, such as 50 or 50.25.")) from None
        minor = value.scaleb(exponent)
        if not value.is_finite() or minor != minor.to_integral_value() or minor <= 0:
            raise forms.ValidationError(_("Enter an amount, such as 50 or 50.25."))
        most = settings.LICENSARY["MAX_DEPOSIT"]
        if minor > most:
            raise forms.ValidationError(
                _("A deposit is at most %(most)s.") % {"most": format_money(most, self.currency)}
            )
        return int(minor)


LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٫", "0123456789.")


class RefundForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you ask for a refund?"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TransferForm(forms.Form):
    email = forms.EmailField(
        label=_("The recipient's e-mail"),
        max_length=254,
        help_text=_("The account that is to own this license, with its period, free of charge."),
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
