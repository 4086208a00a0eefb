"""The staff console's forms: they check only the shape of what staff type (a bounded,
printable note or reason, one of the listed choices); the services decide the rest."""

from typing import Annotated

from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from licensary.accounts.models import User
from licensary.billing.models import Refund
from licensary.core.text import Printable
from licensary.portal.templatetags.staff import staff_label
from licensary.support.models import Ticket

# The API's rule for free text (notes, reasons), so a form refuses what the API refuses.
NOTE_LENGTH = 300
_note = TypeAdapter(Annotated[str, Printable(NOTE_LENGTH, multiline=True)])


class NoteField(forms.CharField):
    """A note or reason: at most 300 characters, line breaks allowed, no control characters."""

    def __init__(self, *, required: bool = True, **kwargs: object) -> None:
        super().__init__(
            max_length=NOTE_LENGTH,
            required=required,
            widget=forms.Textarea(attrs={"rows": 2, "dir": "auto"}),
            **kwargs,  # type: ignore[arg-type]
        )

    def clean(self, value: object) -> str:
        cleaned: str = super().clean(value)
        try:
            return _note.validate_python(cleaned)
        except PydanticValidationError:
            raise forms.ValidationError(_("Use letters, digits and punctuation only.")) from None


def _destinations() -> list[tuple[str, str]]:
    return [
        (Refund.Destination.CREDIT, str(_("to the account's credit"))),
        (Refund.Destination.ORIGINAL, str(_("back to the original payment"))),
    ]


class DestinationField(forms.ChoiceField):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            label=_("Refund to"),
            choices=_destinations,
            initial=Refund.Destination.CREDIT,
            widget=forms.RadioSelect,
            **kwargs,  # type: ignore[arg-type]
        )


class OrderApproveForm(forms.Form):
    note = NoteField(label=_("Note"), required=False)


class OrderRejectForm(forms.Form):
    note = NoteField(label=_("Why it is rejected"))
    destination = DestinationField()


class ReceiptConfirmForm(forms.Form):
    to_credit = forms.BooleanField(
        label=_("If the invoice cannot take the money, put it on the account's credit"),
        required=False,
    )


class ReasonForm(forms.Form):
    """A rejection: the account is told the reason."""

    reason = NoteField(label=_("Reason (the account is told)"))


class RefundApproveForm(forms.Form):
    destination = DestinationField()
    note = NoteField(label=_("Note"), required=False)


class RefundRejectForm(forms.Form):
    note = NoteField(label=_("Why it is rejected (the account is told)"))


def ban_reasons() -> list[tuple[str, str]]:
    """Rule 6's five reasons, each with what it means."""
    words = {
        User.BanReason.TAMPERING: _(
            "Tampering: changes to the license software's files (manipulation, debugging, "
            "saving its logs)"
        ),
        User.BanReason.SHARING: _("Sharing: service access given to other companies or people"),
        User.BanReason.FAKE_IDENTITY: _("Fake identity"),
        User.BanReason.SUPPORT_SPAM: _("Support spam"),
        User.BanReason.OTHER: _("Other"),
    }
    return [(value, str(words[User.BanReason(value)])) for value in User.BanReason.values]


class BanForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ban_reasons, widget=forms.RadioSelect)
    note = NoteField(label=_("Note (kept with the ban)"))
    cascade = forms.BooleanField(
        label=_("Ban the agent's customers too"),
        required=False,
        help_text=_("A reseller's customers may be innocent of what it did."),
    )

    def __init__(self, *args: object, is_agent: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if not is_agent:
            del self.fields["cascade"]


class AccountLookupForm(forms.Form):
    email = forms.EmailField(label=_("Account email"), max_length=254)


# Tickets -----------------------------------------------------------------------------------

BODY_LENGTH = 20_000  # the ticket service's limit for a message
_body = TypeAdapter(Annotated[str, Printable(BODY_LENGTH, multiline=True)])


class TicketFilterForm(forms.Form):
    """The ticket list's filters: a department and a status, each optional."""

    department = forms.ChoiceField(label=_("Department"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        every = [("", str(_("all")))]
        self.fields["department"].choices = every + [  # type: ignore[attr-defined]
            (value, str(staff_label(value))) for value in Ticket.Department.values
        ]
        self.fields["status"].choices = every + [  # type: ignore[attr-defined]
            (value, str(staff_label(value))) for value in Ticket.Status.values
        ]


class TicketMessageForm(forms.Form):
    """An answer to the account, or an internal note staff alone read."""

    body = forms.CharField(
        label=_("Message"),
        max_length=BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"}),
    )

    def clean_body(self) -> str:
        try:
            return _body.validate_python(self.cleaned_data["body"])
        except PydanticValidationError:
            raise forms.ValidationError(_("Use letters, digits and punctuation only.")) from None


class TicketAssignForm(forms.Form):
    staff = forms.ChoiceField(label=_("Assign to"), required=False)

    def __init__(self, *args: object, staff_members: list[User], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["staff"].choices = [("", str(_("nobody")))] + [  # type: ignore[attr-defined]
            (str(member.pk), member.email) for member in staff_members
        ]


class TicketCloseForm(forms.Form):
    note = NoteField(label=_("Note (optional)"), required=False)


class UnresolvableForm(forms.Form):
    note = NoteField(label=_("Why it cannot be solved (the refund policy reads this mark)"))


# Terms and suppliers -----------------------------------------------------------------------

TERMS_LENGTH = 100_000  # the API's bound for a version's text
_terms = TypeAdapter(Annotated[str, Printable(TERMS_LENGTH, multiline=True)])


class TermsPublishForm(forms.Form):
    text = forms.CharField(
        label=_("The new version's text"),
        max_length=TERMS_LENGTH,
        widget=forms.Textarea(attrs={"rows": 12, "dir": "auto"}),
    )

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        try:
            return _terms.validate_python(text)
        except PydanticValidationError:
            raise forms.ValidationError(_("Use letters, digits and punctuation only.")) from None


def _printable(limit: int) -> TypeAdapter[str]:
    return TypeAdapter(Annotated[str, Printable(limit)])


class SupplierForm(forms.Form):
    """A supplier account's connection. The password is written, never shown: left empty, the
    stored one stays."""

    base_url = forms.URLField(
        label=_("Base URL"),
        max_length=300,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"dir": "ltr"}),
    )
    username = forms.CharField(
        label=_("Username"),
        max_length=200,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    password = forms.CharField(
        label=_("New password"),
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave it empty to keep the stored password. It is never shown."),
    )
    timeout_seconds = forms.FloatField(label=_("Timeout (seconds)"), min_value=0.1, max_value=120)
    active = forms.BooleanField(
        label=_("Switched on (orders may be delivered through it)"), required=False
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for name, limit in (("base_url", 300), ("username", 200), ("password", 1000)):
            value = cleaned.get(name)
            if value:
                try:
                    _printable(limit).validate_python(value)
                except PydanticValidationError:
                    self.add_error(name, _("Use letters, digits and punctuation only."))
        return cleaned
