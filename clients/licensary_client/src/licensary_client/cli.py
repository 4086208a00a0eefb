"""The ``licensary-client`` command: ``check`` a license, ``prove`` ownership of a claim."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import NoReturn

from . import __version__
from .client import (
    DEFAULT_GRACE,
    DEFAULT_MAX_SKEW,
    DEFAULT_TIMEOUT,
    Client,
    ServerUnreachable,
    post_json,
    problem_code,
)
from .document import MalformedKeys, load_public_keys

EXIT_USAGE = 64  # sysexits EX_USAGE
EXIT_PROVE_REFUSED = 1
EXIT_PROVE_UNREACHABLE = 69  # sysexits EX_UNAVAILABLE

CHECK_EXIT_CODES = """\
exit codes of check:
  0  valid                     the server says the license is active
  1  not_active                the license is blocked, canceled, deleted or unknown
  2  invalid                   refused answer or cached proof: bad signature, unknown key
                               (or a key list no trusted key signed), wrong nonce, rollback
                               of issued_at, malformed document, product or IP mismatch,
                               issued_at too far in the future or older than the grace,
                               a damaged keys file, first use over plain http refused
  3  unreachable_within_grace  server unreachable; the cached active document is inside the
                               grace period: still licensed, keep running
  4  unreachable_past_grace    server unreachable and no usable cached proof, grace over,
                               valid_until passed or last known status not active: stop
 64  usage error
"""

PROVE_EXIT_CODES = """\
exit codes of prove:
  0  the server accepted the proof (any 2xx)
  1  the server refused it (the problem code is printed)
 64  usage error (for example a challenge that is not CLAIM_ID.SECRET)
 69  the server could not be reached
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    # argparse exits with 2 on bad arguments, which would read as "invalid license" here.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from exc
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="licensary-client",
        description="Verify this server's Licensary license, or prove ownership of a claim.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CHECK_EXIT_CODES + "\n" + PROVE_EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="ask the server whether this machine is licensed",
        description="Ask the Licensary server whether this machine holds an active license. "
        "Falls back to the last signed answer (verified again) while the server is down.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CHECK_EXIT_CODES,
    )
    check.add_argument("--server", required=True, help="base URL, e.g. https://licensary.example")
    check.add_argument("--product", required=True, help="product slug")
    check.add_argument(
        "--state-dir",
        default="~/.licensary-client",
        help="folder for cached keys and the last signed answer (default: %(default)s)",
    )
    check.add_argument(
        "--grace-hours",
        type=_non_negative,
        default=DEFAULT_GRACE.total_seconds() / 3600,
        help="how long after the last good answer an outage is tolerated (default: %(default)g)",
    )
    check.add_argument(
        "--keys",
        metavar="FILE",
        help="pin public keys: a JSON file shaped like GET /api/v1/verify/keys, never replaced "
        "(without it the server's keys are trusted on first use, over https or to this "
        "machine unless --insecure-first-use, cached, and followed through rotations signed by "
        "a trusted key)",
    )
    check.add_argument(
        "--max-skew-seconds",
        type=_non_negative,
        default=DEFAULT_MAX_SKEW.total_seconds(),
        help="how far issued_at may be ahead of the local clock (default: %(default)g)",
    )
    check.add_argument(
        "--timeout",
        type=_non_negative,
        default=DEFAULT_TIMEOUT,
        help="seconds per HTTP request (default: %(default)g)",
    )
    check.add_argument(
        "--ip",
        help="the public address the server sees for this machine; documents for any other IP "
        "are refused (without it a document must name an address of this machine's own "
        "interfaces, so behind NAT, a proxy or in a container pass it)",
    )
    check.add_argument(
        "--insecure-first-use",
        action="store_true",
        help="allow trusting the key list on first use from a plain http server that is not "
        "this machine (anyone on the path could answer it; prefer https or --keys)",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON")

    prove = commands.add_parser(
        "prove",
        help="prove from this machine that you control its IP address (claims)",
        description="Send a claim challenge to the server from this machine: the source address "
        "of the request is the proof.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=PROVE_EXIT_CODES,
    )
    prove.add_argument("challenge", help="the challenge shown by Licensary: CLAIM_ID.SECRET")
    prove.add_argument("--server", required=True, help="base URL, e.g. https://licensary.example")
    prove.add_argument(
        "--timeout",
        type=_non_negative,
        default=DEFAULT_TIMEOUT,
        help="seconds (default: %(default)g)",
    )
    return parser


def _run_check(args: argparse.Namespace) -> int:
    keys = None
    if args.keys:
        try:
            listing = json.loads(Path(args.keys).expanduser().read_text(encoding="utf-8"))
            keys = load_public_keys(listing)
        except (OSError, ValueError, MalformedKeys) as exc:
            raise UsageError(f"cannot read keys from {args.keys}: {exc}") from exc
        if not keys:
            raise UsageError(f"{args.keys} lists no Ed25519 key")
    try:
        client = Client(
            args.server,
            args.product,
            state_dir=args.state_dir,
            grace=timedelta(hours=args.grace_hours),
            keys=keys,
            timeout=args.timeout,
            max_skew=timedelta(seconds=args.max_skew_seconds),
            expected_ip=args.ip,
            allow_insecure_first_use=args.insecure_first_use,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    result = client.check()
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        print(result.summary())
    return result.exit_code


def _run_prove(args: argparse.Namespace) -> int:
    claim_id, dot, secret = args.challenge.strip().partition(".")
    if not dot or not claim_id or not secret or any(ch.isspace() for ch in args.challenge.strip()):
        raise UsageError("the challenge must look like CLAIM_ID.SECRET")
    if urllib.parse.urlsplit(args.server).scheme not in ("http", "https"):
        raise UsageError(f"server URL must start with http:// or https://: {args.server!r}")
    url = f"{args.server.rstrip('/')}/api/v1/claims/{urllib.parse.quote(claim_id, safe='')}/proof"
    try:
        status, body = post_json(url, {"challenge": args.challenge.strip()}, timeout=args.timeout)
    except ServerUnreachable as exc:
        print(f"unreachable: {exc}", file=sys.stderr)
        return EXIT_PROVE_UNREACHABLE
    text = body.decode("utf-8", errors="replace").strip()
    if text:
        print(text)
    if 200 <= status < 300:
        return 0
    print(f"refused: HTTP {status} {problem_code(body) or '(no problem code)'}", file=sys.stderr)
    return EXIT_PROVE_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``licensary-client``; returns the exit code (see ``--help``)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "check":
            return _run_check(args)
        return _run_prove(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
