"""The agent panel in Persian: every string of its templates, views and forms is in the
Persian catalog, and its pages read right to left with Jalali dates and amounts in the
locale's digits."""

import re
from pathlib import Path

from django.utils import translation

from licensary import portal
from licensary.accounts.models import User
from licensary.accounts.services import account_preferences_set
from licensary.catalog.models import Product
from licensary.licenses.models import License
from licensary.portal import formatting
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, give_credit
from tests.portal.conftest import Browser
from tests.portal.test_persian import po_messages

PORTAL = Path(portal.__file__).parent
SOURCES = [
    PORTAL / "agent_views.py",
    PORTAL / "agent_forms.py",
    PORTAL / "templatetags" / "agent.py",
]
TEMPLATES = sorted((PORTAL / "templates" / "portal" / "agent").glob("*.html"))


def agent_strings() -> set[object]:
    """The msgids the agent panel asks for: `_("...")` in its Python, `{% translate "..." %}`
    and `{% blocktranslate %}` (its variables as `%(name)s`, plurals as a pair) in its
    templates."""
    found: set[object] = set()
    for source in SOURCES:
        text = source.read_text()
        for parts in re.findall(r'_\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', text):
            found.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', parts)))
    for template in TEMPLATES:
        text = template.read_text()
        found |= set(re.findall(r'{% translate "([^"]+)" %}', text))
        found |= set(re.findall(r"{% translate '([^']+)' %}", text))
        for body in re.findall(r"{% blocktranslate[^%]*%}(.*?){% endblocktranslate %}", text):
            named = re.sub(r"{{ (\w+) }}", r"%(\1)s", body)
            found.add(tuple(named.split("{% plural %}")) if "{% plural %}" in named else named)
    return found


def test_every_agent_panel_string_is_in_the_persian_catalog() -> None:
    catalog = po_messages()
    strings = agent_strings()
    assert len(strings) > 150
    assert sorted(map(str, strings - set(catalog))) == []


def test_the_agent_panel_in_persian_is_right_to_left_with_jalali_days_and_persian_amounts(
    carol: User, dave: User, product: Product, staff: User
) -> None:
    give_credit(carol, 2500, staff)
    delivered_order(dave, product, PUBLIC_IP, staff)
    lic = License.objects.get(account=dave)
    account_preferences_set(account=carol, actor=carol, language="fa")
    browser = Browser(carol)
    dashboard = browser.get("/portal/agent/").content.decode()
    customer = browser.get(f"/portal/agent/customers/{dave.pk}/").content.decode()
    with translation.override("fa"):
        period_end = formatting.format_day(lic.period_end)
        credit = formatting.format_money(2500, "USD")
    assert '<html lang="fa" dir="rtl">' in dashboard
    assert "پنل نماینده" in dashboard
    assert f'data-testid="agent-credit">{credit}<' in dashboard and "۲۵" in credit
    assert period_end in customer and "فعال" in customer
