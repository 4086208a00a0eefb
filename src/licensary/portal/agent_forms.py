"""The agent panel's forms: they check only the shape of what an agent types (an email, a
bounded printable name, dates, one of the listed scopes or events); the services decide the
rest, and their refusals about one field are shown next to it (`AGENT_FIELD_OF_CODE`)."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from licensary.accounts.models import ApiToken, User
from licensary.accounts.scopes import Scope
from licensary.core.text import Printable
from licensary.notifications.models import WebhookEndpoint
from licensary.notifications.webhook_types import SUBSCRIBABLE

# The refusals of a service that belong to one field of the agent form that asked (the
# customer portal's own, `forms.FIELD_OF_CODE`, covers ordering).
AGENT_FIELD_OF_CODE = {
    "email_taken": "email",
    "url_not_allowed": "url",
    "empty_file": "document",
    "file_too_large": "document",
    "unsupported_file_type": "document",
}

TOKEN_NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 100
URL_LENGTH = WebhookEndpoint._meta.get_field("url").max_length or 500
_token_name = TypeAdapter(Annotated[str, Printable(TOKEN_NAME_LENGTH)])
_url = TypeAdapter(Annotated[str, Printable(URL_LENGTH, min_length=1)])


def _printable(adapter: TypeAdapter[str], value: str) -> str:
    """The API's rule for text (no control characters, no lone surrogates), so a form refuses
    what the API refuses."""
    try:
        return adapter.validate_python(value)
    except PydanticValidationError:
        raise forms.ValidationError(_("Use letters, digits and punctuation only.")) from None


def scope_choices() -> list[tuple[str, str]]:
    """accounts/scopes.py's scopes, each with what it allows."""
    words = {
        Scope.READ: _("read: every GET"),
        Scope.ORDERS: _("orders: orders, renewals, IP changes, your customers"),
        Scope.BILLING: _("billing: paying, receipts, deposits, refunds"),
        Scope.TRANSFERS: _("transfers: transfers and claims"),
        Scope.WEBHOOKS: _("webhooks: your webhook endpoints"),
        Scope.SUPPORT: _("support: tickets and reports"),
        Scope.ACCOUNT: _("account: tokens, terms, identity"),
    }
    return [(scope.value, str(words[scope])) for scope in Scope]


def event_choices() -> list[tuple[str, str]]:
    """The event types an endpoint subscribes to (their names are the contract's)."""
    return [(name, name) for name in SUBSCRIBABLE]


class CustomerForm(forms.Form):
    email = forms.EmailField(
        label=_("Customer's email"),
        max_length=User._meta.get_field("email").max_length or 254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    password = forms.CharField(
        label=_("Password (optional)"),
        required=False,
        strip=False,
        max_length=256,
        help_text=_("With a password the customer signs in to read their licenses."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if password:
            validate_password(password)
        return password


class StatementForm(forms.Form):
    start = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("To (inclusive)"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", _("The end comes on or after the start."))
        return cleaned


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=TOKEN_NAME_LENGTH, required=False)
    scopes = forms.MultipleChoiceField(
        label=_("What it may do"),
        choices=scope_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )
    valid_through = forms.DateField(
        label=_("Valid through (optional)"),
        required=False,
        help_text=_("It stops working at the end of this day (UTC). Empty: until revoked."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_name(self) -> str:
        return _printable(_token_name, self.cleaned_data["name"])

    def clean_valid_through(self) -> date | None:
        day: date | None = self.cleaned_data["valid_through"]
        if day is not None and day < datetime.now(UTC).date():
            raise forms.ValidationError(_("Choose today or a later day."))
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("valid_through")
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


class WebhookForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL (https)"),
        max_length=URL_LENGTH,
        widget=forms.URLInput(attrs={"dir": "ltr", "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=event_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )

    def clean_url(self) -> str:
        return _printable(_url, self.cleaned_data["url"].strip())


class WebhookStatusForm(forms.Form):
    status = forms.ChoiceField(choices=WebhookEndpoint.Status.choices)


class IdentityForm(forms.Form):
    document = forms.FileField(
        label=_("Identity document"),
        help_text=_("A PDF, PNG, JPEG or WebP file, at most 10 MB."),
    )
