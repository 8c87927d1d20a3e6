"""Refusals of the decision rules: each class names one rule of SPEC §3.

Pure: a `RuleBroken` is a `service.errors.DocketError` whose problem type is its rule's;
the one problem handler renders it (409, or 404 for `request-not-found`).
"""

from __future__ import annotations

from typing import Any

from service.errors import DocketError

#: rule name -> its error class, for OpenAPI listings and tests.
RULES: dict[str, type[RuleBroken]] = {}


class RuleBroken(DocketError):
    """A command that breaks a rule: nothing is written."""

    status = 409
    slug = "rule-broken"
    rule: str = "rule-broken"
    title = "A rule of the procedure was broken"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RULES[cls.rule] = cls

    def __init__(self, detail: str) -> None:
        # the rule, status and title are the class's: an instance only says what happened
        super().__init__(detail)


class RequestNotFound(RuleBroken):
    status, rule, title = 404, "request-not-found", "No such request"


class RequestAlreadyExists(RuleBroken):
    rule, title = "request-already-exists", "A request with this id already exists"


class OccurredBeforeLastEvent(RuleBroken):
    rule, title = "occurred-before-last-event", "occurred_at is before the stream's last event"


class OccurredInFuture(RuleBroken):
    rule, title = "occurred-in-future", "occurred_at is in the future"


class ProcedureMustBeOpen(RuleBroken):
    rule, title = "procedure-must-be-open", "No procedure is open on this request"


class AlreadyCirculated(RuleBroken):
    rule, title = "already-circulated", "The open procedure has already been circulated"


class DeadlineBeforeCirculation(RuleBroken):
    rule, title = "deadline-before-circulation", "The deadline is not after the circulation"


class HoldRequiresCirculation(RuleBroken):
    rule, title = "hold-requires-circulation", "A hold needs a circulated procedure"


class HoldRequiresSeatedMember(RuleBroken):
    rule, title = "hold-requires-seated-member", "Only a seated member may place a hold"


class OneActiveHoldPerMember(RuleBroken):
    rule, title = "one-active-hold-per-member", "This member already holds the request"


class ReleaseOnlyByHolder(RuleBroken):
    rule, title = "release-only-by-holder", "Only the member that placed a hold can release it"


class InformationRequestRequiresCirculation(RuleBroken):
    rule = "information-request-requires-circulation"
    title = "An information request needs a circulated procedure"


class InformationRequestRequiresSeatedMember(RuleBroken):
    rule = "information-request-requires-seated-member"
    title = "Only a seated member or the committee may request information"


class InformationResponseRequiresPendingRequest(RuleBroken):
    rule = "information-response-requires-pending-request"
    title = "No information request is awaiting an answer"


class ApprovalRequiresCirculation(RuleBroken):
    rule, title = "approval-requires-circulation", "The procedure has not been circulated"


class ApprovalRequiresDeadlinePassed(RuleBroken):
    rule, title = "approval-requires-deadline-passed", "The no-objection deadline has not passed"


class ApprovalBlockedByHold(RuleBroken):
    rule, title = "approval-blocked-by-hold", "A member holds the request"


class ApprovalBlockedByInformationRequest(RuleBroken):
    rule = "approval-blocked-by-information-request"
    title = "An information request is unanswered"


class ValidityMonthsNotAllowed(RuleBroken):
    rule, title = "validity-months-not-allowed", "Validity is the standard or extended period"


class ExtendedValidityRequiresJustification(RuleBroken):
    rule = "extended-validity-requires-justification"
    title = "Extended validity needs the applicant's justification"


class DecisionFieldNotApplicable(RuleBroken):
    rule, title = "decision-field-not-applicable", "A field does not apply to this procedure"


class ExtensionMustExtendValidity(RuleBroken):
    rule, title = "extension-must-extend-validity", "The new end of validity is not later"


class ChangeRequiresApprovedExemption(RuleBroken):
    rule = "change-requires-approved-exemption"
    title = "Only an approved exemption can be extended, amended or shipped under"


class ChangeRequiresUnexpiredExemption(RuleBroken):
    rule, title = "change-requires-unexpired-exemption", "The exemption has expired"


class OneOpenProcedure(RuleBroken):
    rule, title = "one-open-procedure", "Another procedure is open on this request"


class WithdrawalRequiresUndecidedRequest(RuleBroken):
    rule = "withdrawal-requires-undecided-request"
    title = "The request has been finally decided and no procedure is open"


class ShipmentOutsideValidity(RuleBroken):
    rule, title = "shipment-outside-validity", "The exemption is not valid on the shipment date"


class ShipmentNumberOutOfRange(RuleBroken):
    rule, title = "shipment-number-out-of-range", "Shipments are numbered 1 to the number allowed"


class DuplicateShipmentNumber(RuleBroken):
    rule, title = "duplicate-shipment-number", "This shipment has already been recorded"


class ShipmentsExhausted(RuleBroken):
    rule, title = "shipments-exhausted", "Every allowed shipment has been recorded"


class TargetNotInStream(RuleBroken):
    rule, title = "target-not-in-stream", "The target position is not an event of this request"


class AlreadyRetracted(RuleBroken):
    rule, title = "already-retracted", "The target has already been retracted"


class SubmissionCannotBeRetracted(RuleBroken):
    rule = "submission-cannot-be-retracted"
    title = "A submission cannot be retracted; withdraw the request instead"


class RetractionCannotBeRetracted(RuleBroken):
    rule, title = "retraction-cannot-be-retracted", "A retraction cannot itself be retracted"


class MemberAlreadySeated(RuleBroken):
    rule, title = "member-already-seated", "The member already holds a seat in that term"


class DepartureRequiresSeatedMember(RuleBroken):
    rule, title = "departure-requires-seated-member", "The member holds no seat to leave"
