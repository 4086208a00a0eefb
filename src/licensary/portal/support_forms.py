"""The forms of the customer's support pages (tickets, the identity document, claims): they
check only the shape of what is typed; the support, identity and claims services decide the
rest, and a refusal about one field is shown next to it (the `*_FIELD_OF_CODE` maps)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from licensary.portal.formatting import format_number
from licensary.portal.forms import IpField
from licensary.support.services import MAX_ATTACHMENTS

DEPARTMENTS = [
    ("billing", _("billing")),
    ("technical", _("technical")),
    ("sales", _("sales")),
    ("transfers", _("transfers")),
]

FILES_HELP = _("Optional: up to three PDF, PNG, JPEG or WebP files, each at most 10 MB.")
assert MAX_ATTACHMENTS == 3, "FILES_HELP says how many files a message takes"
ACCEPT = ".pdf,.png,.jpg,.jpeg,.webp"

# A ticket's or a message's refusals that are about the file sent with it.
ATTACHMENT_FIELD_OF_CODE = {
    "empty_file": "file",
    "file_too_large": "file",
    "unsupported_file_type": "file",
}

# The identity document's refusals (the same upload checks).
DOCUMENT_FIELD_OF_CODE = {
    "empty_file": "document",
    "file_too_large": "document",
    "unsupported_file_type": "document",
}

# A claim's refusals that are about the product or the IP typed in.
CLAIM_FIELD_OF_CODE = {
    "invalid_ip": "ip",
    "nothing_to_claim": "ip",
    "claim_pending": "ip",
    "product_inactive": "product",
}


class TicketForm(forms.Form):
    department = forms.ChoiceField(label=_("Department"), choices=DEPARTMENTS)
    license = forms.ChoiceField(
        label=_("About the license"),
        required=False,
        help_text=_("Optional: the license the question is about."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Message"), max_length=20_000, widget=forms.Textarea)

    def __init__(self, *args: Any, licenses: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["license"].choices = [("", _("No license"))] + licenses  # type: ignore[attr-defined]
        self.fields["subject"].widget.attrs["dir"] = "auto"
        self.fields["body"].widget.attrs.update({"dir": "auto", "rows": 6})


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern, "Uploading multiple files"),
    at most `max_files`; its value is the list of files chosen (empty when none)."""

    def __init__(self, *args: Any, max_files: int, **kwargs: Any) -> None:
        self.max_files = max_files
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        chosen = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(chosen) > self.max_files:
            raise forms.ValidationError(
                _("At most %(count)s files on one message.")
                % {"count": format_number(self.max_files)}
            )
        return [super(MultipleFileField, self).clean(f, initial) for f in chosen]


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), max_length=20_000, widget=forms.Textarea)
    file = MultipleFileField(
        label=_("Attach files"),
        required=False,
        max_files=MAX_ATTACHMENTS,
        help_text=FILES_HELP,
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs.update({"dir": "auto", "rows": 5})


class DocumentForm(forms.Form):
    document = forms.FileField(
        label=_("Identity document"),
        help_text=_("A PDF, PNG, JPEG or WebP file, at most 10 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )


class ClaimForm(forms.Form):
    product = forms.ChoiceField(label=_("Product"))
    ip = IpField(help_text=_("The public address of the server you run."))

    def __init__(self, *args: Any, products: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = products  # type: ignore[attr-defined]
