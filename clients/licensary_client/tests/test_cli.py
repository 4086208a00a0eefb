"""The `licensary-client` command: a real subprocess, usage errors and `prove`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PRODUCT
from licensary_client.cli import main


def command() -> list[str]:
    # Prefer the installed console script, which is what operators run.
    script = Path(sys.executable).with_name("licensary-client")
    if script.exists():
        return [str(script)]
    found = shutil.which("licensary-client")
    return [found] if found else [sys.executable, "-m", "licensary_client.cli"]


def run_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        check=False,
    )


def test_subprocess_check_valid_then_down_within_grace(fake, state_dir):
    args = ["check", "--server", fake.url, "--product", PRODUCT, "--state-dir", str(state_dir)]

    valid = run_subprocess(*args, "--json")
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout)["state"] == "valid"

    fake.stop()
    down = run_subprocess(*args)
    assert down.returncode == 3, down.stderr
    assert down.stdout.startswith("unreachable_within_grace: ")
    assert len(down.stdout.strip().splitlines()) == 1


def test_subprocess_no_cache_and_down_exits_4(fake, state_dir):
    fake.stop()

    done = run_subprocess(
        "check", "--server", fake.url, "--product", PRODUCT, "--state-dir", str(state_dir)
    )

    assert done.returncode == 4
    assert done.stdout.startswith("unreachable_past_grace: ")


def test_help_documents_the_exit_codes(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    for line in ["0  valid", "1  not_active", "2  invalid", "3  unreachable_within_grace"]:
        assert line in out
    assert "4  unreachable_past_grace" in out
    assert "64  usage error" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["check", "--product", PRODUCT],
        ["check", "--server", "http://127.0.0.1:9", "--product", "bad slug!"],
        ["check", "--server", "ftp://example.org", "--product", PRODUCT],
        ["check", "--server", "http://127.0.0.1:9", "--product", PRODUCT, "--grace-hours", "-1"],
        ["check", "--server", "http://127.0.0.1:9", "--product", PRODUCT, "--keys", "/nope"],
        ["prove", "no-dot-here", "--server", "http://127.0.0.1:9"],
        ["prove", "clm.", "--server", "http://127.0.0.1:9"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_64(argv, capsys, tmp_path):
    assert main([*argv]) == 64
    assert capsys.readouterr().err


def test_prove_posts_the_challenge_to_the_claim(fake, capsys):
    code = main(["prove", "clm_123.s3cr3t-Value", "--server", fake.url + "/"])

    assert code == 0
    assert fake.requests == [
        ("POST", "/api/v1/claims/clm_123/proof", {"challenge": "clm_123.s3cr3t-Value"})
    ]
    assert json.loads(capsys.readouterr().out) == {"status": "proven"}


def test_prove_refused_prints_the_problem_code(fake, capsys):
    fake.claim_status = 409
    fake.claim_body = {"code": "claim_expired", "title": "The claim has expired"}

    code = main(["prove", "clm_123.s3cr3t", "--server", fake.url])

    assert code == 1
    captured = capsys.readouterr()
    assert "claim_expired" in captured.err
    assert "HTTP 409" in captured.err


def test_prove_against_a_down_server_is_unavailable(fake, capsys):
    fake.stop()

    assert main(["prove", "clm_123.s3cr3t", "--server", fake.url]) == 69
    assert "unreachable" in capsys.readouterr().err


def test_prove_as_a_subprocess(fake):
    done = run_subprocess("prove", "clm_9.abc", "--server", fake.url)

    assert done.returncode == 0, done.stderr
    assert fake.requests == [("POST", "/api/v1/claims/clm_9/proof", {"challenge": "clm_9.abc"})]
