from typing import Annotated

from ninja import Schema
from pydantic import StrictBool

from licensary.core.text import Printable


class BanIn(Schema):
    reason: Annotated[str, Printable(16)]  # tampering, sharing, fake_identity, support_spam, other
    note: Annotated[str, Printable(300, min_length=1, multiline=True)]
    cascade: StrictBool = False  # an agent's customers banned too
