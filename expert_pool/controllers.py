"""HTTP for the expert pool: applications and review, availability, draws (draw/v1), invitations."""
from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import Parameter

from expert_pool import repository as repo
from expert_pool import services
from expert_pool.errors import DrawNotFound
from expert_pool.pages import PAGES
from expert_pool.schemas import (
    ConflictDeclare,
    Decline,
    DrawContribution,
    DrawRequest,
    DrawSummary,
    DrawView,
    Expert,
    ExpertApply,
    Invitation,
    Notification,
    Review,
    StatusChange,
    Unavailability,
)
from expert_pool.specialties import Specialty, classification
from trading.accounts.guards import PUBLIC, admin_only, requires
from trading.accounts.schemas import Role, User
from trading.clock import Clock

expert_only = requires(Role.EXPERT)


class ExpertController(Controller):
    path = "/api/experts"
    tags = ["experts"]

    @get("/specialties", opt=PUBLIC, operation_id="ListSpecialties")
    async def specialties(self) -> list[Specialty]:
        return classification().items

    @post("/apply", guards=[expert_only], operation_id="ApplyExpert")
    async def apply(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                    data: ExpertApply) -> Expert:
        return await services.apply_expert(conn, clock, user, data, addr=addr)

    @get("/me", guards=[expert_only], operation_id="MyExpertProfile")
    async def me(self, conn: asyncpg.Connection, user: User) -> Expert:
        return await services.my_expert(conn, user)

    @put("/me/unavailability", guards=[expert_only], operation_id="SetUnavailability")
    async def unavailability(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                             data: Unavailability) -> list[date]:
        return await services.set_unavailability(conn, clock, user, data, addr=addr)

    @post("/me/conflicts", guards=[expert_only], operation_id="DeclareConflict")
    async def conflict(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                       data: ConflictDeclare) -> dict[str, str]:
        return {"id": str(await services.declare_conflict(conn, clock, user, data, addr=addr))}

    @get("/", guards=[requires(Role.ADMIN, Role.REGULATOR)], operation_id="ListExperts")
    async def list_experts(self, conn: asyncpg.Connection,
                           status: str | None = Parameter(default=None)) -> list[Expert]:
        return await repo.list_experts(conn, status=status)

    @get("/{expert_id:uuid}", guards=[requires(Role.ADMIN, Role.REGULATOR)], operation_id="GetExpert")
    async def get_expert(self, conn: asyncpg.Connection, expert_id: UUID) -> Expert:
        return await repo.get_expert(conn, expert_id)

    @post("/{expert_id:uuid}/approve", guards=[admin_only], operation_id="ApproveExpert", status_code=200)
    async def approve(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      expert_id: UUID) -> Expert:
        return await services.approve_expert(conn, clock, expert_id, actor=user, addr=addr)

    @post("/{expert_id:uuid}/reject", guards=[admin_only], operation_id="RejectExpert", status_code=200)
    async def reject(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, expert_id: UUID,
                     data: Review) -> Expert:
        return await services.reject_expert(conn, clock, expert_id, reason=data.reason, actor=user, addr=addr)

    @post("/{expert_id:uuid}/suspend", guards=[admin_only], operation_id="SuspendExpert", status_code=200)
    async def suspend(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      expert_id: UUID, data: StatusChange) -> Expert:
        return await services.change_expert_status(conn, clock, expert_id, "suspend", reason=data.reason,
                                                   actor=user, addr=addr)

    @post("/{expert_id:uuid}/retire", guards=[admin_only], operation_id="RetireExpert", status_code=200)
    async def retire(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                     expert_id: UUID, data: StatusChange) -> Expert:
        return await services.change_expert_status(conn, clock, expert_id, "retire", reason=data.reason,
                                                   actor=user, addr=addr)

    @post("/{expert_id:uuid}/reinstate", guards=[admin_only], operation_id="ReinstateExpert", status_code=200)
    async def reinstate(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                        expert_id: UUID, data: StatusChange) -> Expert:
        return await services.change_expert_status(conn, clock, expert_id, "reinstate", reason=data.reason,
                                                   actor=user, addr=addr)


class DrawController(Controller):
    path = "/api/expert-draws"
    tags = ["experts"]

    @post("/", guards=[requires(Role.AGENCY)], operation_id="RequestExpertDraw")
    async def request_draw(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                           data: DrawRequest) -> DrawView:
        return await services.request_draw(conn, clock, user, data, addr=addr)

    @get("/", guards=[requires(Role.REGULATOR, Role.ADMIN)], operation_id="ListExpertDraws")
    async def list_draws(self, conn: asyncpg.Connection,
                         status: str | None = Parameter(default=None)) -> list[DrawSummary]:
        return await repo.list_draws(conn, status=status)

    @post("/{draw_id:uuid}/contribute", guards=[requires(Role.AGENCY)], operation_id="ContributeToDraw",
          status_code=200)
    async def contribute(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                         draw_id: UUID, data: DrawContribution) -> DrawView:
        return await services.contribute(conn, clock, user, draw_id, data.agency_value, addr=addr)

    @get("/{draw_id:uuid}", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)], operation_id="GetExpertDraw")
    async def get_draw(self, conn: asyncpg.Connection, user: User, draw_id: UUID) -> DrawView:
        return await services.draw_view(conn, draw_id, user)

    @get("/lot/{lot_id:uuid}", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)],
         operation_id="GetExpertDrawForLot")
    async def for_lot(self, conn: asyncpg.Connection, user: User, lot_id: UUID) -> DrawView:
        view = await services.draw_for_lot(conn, lot_id, user)
        if view is None:
            raise DrawNotFound(f"lot {lot_id} has no committee draw yet")
        return view

    @get("/{draw_id:uuid}/record", guards=[requires(Role.REGULATOR)], operation_id="DownloadDrawRecord")
    async def record(self, conn: asyncpg.Connection, draw_id: UUID) -> Response[bytes]:
        """DRAW.json for regulators: replay with `tenderhall experts replay DRAW.json`."""
        body = msgspec.json.format(msgspec.json.encode(await services.draw_record(conn, draw_id)), indent=2)
        return Response(body, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="DRAW-{draw_id}.json"'})


class InvitationController(Controller):
    path = "/api/expert-invitations"
    tags = ["experts"]

    @get("/", guards=[expert_only], operation_id="ListMyInvitations")
    async def list_invitations(self, conn: asyncpg.Connection, user: User) -> list[Invitation]:
        return await services.invitations_for(conn, user)

    @get("/inbox", guards=[expert_only], operation_id="MyExpertInbox")
    async def inbox(self, conn: asyncpg.Connection, user: User) -> list[Notification]:
        return await services.inbox_for(conn, user)

    @post("/{member_id:uuid}/confirm", guards=[expert_only], operation_id="ConfirmInvitation", status_code=200)
    async def confirm(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                      member_id: UUID) -> Invitation:
        return await services.confirm_invitation(conn, clock, user, member_id, addr=addr)

    @post("/{member_id:uuid}/decline", guards=[expert_only], operation_id="DeclineInvitation", status_code=200)
    async def decline(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None, member_id: UUID,
                      data: Decline) -> Invitation:
        return await services.decline_invitation(conn, clock, user, member_id, reason=data.reason,
                                                 conflict=data.conflict, addr=addr)


ROUTES = [ExpertController, DrawController, InvitationController, *PAGES]
