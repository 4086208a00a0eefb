"""The staff console's overview draws its charts on the server: each an SVG image named by
its <title> and <desc>, with the same numbers as a table; and it costs the same few queries
however much business there is."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.orders.models import Order
from licensary.portal.charts import Series, bar_chart
from tests.api.support import delivered_order, held_order
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db

# session, user, terms, whether the staff member has an authenticator (django-otp); the
# seven counts; the charts' aggregates
QUERY_BUDGET = 14


@pytest.fixture
def staff_browser(staff: User) -> Browser:
    return Browser(staff)


def table(page: str, chart_id: str) -> str:
    start = page.index(f'data-testid="{chart_id}-table"')
    return page[start : page.index("</table>", start)]


def test_the_dashboard_draws_four_charts_each_with_its_title_desc_and_table(
    staff_browser: Browser,
) -> None:
    page = staff_browser.get("/portal/staff/").content.decode()
    assert page.count('<svg class="chart" role="img"') == 4
    for chart in ("chart-revenue-usd", "chart-licenses", "chart-held", "chart-activity"):
        assert f'aria-labelledby="{chart}-title {chart}-desc" data-testid="{chart}"' in page
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
        assert f'data-testid="{chart}-table"' in page
    assert "style=" not in page  # the CSP forbids inline styles; colours are classes


def test_a_paid_order_is_this_month_s_sales_and_an_active_license(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    order = delivered_order(alice, product, "93.184.216.70", staff)
    page = staff_browser.get("/portal/staff/").content.decode()

    revenue = table(page, "chart-revenue-usd")
    assert revenue.count("<td>$0.00</td>") == 5  # the five months before this one sold nothing
    total = f"${order.invoice.total / 100:,.2f}"
    assert revenue.rstrip().endswith(f"<td>{total}</td></tr></tbody>")
    licenses = table(page, "chart-licenses")
    # this month's row: 1 active, 0 blocked, 0 canceled, 0 deleted
    assert licenses.rstrip().endswith("<td>1</td><td>0</td><td>0</td><td>0</td></tr></tbody>")


def test_held_orders_are_counted_by_age_and_the_last_bar_is_overdue(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    now = timezone.now()
    for hours, ip in [(1, "93.184.216.71"), (30, "93.184.216.72"), (49, "93.184.216.73")]:
        with time_machine.travel(now - timedelta(hours=hours)):
            held_order(alice, product, ip, staff)
    page = staff_browser.get("/portal/staff/").content.decode()
    held = table(page, "chart-held")
    rows = held.split("<tr>")[2:]
    assert [row.count("<td>1</td>") for row in rows] == [1, 0, 1, 1]
    assert "<td>0</td><td>1</td>" in rows[3]  # within target 0, overdue 1
    assert Order.objects.filter(status=Order.Status.ON_HOLD).count() == 3


def test_the_dashboard_costs_the_same_queries_with_more_business(
    staff_browser: Browser,
    alice: User,
    bob: User,
    product: Product,
    staff: User,
    django_assert_max_num_queries: Any,
) -> None:
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert staff_browser.get("/portal/staff/").status_code == 200
    for n in range(4):
        delivered_order(alice if n % 2 else bob, product, f"93.184.216.{80 + n}", staff)
    for n in range(4):  # after every delivery: run no jobs once an order is held
        held_order(bob, product, f"93.184.216.{90 + n}", staff)
    with django_assert_max_num_queries(QUERY_BUDGET):
        page = staff_browser.get("/portal/staff/").content.decode()
    assert 'data-testid="count-held">4<' in page


def test_a_chart_s_bars_are_stacked_and_each_says_its_number() -> None:
    chart = bar_chart(
        chart_id="c",
        title="T",
        desc="D",
        labels=["a", "b"],
        series=[Series("x", "s-x", [3, 0]), Series("y", "s-y", [1, 4])],
    )
    svg = str(chart.svg)
    assert svg.count('<rect class="bar') == 4
    assert "<title>a: x 3</title>" in svg and "<title>b: y 4</title>" in svg
    assert chart.rows == [("a", ["3", "1"]), ("b", ["0", "4"])]
    # the axis tops at 5 (the next 1, 2 or 5 above the tallest stack, 4)
    assert '<text class="axis" x="64" y="16.0" text-anchor="end">5</text>' in svg


def test_a_chart_refuses_series_that_do_not_match_its_labels() -> None:
    with pytest.raises(ValueError, match="one value per label"):
        bar_chart(chart_id="c", title="T", desc="D", labels=["a"], series=[Series("x", "s", [])])


def test_the_charts_in_persian_name_months_and_numbers_in_persian(
    staff_browser: Browser, alice: User, product: Product, staff: User
) -> None:
    delivered_order(alice, product, "93.184.216.70", staff)
    staff_browser.post("/portal/language/", {"language": "fa", "next": "/portal/staff/"})
    page = staff_browser.get("/portal/staff/").content.decode()

    assert "فروش خالص ماهانه (USD)" in page
    assert "مجوزها بر اساس وضعیت در پایان هر ماه" in page
    licenses = table(page, "chart-licenses")
    assert licenses.rstrip().endswith("<td>۱</td><td>۰</td><td>۰</td><td>۰</td></tr></tbody>")
    assert "کمتر از ۱۲ ساعت" in table(page, "chart-held")
