"""Domain errors and their RFC 9457 problem responses.

Every error a user can cause is a DomainError subclass with an HTTP status and a stable machine code;
the message is for humans. Nothing a client sends may produce a 500.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

import asyncpg
import asyncpg.exceptions._base
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

log = logging.getLogger("tenderhall.errors")

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": f"urn:tenderhall:error:{code}", "title": title, "status": status, "code": code,
            "detail": detail}
    body.update({k: v for k, v in extra.items() if k not in body})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(_: Request, exc: DomainError) -> Response:
    return problem(exc.status, exc.code, type(exc).__name__, exc.message, **exc.extra)


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, (list, dict)) else None
        return problem(400, "validation_error", "ValidationError", str(exc.detail), errors=extra or [])
    code = {
        400: "validation_error",
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")
    if isinstance(exc, NotAuthorizedException):
        code = "not_authenticated"
    elif isinstance(exc, PermissionDeniedException):
        code = "forbidden"
    elif isinstance(exc, NotFoundException):
        code = "not_found"
    return problem(status, code, type(exc).__name__, str(exc.detail))


def unstorable_input_handler(request: Request, exc: Exception) -> Response:
    """A value PostgreSQL cannot take — a NUL character in text, a number past 64 bits, an impossible date — that
    no check before it caught: the request's fault (400), logged with its trace so the missing check is found."""
    log.warning("input the database refused on %s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    return problem(400, "invalid_input", "InvalidInput",
                   "a value in the request cannot be stored or compared: a number out of range, a NUL character, "
                   "or a malformed value")


def _raised_in(exc: BaseException, module: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == module:
            return True
        tb = tb.tb_next
    return False


def undecodable_form_handler(request: Request, exc: Exception) -> Response:
    """Litestar decodes every multipart field that is not a file as text before any handler runs: a field of bytes
    that are not valid in its character set (UTF-8 unless the part names another), or one naming a character set
    that does not exist, raises there (UnicodeDecodeError, LookupError). That is the request's fault: 400 with a
    code. The same errors raised anywhere else are the platform's own, and stay 500s."""
    decoding = isinstance(exc, UnicodeDecodeError) or (
        type(exc) is LookupError and str(exc).startswith("unknown encoding"))
    if not (decoding and _raised_in(exc, "litestar._multipart")):
        return internal_error_handler(request, exc)
    return problem(400, "form_field_undecodable", "FormFieldUndecodable",
                   f"a form field is not text in its declared character set (UTF-8 unless the part names one): {exc}")


def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "InternalError", "An internal error occurred; it has been logged.")


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    # SQLSTATE class 22 (data exception) from the server, and asyncpg's own refusal to encode an argument
    asyncpg.exceptions.DataError: unstorable_input_handler,
    asyncpg.exceptions._base.DataError: unstorable_input_handler,
    # a multipart form field that cannot be decoded as text (see undecodable_form_handler)
    UnicodeDecodeError: undecodable_form_handler,
    LookupError: undecodable_form_handler,
    Exception: internal_error_handler,
}
