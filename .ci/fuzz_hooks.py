"""Schemathesis hooks for .ci/fuzz (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """granian (under `licensary serve`) itself refuses a request target over 64 KB (an empty
    414 without a content type, before any of our code runs); such a case tests the server's
    limit, which is on purpose, not Licensary. Anything shorter reaches Licensary, which
    answers it (gunicorn used to cut request lines at 4 KB)."""
    return not (
        response.status_code == 414
        and "problem+json" not in response.headers.get("content-type", [""])[0]
    )
