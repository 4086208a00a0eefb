"""Every `licensary` command of the README lives in the app it belongs to: the commands that
span the apps (`up`, `demo`, `serve`) in the composition root, none of them in `core`."""

from django.core.management import get_commands

OWNERS = {
    "up": "licensary.config",
    "demo": "licensary.config",
    "serve": "licensary.config",
    "backup": "licensary.config",
    "restore": "licensary.config",
    "worker": "licensary.jobs",
    "sweep": "licensary.licenses",
    "token": "licensary.accounts",
    "keys": "licensary.verification",
    "simulate-supplier": "licensary.suppliers",
    "audit": "licensary.audit",
}


def test_each_command_is_found_in_the_app_that_owns_it():
    commands = get_commands()

    assert {name: commands.get(name) for name in OWNERS} == OWNERS
    assert "reconcile" in commands
