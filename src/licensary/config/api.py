"""The one NinjaAPI: /api/v1/..., OpenAPI at /api/openapi.json, docs at /api/docs."""

from typing import Any

from ninja import NinjaAPI

from licensary.accounts.agents_api import router as agents_router
from licensary.accounts.api import router as accounts_router
from licensary.accounts.auth import AUTH
from licensary.accounts.identity_api import router as identity_router
from licensary.accounts.tokens_api import router as tokens_router
from licensary.billing.api import router as billing_router
from licensary.billing.payments_api import router as payments_router
from licensary.billing.receipts_api import router as receipts_router
from licensary.billing.statement_api import router as statement_router
from licensary.catalog.api import router as catalog_router
from licensary.catalog.prices_api import router as prices_router
from licensary.core.api import JsonParser, document_problems, install_error_handlers
from licensary.governance.api import router as governance_router
from licensary.licenses.api import router as licenses_router
from licensary.notifications.api import router as notifications_router
from licensary.orders.api import router as orders_router
from licensary.suppliers.api import router as suppliers_router
from licensary.support.api import router as support_router
from licensary.verification.api import router as verification_router


class LicensaryApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        return document_problems(super().get_openapi_schema(**kwargs))


api = LicensaryApi(
    title="Licensary API",
    version="1",
    description="Licenses, orders, invoices and credit. See API.md for the contract.",
    auth=AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=JsonParser(),
)
install_error_handlers(api)
api.add_router("/v1/", accounts_router)
api.add_router("/v1/", tokens_router)
api.add_router("/v1/", identity_router)
api.add_router("/v1/", agents_router)
api.add_router("/v1/", catalog_router)
api.add_router("/v1/", prices_router)
api.add_router("/v1/", billing_router)
api.add_router("/v1/", payments_router)
api.add_router("/v1/", receipts_router)
api.add_router("/v1/", statement_router)
api.add_router("/v1/", orders_router)
api.add_router("/v1/", licenses_router)
api.add_router("/v1/", verification_router)
api.add_router("/v1/", suppliers_router)
api.add_router("/v1/", governance_router)
api.add_router("/v1/", support_router)
api.add_router("/v1/", notifications_router)
