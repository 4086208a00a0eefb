"""The portal's forms: they only check the shape of what is typed; the services decide the
rest, and their refusals that concern one field are shown next to it (`field_of`)."""

import ipaddress

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from licensary.licenses.models import License
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
