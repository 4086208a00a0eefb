"""A small Zarinpal payment API v4 on 127.0.0.1, as its documentation describes it.

`POST /pg/v4/payment/request.json` hands out an authority; the payer "pays" when a test calls
`pay(authority)` (what StartPay would do); `POST /pg/v4/payment/verify.json` answers 100 the
first time a paid authority is verified and 101 after, with the same `ref_id`, and Zarinpal's
error codes otherwise: -9 (validation), -10 (merchant unknown), -50 (amounts differ),
-51 (not paid), -54 (invalid authority).
"""

import json
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from tests.json_handler import JsonHandler

MERCHANT_ID = "0c1e5f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
MIN_RIALS = 10_000


class FakeZarinpal(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.payments: dict[str, dict[str, Any]] = {}  # by authority
        self.verify_codes: list[int] = []  # what each verify answered, in order
        # The next N verifications are made, and their answers lost (the connection drops).
        self.lose_next_answer = 0
        self.thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def pay(self, authority: str) -> None:
        """The payer pays at StartPay."""
        with self.lock:
            self.payments[authority]["paid"] = True

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.requests if p == path]


class _Handler(JsonHandler):
    server: FakeZarinpal

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(422, -9, "The input params invalid, validation error.")
        with self.server.lock:
            self.server.requests.append((self.path, body))
            if body.get("merchant_id") != MERCHANT_ID:
                return self._error(
                    401, -10, "Terminal is not valid, please check merchant_id or ip address."
                )
            if self.path == "/pg/v4/payment/request.json":
                return self._request(body)
            if self.path == "/pg/v4/payment/verify.json":
                return self._verify(body)
        return self._error(404, -9, "unknown path")

    def _request(self, body: dict[str, Any]) -> None:
        amount = body.get("amount")
        if not isinstance(amount, int) or amount < MIN_RIALS or not body.get("callback_url"):
            return self._error(422, -9, "The input params invalid, validation error.")
        number = len(self.server.payments) + 1
        authority = f"A{number:035d}"
        self.server.payments[authority] = {
            "amount": amount,
            "currency": body.get("currency", "IRR"),
            "paid": False,
            "verified": False,
            "ref_id": 201_000 + number,
        }
        return self._send(
            200,
            {
                "data": {
                    "code": 100,
                    "message": "Success",
                    "authority": authority,
                    "fee_type": "Merchant",
                    "fee": 100,
                },
                "errors": [],
            },
        )

    def _verify(self, body: dict[str, Any]) -> None:
        payment = self.server.payments.get(str(body.get("authority")))
        if payment is None:
            return self._error(404, -54, "Invalid authority.")
        if body.get("amount") != payment["amount"]:
            return self._error(422, -50, "Session is not valid, amounts values is not the same.")
        if not payment["paid"]:
            return self._error(422, -51, "Session is not valid, session is not active paid try.")
        code = 101 if payment["verified"] else 100
        payment["verified"] = True
        self.server.verify_codes.append(code)
        if self.server.lose_next_answer:
            self.server.lose_next_answer -= 1
            self.close_connection = True  # verified, but the answer never arrives
            return None
        return self._send(
            200,
            {
                "data": {
                    "code": code,
                    "message": "Verified" if code == 100 else "Paid",
                    "card_hash": "1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69",
                    "card_pan": "502229******5995",
                    "ref_id": payment["ref_id"],
                    "fee_type": "Merchant",
                    "fee": 100,
                },
                "errors": [],
            },
        )

    def _error(self, status: int, code: int, message: str) -> None:
        self._send(status, {"data": [], "errors": {"code": code, "message": message}})
