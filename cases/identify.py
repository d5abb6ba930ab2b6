"""Who wrote this? Linking the prospect made for an unknown sender to the right customer.

Intake makes an unverified prospect for a sender it cannot tell (`intake.Prospect`) and
raises a "to-identify" exception on the prospect's case. An agent names the customer; the
prospect is merged into it (`customers.merging.customer_merge`, which moves the contact point,
the interactions and, through `customer_merging`, the case), the exception is decided and the
case gets a note. The merge stays reversible with `customer_merge_undo`.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cases.intake import IDENTIFY_SOURCE
from cases.models import ExceptionItem
from cases.services import CaseActionError, CaseConflict, case_note_add, exception_decide
from customers.merging import customer_merge
from customers.models import CustomerStatus
from customers.selectors import customer_identify

REFERENCE_MAX_LENGTH = 200


class CustomerNotFound(CaseActionError):
    status = 404


@transaction.atomic
def identify_link(
    *, item: ExceptionItem, customer_reference: str, by: AbstractBaseUser
) -> ExceptionItem:
    """Merge the prospect of a "to-identify" item into the customer that `customer_reference`
    names exactly (customer number, phone number, e-mail address, contract number or IBAN),
    decide the item and note it on the case; all or nothing."""
    # Locked first: of two agents linking at once, the second waits and then finds it decided.
    item = (
        ExceptionItem.objects.select_for_update(of=("self",))
        .select_related("case__customer")
        .get(pk=item.pk)
    )
    if item.source != IDENTIFY_SOURCE or item.case is None:
        raise CaseActionError(_("This item is not a sender to identify."))
    if item.decided_at is not None:
        raise CaseConflict(_("Someone else decided this meanwhile; nothing was changed."))
    prospect = item.case.customer
    if (
        prospect.status != CustomerStatus.PROSPECT
        or prospect.merged_into_id is not None
        or prospect.erased_at is not None
    ):
        raise CaseConflict(
            _("%(number)s is not an unverified prospect any more; nothing was changed.")
            % {"number": prospect.number}
        )
    query = customer_reference.replace("\x00", "").strip()[:REFERENCE_MAX_LENGTH]
    if not query:
        raise CaseActionError(_("Enter a customer number, phone number or e-mail address."))
    target = customer_identify(query=query)
    if target is None:
        raise CustomerNotFound(
            _("No customer has the number, phone number or e-mail address %(query)s.")
            % {"query": query}
        )
    if target.pk == prospect.pk:
        raise CaseActionError(
            _("%(query)s is the prospect itself; enter the customer who wrote.") % {"query": query}
        )
    if target.merged_into_id is not None or target.erased_at is not None:
        raise CaseConflict(
            _("Customer %(number)s was merged or erased already.") % {"number": target.number}
        )
    try:
        customer_merge(source=prospect, target=target, by=by)
    except ValidationError as error:  # someone merged or erased one of them meanwhile
        raise CaseConflict(" ".join(error.messages)) from None
    item.case.refresh_from_db(fields=["customer"])  # the merge moved the case to the target
    names = {"name": target.name, "number": target.number}
    item = exception_decide(item=item, by=by, decision=_("Linked to %(name)s %(number)s") % names)
    case_note_add(
        case=item.case,
        by=by,
        text=_("Sender identified as %(name)s %(number)s by %(user)s.")
        % {**names, "user": by.get_username()},
    )
    return item
