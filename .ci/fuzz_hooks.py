"""Schemathesis hooks for .ci/fuzz (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """gunicorn itself refuses a request line over 4 KB (its own HTML 414, before any of our
    code runs); such a case tests gunicorn's limit, which is on purpose, not Licensary."""
    return not (
        response.status_code == 414
        and "problem+json" not in response.headers.get("content-type", [""])[0]
    )
