"""Persian: every portal string has its translation, the compiled catalog is the committed
text's, dates are Jalali with Persian digits, amounts are written per locale, and a page in
Persian is right to left."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.utils import translation

from licensary import portal
from licensary.accounts.models import User
from licensary.orders.models import Order
from licensary.portal import formatting
from licensary.portal.errors import EXPLAINED
from tests.portal.conftest import Browser

CATALOG = Path(portal.__file__).parent / "locale" / "fa" / "LC_MESSAGES"


def _plain(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def po_messages() -> dict[object, object]:
    with (CATALOG / "django.po").open("rb") as f:
        return {_plain(m.id): _plain(m.string) for m in read_po(f) if m.id}


def test_every_portal_string_has_a_persian_translation() -> None:
    untranslated = [
        msgid
        for msgid, text in po_messages().items()
        if not text or (isinstance(text, tuple) and not all(text))
    ]
    assert untranslated == []


def test_the_compiled_catalog_is_the_committed_text() -> None:
    with (CATALOG / "django.mo").open("rb") as f:
        compiled = {_plain(m.id): _plain(m.string) for m in read_mo(f) if m.id}
    assert compiled == po_messages()


def test_every_error_code_s_words_are_translated() -> None:
    def words(language: str) -> dict[str, tuple[str, str]]:
        with translation.override(language):
            return {code: (str(a), str(b)) for code, (a, b) in EXPLAINED.items()}

    english, persian = words("en"), words("fa")
    same = [code for code in EXPLAINED if set(english[code]) & set(persian[code])]
    assert same == []


@pytest.mark.parametrize(
    "language,day,moment",
    [
        ("en", "Dec 3, 2026", "Dec 3, 2026, 09:05"),
        ("fa", "۱۲ آذر ۱۴۰۵", "۱۲ آذر ۱۴۰۵، ۰۹:۰۵"),
    ],
)
def test_dates_are_jalali_with_persian_digits_in_persian(
    language: str, day: str, moment: str
) -> None:
    when = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)
    with translation.override(language):
        assert (formatting.format_day(when), formatting.format_moment(when)) == (day, moment)


@pytest.mark.parametrize(
    "language,usd,irr",
    [
        ("en", "$15.00", "IRR1,500"),
        ("fa", "\u200e$\xa0۱۵٫۰۰", "\u200eریال\xa0۱٬۵۰۰"),
    ],
)
def test_amounts_are_written_per_locale_in_their_currency_s_units(
    language: str, usd: str, irr: str
) -> None:
    # 1500 minor units: 15 dollars (two decimals), 1500 rials (ISO 4217 gives rials none).
    with translation.override(language):
        assert (formatting.format_money(1500, "USD"), formatting.format_money(1500, "IRR")) == (
            usd,
            irr,
        )


def test_the_persian_dashboard_is_right_to_left_with_jalali_dates(
    alice: User, alice_browser: Browser, alice_license: Order
) -> None:
    alice_browser.post("/portal/language/", {"language": "fa", "next": "/portal/"})
    answer = alice_browser.get("/portal/")
    page = answer.content.decode()
    assert answer["Content-Language"] == "fa"
    assert '<html lang="fa" dir="rtl">' in page
    assert "<h1>پیشخوان</h1>" in page
    assert alice_license.license is not None
    with translation.override("fa"):
        assert formatting.format_day(alice_license.license.period_end) in page
    assert "۳۰ روز" in page  # the days left, in Persian digits


def test_an_account_whose_language_is_persian_reads_persian_until_the_browser_chooses(
    alice: User, alice_browser: Browser
) -> None:
    # accounts has no service that sets `language` yet (the portal would call it from its
    # switch); the column is written here the one way there is.
    User.objects.filter(pk=alice.pk).update(language=User.Language.FA)
    assert '<html lang="fa" dir="rtl">' in alice_browser.get("/portal/").content.decode()

    alice_browser.post("/portal/language/", {"language": "en", "next": "/portal/"})
    assert '<html lang="en" dir="ltr">' in alice_browser.get("/portal/").content.decode()
