"""`check()` against a real local server: every state, and the CLI exit code for the same case."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import PRODUCT, FakeLicensary, canonical, public_entry
from licensary_client import CheckResult, State, check, load_public_keys, verify_document
from licensary_client.cli import main


def run(fake: FakeLicensary, state_dir: Path, **kwargs: Any) -> CheckResult:
    kwargs.setdefault("now", fake.issued_at + timedelta(minutes=1))
    return check(fake.url, PRODUCT, state_dir=state_dir, timeout=2, **kwargs)


def cli(
    fake: FakeLicensary, state_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        ["check", "--server", fake.url, "--product", PRODUCT, "--state-dir", str(state_dir)]
        + ["--timeout", "2", "--json", *extra]
    )
    out = capsys.readouterr().out
    return code, json.loads(out)


def cached_file(state_dir: Path) -> Path:
    (path,) = state_dir.glob("document-*.json")
    return path


def down_now(fake: FakeLicensary, hours: float) -> Any:
    return fake.issued_at + timedelta(hours=hours)


# -- online answers ---------------------------------------------------------------------------


def test_active_license_is_valid_and_cached_privately(fake, state_dir, capsys):
    result = run(fake, state_dir)

    assert result.state is State.VALID
    assert result.reason == "active"
    assert result.licensed and result.exit_code == 0
    assert result.document["license"] == "lic_alice_1"
    assert result.document["product"] == PRODUCT
    method, path, body = fake.requests[-1]
    assert (method, path) == ("POST", "/api/v1/verify")
    assert body["product"] == PRODUCT
    assert 16 <= len(body["nonce"]) <= 128
    assert stat.S_IMODE(cached_file(state_dir).stat().st_mode) == 0o600
    (keys_file,) = state_dir.glob("keys-*.json")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600

    code, payload = cli(fake, state_dir, capsys)
    assert code == 0
    assert payload["state"] == "valid"
    assert payload["license"] == "lic_alice_1"


def test_every_check_sends_a_new_nonce(fake, state_dir):
    run(fake, state_dir)
    run(fake, state_dir)

    nonces = [body["nonce"] for method, _, body in fake.requests if method == "POST"]
    assert len(nonces) == 2 and nonces[0] != nonces[1]


@pytest.mark.parametrize("status", ["blocked", "canceled", "deleted", "unknown"])
def test_license_that_is_not_active_is_not_valid(fake, state_dir, capsys, status):
    fake.status = status

    result = run(fake, state_dir)

    assert result.state is State.NOT_ACTIVE
    assert result.reason == status
    assert not result.licensed
    code, payload = cli(fake, state_dir, capsys)
    assert code == 1
    assert payload["status"] == status


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
def test_one_changed_byte_in_the_document_is_invalid(fake, state_dir, capsys, fraction):
    length = len(canonical(fake.document_for(PRODUCT, "n" * 43)))
    fake.mode = "tamper"
    fake.tamper_index = min(int(fraction * length), length - 1)

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "bad_signature"
    assert not list(state_dir.glob("document-*.json"))
    code, payload = cli(fake, state_dir, capsys)
    assert code == 2
    assert payload["reason"] == "bad_signature"


def test_document_signed_by_an_unknown_key_is_invalid(fake, state_dir, capsys):
    fake.mode = "unknown_key"

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "unknown_key"
    assert cli(fake, state_dir, capsys)[0] == 2


def test_answer_for_another_nonce_is_invalid(fake, state_dir, capsys):
    fake.mode = "wrong_nonce"

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "nonce_mismatch"
    assert cli(fake, state_dir, capsys)[0] == 2


def test_issued_at_going_backwards_is_a_rollback(fake, state_dir, capsys):
    assert run(fake, state_dir).state is State.VALID
    stored = cached_file(state_dir).read_bytes()
    fake.issued_at -= timedelta(seconds=1)

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "rollback"
    assert cached_file(state_dir).read_bytes() == stored
    assert cli(fake, state_dir, capsys)[0] == 2


def test_same_issued_at_again_is_not_a_rollback(fake, state_dir):
    assert run(fake, state_dir).state is State.VALID

    assert run(fake, state_dir).state is State.VALID


def test_document_for_another_product_is_invalid(fake, state_dir, capsys):
    fake.product = "other-product"

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "product_mismatch"
    assert cli(fake, state_dir, capsys)[0] == 2


def test_document_for_another_ip_is_invalid_when_the_ip_is_expected(fake, state_dir, capsys):
    fake.ip = "203.0.113.7"

    result = run(fake, state_dir, expected_ip="127.0.0.1")

    assert result.state is State.INVALID
    assert result.reason == "ip_mismatch"
    assert cli(fake, state_dir, capsys, "--ip", "127.0.0.1")[0] == 2


def test_document_for_another_machines_ip_is_invalid_without_an_expected_ip(
    fake, state_dir, capsys
):
    # A licensed machine X relays the request of an unlicensed Y: the answer carries Y's fresh
    # nonce but X's address, which is not one of Y's.
    fake.ip = "203.0.113.7"

    result = run(fake, state_dir)

    assert (result.state, result.reason) == (State.INVALID, "ip_mismatch")
    assert "--ip" in result.detail
    assert not list(state_dir.glob("document-*.json"))
    assert cli(fake, state_dir, capsys)[0] == 2


def test_behind_nat_the_expected_ip_admits_the_public_address(fake, state_dir, capsys):
    fake.ip = "203.0.113.7"

    assert run(fake, state_dir, expected_ip="203.0.113.7").state is State.VALID
    assert cli(fake, state_dir, capsys, "--ip", "203.0.113.7")[0] == 0


def test_a_cached_document_for_another_machine_is_refused_offline(fake, state_dir):
    # The outage path checks the copied file the same way: X's cache on Y does not license Y.
    fake.ip = "203.0.113.7"
    assert run(fake, state_dir, expected_ip="203.0.113.7").state is State.VALID
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 1))

    assert (result.state, result.reason) == (State.INVALID, "ip_mismatch")


def test_a_document_for_this_machines_address_is_valid_without_an_expected_ip(fake, state_dir):
    assert fake.ip == "127.0.0.1"
    assert run(fake, state_dir).state is State.VALID


def test_an_expected_ip_that_is_not_an_address_is_a_usage_error(fake, state_dir, capsys):
    with pytest.raises(ValueError, match="expected_ip"):
        run(fake, state_dir, expected_ip="example.com")
    argv = ["check", "--server", fake.url, "--product", PRODUCT, "--state-dir", str(state_dir)]
    assert main([*argv, "--ip", "not-an-ip"]) == 64


def test_answer_without_document_signature_and_key_id_strings_is_invalid(fake, state_dir):
    fake.mode = "bad_envelope"

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "malformed_document"


def test_issued_at_far_in_the_future_is_invalid(fake, state_dir):
    now = fake.issued_at - timedelta(minutes=11)

    result = run(fake, state_dir, now=now)

    assert result.state is State.INVALID
    assert result.reason == "issued_in_future"


def test_issued_at_slightly_ahead_within_the_skew_is_valid(fake, state_dir):
    result = run(fake, state_dir, now=fake.issued_at - timedelta(minutes=9))

    assert result.state is State.VALID


def test_fresh_answer_issued_longer_ago_than_the_grace_is_stale(fake, state_dir, capsys):
    now = fake.issued_at + timedelta(hours=72, seconds=1)

    result = run(fake, state_dir, now=now)

    assert (result.state, result.reason) == (State.INVALID, "stale_document")
    assert not list(state_dir.glob("document-*.json"))
    assert run(fake, state_dir, now=fake.issued_at + timedelta(hours=72)).state is State.VALID


def test_stale_bound_follows_a_custom_grace(fake, state_dir, capsys):
    grace = timedelta(hours=1)
    assert run(fake, state_dir, grace=grace, now=fake.issued_at + timedelta(minutes=59)).licensed
    late = run(fake, state_dir, grace=grace, now=fake.issued_at + timedelta(minutes=61))
    assert late.reason == "stale_document"
    fake.issued_at -= timedelta(hours=2)  # the real clock is one minute after the original one
    code, payload = cli(fake, state_dir, capsys, "--grace-hours", "1")
    assert (code, payload["reason"]) == (2, "stale_document")


def test_a_zero_grace_still_tolerates_max_skew(fake, state_dir):
    zero = timedelta(0)
    assert run(fake, state_dir, grace=zero, now=fake.issued_at + timedelta(minutes=9)).licensed
    late = run(fake, state_dir, grace=zero, now=fake.issued_at + timedelta(minutes=11))
    assert late.reason == "stale_document"


# -- outages ----------------------------------------------------------------------------------


def test_server_down_within_grace_keeps_the_license(fake, state_dir, capsys):
    assert run(fake, state_dir).state is State.VALID
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 71))

    assert result.state is State.UNREACHABLE_WITHIN_GRACE
    assert result.licensed and result.from_cache
    assert result.grace_until == fake.issued_at + timedelta(hours=72)
    code, payload = cli(fake, state_dir, capsys)
    assert code == 3
    assert payload["state"] == "unreachable_within_grace"


@pytest.mark.parametrize("mode", ["500", "429"])
def test_server_error_or_rate_limit_counts_as_unreachable(fake, state_dir, capsys, mode):
    assert run(fake, state_dir).state is State.VALID
    fake.mode = mode

    result = run(fake, state_dir, now=down_now(fake, 1))

    assert result.state is State.UNREACHABLE_WITHIN_GRACE
    assert ("rate_limited" in result.detail) is (mode == "429")
    assert cli(fake, state_dir, capsys)[0] == 3


def test_grace_ends_exactly_grace_after_the_last_issued_at(fake, state_dir):
    run(fake, state_dir)
    fake.stop()

    at_edge = run(fake, state_dir, now=down_now(fake, 72))
    past = run(fake, state_dir, now=down_now(fake, 72) + timedelta(seconds=1))

    assert at_edge.state is State.UNREACHABLE_WITHIN_GRACE
    assert past.state is State.UNREACHABLE_PAST_GRACE
    assert past.reason == "past_grace"
    assert not past.licensed


def test_server_down_past_grace_stops(fake, state_dir, capsys):
    run(fake, state_dir)
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 100))

    assert result.state is State.UNREACHABLE_PAST_GRACE
    assert result.exit_code == 4


def test_server_down_past_grace_cli_exits_4(fake, state_dir, capsys):
    fake.issued_at -= timedelta(hours=80)
    run(fake, state_dir, now=fake.issued_at)
    fake.stop()

    code, payload = cli(fake, state_dir, capsys)

    assert code == 4
    assert payload["reason"] == "past_grace"


def test_custom_grace_is_honoured(fake, state_dir, capsys):
    fake.issued_at -= timedelta(hours=2)
    run(fake, state_dir, now=fake.issued_at)
    fake.stop()

    assert cli(fake, state_dir, capsys, "--grace-hours", "1")[0] == 4
    assert cli(fake, state_dir, capsys, "--grace-hours", "3")[0] == 3


def test_grace_never_outlives_valid_until(fake, state_dir):
    fake.valid_until = fake.issued_at + timedelta(hours=10)
    run(fake, state_dir)
    fake.stop()

    before = run(fake, state_dir, now=down_now(fake, 9))
    after = run(fake, state_dir, now=down_now(fake, 11))

    assert before.state is State.UNREACHABLE_WITHIN_GRACE
    assert after.state is State.UNREACHABLE_PAST_GRACE


def test_no_cache_and_server_down_stops(fake, state_dir, capsys):
    fake.stop()

    result = run(fake, state_dir)

    assert result.state is State.UNREACHABLE_PAST_GRACE
    assert result.reason == "no_trusted_keys"
    code, payload = cli(fake, state_dir, capsys)
    assert code == 4


def test_no_cache_with_pinned_keys_and_server_down_stops(fake, state_dir):
    keys = load_public_keys(fake.key_listing())
    fake.stop()

    result = run(fake, state_dir, keys=keys)

    assert result.state is State.UNREACHABLE_PAST_GRACE
    assert result.reason == "no_cached_document"


def test_blocked_then_server_down_does_not_resurrect_the_license(fake, state_dir, capsys):
    run(fake, state_dir)
    fake.status = "blocked"
    assert run(fake, state_dir).state is State.NOT_ACTIVE
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 1))

    assert result.state is State.UNREACHABLE_PAST_GRACE
    assert result.reason == "cached_not_active"
    assert cli(fake, state_dir, capsys)[0] == 4


def _push_issued_at_forward(stored: dict[str, Any]) -> None:
    doc = json.loads(stored["document"])
    doc["issued_at"] = "2099-01-01T00:00:00Z"
    stored["document"] = canonical(doc)


def _flip_last_byte(stored: dict[str, Any]) -> None:
    text = stored["document"]
    stored["document"] = text[:-2] + chr(ord(text[-2]) ^ 1) + text[-1]


def _break_signature(stored: dict[str, Any]) -> None:
    stored["signature"] = stored["signature"][:10] + "AAAA" + stored["signature"][14:]


def _rename_key(stored: dict[str, Any]) -> None:
    stored["key_id"] = "rogue"


def _drop_signature(stored: dict[str, Any]) -> None:
    stored["signature"] = None


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_push_issued_at_forward, "bad_signature"),
        (_flip_last_byte, "bad_signature"),
        (_break_signature, "bad_signature"),
        (_rename_key, "unknown_key"),
        (_drop_signature, "malformed_document"),
    ],
)
def test_cached_document_tampered_on_disk_is_not_trusted(fake, state_dir, capsys, tamper, reason):
    run(fake, state_dir)
    path = cached_file(state_dir)
    stored = json.loads(path.read_text())
    tamper(stored)
    path.write_text(json.dumps(stored))
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 1))

    assert result.state is State.INVALID
    assert result.reason == reason
    assert not result.licensed
    assert cli(fake, state_dir, capsys)[0] == 2


def test_cached_document_that_is_not_json_is_not_trusted(fake, state_dir, capsys):
    run(fake, state_dir)
    cached_file(state_dir).write_text("{not json")
    fake.stop()

    result = run(fake, state_dir, now=down_now(fake, 1))

    assert result.state is State.INVALID
    assert result.reason == "cached_document_unreadable"


def test_damaged_cache_is_replaced_by_the_next_good_answer(fake, state_dir):
    run(fake, state_dir)
    cached_file(state_dir).write_text("{not json")

    assert run(fake, state_dir).state is State.VALID
    fake.stop()
    assert run(fake, state_dir, now=down_now(fake, 1)).state is State.UNREACHABLE_WITHIN_GRACE


# -- keys -------------------------------------------------------------------------------------


def test_keys_are_fetched_once_and_then_trusted_from_the_cache(fake, state_dir):
    for _ in range(3):
        assert run(fake, state_dir).state is State.VALID

    key_requests = [r for r in fake.requests if r[1] == "/api/v1/verify/keys"]
    assert len(key_requests) == 1


def test_server_that_later_publishes_another_key_is_not_believed(fake, state_dir):
    # A hostile server at the same address (hosts file, DNS) would publish its own key: the
    # cached keys from first use must win.
    assert run(fake, state_dir).state is State.VALID
    fake.published = ["k2"]
    fake.signing_key_id = "k2"

    result = run(fake, state_dir)

    assert result.state is State.INVALID
    assert result.reason == "unknown_key"


def test_key_rotation_old_document_still_verifies(fake, state_dir):
    fake.published = ["k1", "k2"]
    assert run(fake, state_dir).state is State.VALID
    old_answer = fake.answers[-1]
    assert old_answer["key_id"] == "k1"

    fake.signing_key_id = "k2"
    fake.issued_at += timedelta(minutes=5)
    assert run(fake, state_dir, now=fake.issued_at).state is State.VALID
    assert fake.answers[-1]["key_id"] == "k2"

    (keys_file,) = state_dir.glob("keys-*.json")
    cached_keys = load_public_keys(json.loads(keys_file.read_text()))
    fields = verify_document(
        old_answer["document"], old_answer["signature"], old_answer["key_id"], cached_keys
    )
    assert fields["product"] == PRODUCT
    fake.stop()
    assert run(fake, state_dir, now=down_now(fake, 1)).state is State.UNREACHABLE_WITHIN_GRACE


def test_pinned_keys_after_rotation_accept_a_cache_signed_by_the_old_key(
    fake, state_dir, tmp_path, capsys
):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(
        json.dumps({"keys": [public_entry(kid, fake.private_keys[kid]) for kid in ("k1", "k2")]})
    )
    fake.published = ["k2"]  # the server already moved on; the client pins both
    code, payload = cli(fake, state_dir, capsys, "--keys", str(keys_file))
    assert (code, payload["state"]) == (0, "valid")
    assert fake.answers[-1]["key_id"] == "k1"
    assert not [r for r in fake.requests if r[1] == "/api/v1/verify/keys"]

    fake.signing_key_id = "k2"
    fake.stop()

    code, payload = cli(fake, state_dir, capsys, "--keys", str(keys_file))
    assert (code, payload["state"]) == (3, "unreachable_within_grace")


def test_pinned_keys_refuse_a_document_signed_by_another_listed_key(fake, state_dir):
    only_k2 = load_public_keys({"keys": [public_entry("k2", fake.private_keys["k2"])]})

    result = run(fake, state_dir, keys=only_k2)

    assert result.state is State.INVALID
    assert result.reason == "unknown_key"
