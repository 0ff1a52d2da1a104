"""Every witness-log tag, `source:subject:action`. One enum, documented in docs/records.md.

Each package adds its tags here (and a line in docs/records.md) — nowhere else.
"""
from __future__ import annotations

from enum import StrEnum


class Tag(StrEnum):
    # accounts
    ACCOUNT_ORG_REGISTER = "account:org:register"
    ACCOUNT_ORG_APPROVE = "account:org:approve"
    ACCOUNT_USER_CREATE = "account:user:create"
    ACCOUNT_LOGIN_FAIL = "account:login:fail"
    # tenders
    TENDER_PROJECT_CREATE = "tender:project:create"
    TENDER_PROJECT_PUBLISH = "tender:project:publish"
    TENDER_PROJECT_AMEND = "tender:project:amend"
    TENDER_PROJECT_CANCEL = "tender:project:cancel"
    TENDER_PROJECT_TRANSITION = "tender:project:transition"
    TENDER_LOT_CLOSE = "tender:lot:close"
    TENDER_DOCUMENT_DOWNLOAD = "tender:document:download"
    TENDER_OBJECTION_FILE = "tender:objection:file"
    TENDER_OBJECTION_ANSWER = "tender:objection:answer"
    TENDER_PROJECT_CLARIFY = "tender:project:clarify"
    TENDER_PROJECT_SUSPEND = "tender:project:suspend"
    TENDER_PROJECT_RESUME = "tender:project:resume"
    TENDER_LOT_PUBLISH = "tender:lot:publish"
    TENDER_LOT_TRANSITION = "tender:lot:transition"
    TENDER_LOT_FAIL = "tender:lot:fail"
    TENDER_LOT_CANCEL = "tender:lot:cancel"
    TENDER_CUSTODIAN_ASSIGN = "tender:custodian:assign"
    TENDER_DOCUMENT_ADD = "tender:document:add"
    # opening (trading/opening): deadline, session, shares, unsealing, opening record (开标记录表)
    OPENING_DEADLINE_PASS = "lot:deadline:pass"
    OPENING_LOT_FAIL = "opening:lot:fail"
    OPENING_SESSION_START = "opening:session:start"
    OPENING_BIDDER_SIGNIN = "opening:bidder:signin"
    OPENING_SHARE_RELEASE = "opening:share:release"
    OPENING_SHARE_REJECT = "opening:share:reject"
    OPENING_BID_UNSEAL_OK = "bid:unseal:ok"
    OPENING_BID_UNSEAL_FAIL = "bid:unseal:fail"
    OPENING_RECORD_PUBLISH = "opening:record:publish"
    OPENING_RECORD_CONFIRM = "opening:record:confirm"
    OPENING_OBJECTION_RAISE = "opening:objection:raise"
    OPENING_OBJECTION_ANSWER = "opening:objection:answer"
    OPENING_SESSION_CLOSE = "opening:session:close"
    # expert pool (expert_pool/): applications, status, availability, draw/v1, invitations
    EXPERT_APPLICATION_SUBMIT = "expert:application:submit"
    EXPERT_APPLICATION_APPROVE = "expert:application:approve"
    EXPERT_APPLICATION_REJECT = "expert:application:reject"
    EXPERT_STATUS_SUSPEND = "expert:status:suspend"
    EXPERT_STATUS_RETIRE = "expert:status:retire"
    EXPERT_STATUS_REINSTATE = "expert:status:reinstate"
    EXPERT_AVAILABILITY_SET = "expert:availability:set"
    EXPERT_CONFLICT_DECLARE = "expert:conflict:declare"
    EXPERT_DRAW_COMMIT = "expert:draw:commit"
    EXPERT_DRAW_REVEAL = "expert:draw:reveal"
    EXPERT_DRAW_COMPLETE = "expert:draw:complete"
    EXPERT_DRAW_EXHAUST = "expert:draw:exhaust"
    EXPERT_INVITATION_SEND = "expert:invitation:send"
    EXPERT_INVITATION_CONFIRM = "expert:invitation:confirm"
    EXPERT_INVITATION_DECLINE = "expert:invitation:decline"
    EXPERT_INVITATION_TIMEOUT = "expert:invitation:timeout"
    EXPERT_INVITATION_SKIP = "expert:invitation:skip"
    EXPERT_MEMBER_REPLACE = "expert:member:replace"
    # witness notes
    WITNESS_NOTE_ADD = "witness:note:add"
