"""Staff's governance actions over HTTP."""

from ninja import Router

from licensary.accounts.models import User
from licensary.accounts.policy import account_get_visible, require_staff
from licensary.accounts.schemas import AccountOut, account_out
from licensary.core.http import AuthedRequest
from licensary.core.text import Id
from licensary.governance.bans import account_ban
from licensary.governance.schemas import BanIn

router = Router(tags=["governance"])


@router.post(
    "/accounts/{account_id}/ban",
    response=AccountOut,
    summary="Staff: ban an account (rule 6): licenses canceled, unpaid invoices void, "
    "tokens and sessions ended, nothing refunded",
)
def ban_account(request: AuthedRequest[User], account_id: Id, payload: BanIn) -> dict:
    require_staff(request.auth, "ban accounts")
    account = account_get_visible(user=request.auth, account_id=account_id)
    banned = account_ban(
        account=account,
        actor=request.auth,
        reason=payload.reason,
        note=payload.note,
        cascade=payload.cascade,
    )
    return account_out(banned)
