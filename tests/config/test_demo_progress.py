"""`licensary demo` draws its progress bar on a terminal only and prints its summary after
it (the quiet case, into a buffer, is `test_demo.py`'s)."""

import io

from django.core.management import call_command


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_demo_on_a_terminal_draws_its_bar_and_then_prints_the_accounts(db):
    out = Terminal()

    call_command("demo", stdout=out)

    printed = out.getvalue()
    assert "replaying 170 days" in printed and "171/171" in printed
    accounts = printed.index("Every demo account signs in with the password")
    assert accounts > printed.rindex("171/171")
    assert "alice@demo.test" in printed[accounts:]


def test_the_demo_into_a_pipe_shows_no_bar(db):
    out = io.StringIO()

    call_command("demo", stdout=out)

    printed = out.getvalue()
    assert "replaying" not in printed and "\x1b" not in printed
    assert "Every demo account signs in with the password" in printed
