"""Following the server's key rotation: the key list is fetched again when an answer names an
unknown key or the list is more than a day old, and a new list is believed only when a key the
client already trusts signed it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import PRODUCT, FakeLicensary, public_entry
from licensary_client import CheckResult, State, check, load_public_keys


def run(fake: FakeLicensary, state_dir: Path, *, after: timedelta = timedelta(0)) -> CheckResult:
    now = fake.issued_at + timedelta(minutes=1) + after
    return check(fake.url, PRODUCT, state_dir=state_dir, timeout=2, now=now)


def trusted(state_dir: Path) -> list[str]:
    (keys_file,) = state_dir.glob("keys-*.json")
    return [entry["key_id"] for entry in json.loads(keys_file.read_text())["keys"]]


def test_key_rotation_client_trusting_only_a_learns_b_from_the_list_a_signed(fake, state_dir):
    assert run(fake, state_dir).state is State.VALID
    assert trusted(state_dir) == ["k1"]
    fake.published = ["k1", "k2"]  # k2 was published as next, the list signed by both
    fake.signing_key_id = "k2"  # ... and now signs

    result = run(fake, state_dir, after=timedelta(minutes=5))

    assert result.state is State.VALID
    assert fake.answers[-1]["key_id"] == "k2"
    assert fake.key_requests() == 2
    assert trusted(state_dir) == ["k1", "k2"]


@pytest.mark.parametrize(
    ("published", "signers"),
    [
        (["k2"], ["k2"]),  # an impostor's own key
        (["k1", "k2"], ["k2"]),  # it lists the trusted key but cannot sign with it
    ],
)
def test_key_rotation_list_signed_only_by_an_unknown_key_is_refused(
    fake, state_dir, published, signers
):
    assert run(fake, state_dir).state is State.VALID
    fake.published, fake.list_signers = published, signers
    fake.signing_key_id = "k2"

    result = run(fake, state_dir, after=timedelta(minutes=5))

    assert result.state is State.INVALID
    assert result.reason == "unknown_key"
    assert "key list" in result.detail
    assert trusted(state_dir) == ["k1"]


def test_key_rotation_list_whose_signature_by_a_trusted_key_is_forged_is_refused(fake, state_dir):
    assert run(fake, state_dir).state is State.VALID
    fake.published, fake.signing_key_id = ["k1", "k2"], "k2"
    listing = fake.key_listing()
    forged = {"key_id": "k1", "signature": listing["signatures"][1]["signature"]}  # k2's
    fake.key_listing = lambda: {**listing, "signatures": [forged]}  # type: ignore[method-assign]

    result = run(fake, state_dir, after=timedelta(minutes=5))

    assert (result.state, result.reason) == (State.INVALID, "unknown_key")
    assert trusted(state_dir) == ["k1"]


def test_key_rotation_list_older_than_a_day_is_fetched_again(fake, state_dir):
    assert run(fake, state_dir).state is State.VALID
    fake.published = ["k1", "k2"]

    assert run(fake, state_dir, after=timedelta(hours=23)).state is State.VALID
    assert fake.key_requests() == 1
    assert run(fake, state_dir, after=timedelta(hours=25)).state is State.VALID
    assert fake.key_requests() == 2
    assert trusted(state_dir) == ["k1", "k2"]
    assert run(fake, state_dir, after=timedelta(hours=26)).state is State.VALID
    assert fake.key_requests() == 2  # the fresh list counts from when it was fetched


def test_key_rotation_a_retired_key_is_no_longer_trusted_once_the_list_drops_it(fake, state_dir):
    fake.published = ["k1", "k2"]
    assert run(fake, state_dir).state is State.VALID
    fake.published, fake.signing_key_id = ["k2"], "k2"  # k1 retired
    assert run(fake, state_dir, after=timedelta(hours=25)).state is State.VALID
    assert trusted(state_dir) == ["k2"]

    fake.signing_key_id = "k1"  # someone holding the retired key
    result = run(fake, state_dir, after=timedelta(hours=26))

    assert (result.state, result.reason) == (State.INVALID, "unknown_key")


@pytest.mark.parametrize("refusal", ["500", "unknown_signer"])
def test_key_rotation_a_failed_daily_refresh_keeps_the_trusted_keys(fake, state_dir, refusal):
    assert run(fake, state_dir).state is State.VALID
    if refusal == "500":
        fake.keys_mode = "500"
    else:
        fake.published, fake.list_signers = ["k1", "k2"], ["k2"]

    assert run(fake, state_dir, after=timedelta(hours=25)).state is State.VALID
    assert trusted(state_dir) == ["k1"]
    assert run(fake, state_dir, after=timedelta(hours=26)).state is State.VALID
    assert fake.key_requests() == 3  # not refreshed, so tried again on the next check


def test_key_rotation_first_use_needs_a_list_signed_by_one_of_its_own_keys(fake, state_dir):
    fake.list_signers = []

    result = run(fake, state_dir)

    assert (result.state, result.reason) == (State.INVALID, "untrusted_keys")
    assert not list(state_dir.glob("keys-*.json"))


@pytest.mark.parametrize(
    "change",
    [
        lambda listing: {**listing, "document": listing["document"] + " "},  # not canonical
        lambda listing: {k: v for k, v in listing.items() if k != "document"},
        lambda listing: {**listing, "signatures": "k1"},
    ],
)
def test_key_rotation_malformed_list_is_refused(fake, state_dir, change):
    assert run(fake, state_dir).state is State.VALID
    fake.published, fake.signing_key_id = ["k1", "k2"], "k2"
    listing = fake.key_listing()
    fake.key_listing = lambda: change(listing)  # type: ignore[method-assign]

    result = run(fake, state_dir, after=timedelta(minutes=5))

    assert result.state is State.INVALID
    assert trusted(state_dir) == ["k1"]


def test_key_rotation_a_key_file_from_an_older_client_is_fetched_again(fake, state_dir):
    assert run(fake, state_dir).state is State.VALID
    (keys_file,) = state_dir.glob("keys-*.json")
    keys_file.write_text(json.dumps({"keys": [public_entry("k1", fake.private_keys["k1"])]}))
    fake.published = ["k1", "k2"]

    assert run(fake, state_dir, after=timedelta(minutes=5)).state is State.VALID

    assert fake.key_requests() == 2
    assert trusted(state_dir) == ["k1", "k2"]


def test_key_rotation_pinned_keys_are_never_replaced(fake, state_dir):
    pinned = load_public_keys({"keys": [public_entry("k1", fake.private_keys["k1"])]})
    fake.published, fake.signing_key_id = ["k1", "k2"], "k2"

    now = fake.issued_at + timedelta(minutes=1)
    result = check(fake.url, PRODUCT, state_dir=state_dir, timeout=2, keys=pinned, now=now)

    assert (result.state, result.reason) == (State.INVALID, "unknown_key")
    assert fake.key_requests() == 0


# -- trust on first use: only over https, on this machine, or when asked; never after damage ---


@pytest.mark.parametrize(
    "damage",
    ["{not json", '{"keys": []}', '{"keys": "k1"}', "directory"],
    ids=["not_json", "no_keys", "malformed", "unreadable"],
)
def test_key_rotation_a_damaged_key_file_fails_closed_naming_the_file(fake, state_dir, damage):
    assert run(fake, state_dir).state is State.VALID
    (keys_file,) = state_dir.glob("keys-*.json")
    if damage == "directory":
        keys_file.unlink()
        keys_file.mkdir()
    else:
        keys_file.write_text(damage)

    result = run(fake, state_dir, after=timedelta(minutes=5))

    assert (result.state, result.reason) == (State.INVALID, "keys_file_unreadable")
    assert str(keys_file) in result.detail
    assert fake.key_requests() == 1  # not trusted again on first use
    assert keys_file.is_dir() if damage == "directory" else keys_file.read_text() == damage

    fake.stop()
    offline = run(fake, state_dir, after=timedelta(hours=1))
    assert (offline.state, offline.reason) == (State.INVALID, "keys_file_unreadable")
    assert str(keys_file) in offline.detail


REMOTE = "http://licensary.example"


@pytest.fixture
def remote_http(fake, monkeypatch):
    """Serve the fake at a plain http address that is not this machine's."""
    from licensary_client import client as client_module

    real = client_module._request

    def via_fake(url, payload, timeout):
        return real(url.replace(REMOTE, fake.url), payload, timeout)

    monkeypatch.setattr(client_module, "_request", via_fake)
    return fake


def test_key_rotation_first_use_over_plain_http_to_another_host_is_refused(
    remote_http, state_dir, capsys
):
    from licensary_client.cli import main

    now = remote_http.issued_at + timedelta(minutes=1)
    result = check(REMOTE, PRODUCT, state_dir=state_dir, timeout=2, now=now)

    assert (result.state, result.reason) == (State.INVALID, "insecure_first_use")
    assert "--insecure-first-use" in result.detail
    assert remote_http.requests == []
    assert not list(state_dir.glob("keys-*.json"))
    argv = ["check", "--server", REMOTE, "--product", PRODUCT, "--state-dir", str(state_dir)]
    assert main(argv) == 2
    assert remote_http.requests == []

    assert main([*argv, "--insecure-first-use"]) == 0
    assert remote_http.key_requests() == 1
    # Once a key is trusted, plain http is followed like https: rotations must be signed.
    assert main(argv) == 0


def test_key_rotation_insecure_first_use_allowed_in_the_library(remote_http, state_dir):
    now = remote_http.issued_at + timedelta(minutes=1)
    result = check(
        REMOTE, PRODUCT, state_dir=state_dir, timeout=2, now=now, allow_insecure_first_use=True
    )
    assert result.state is State.VALID


def test_key_rotation_pinned_keys_need_no_first_use_over_plain_http(remote_http, state_dir):
    pinned = load_public_keys({"keys": [public_entry("k1", remote_http.private_keys["k1"])]})
    now = remote_http.issued_at + timedelta(minutes=1)

    result = check(REMOTE, PRODUCT, state_dir=state_dir, timeout=2, keys=pinned, now=now)

    assert result.state is State.VALID
    assert remote_http.key_requests() == 0
