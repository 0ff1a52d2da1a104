"""Server-rendered pages: Jinja2 templates from every package's `templates/` folder, zh-CN with English.

The language comes from `?lang=en|zh`, else the `th_lang` cookie, else Accept-Language, else zh-CN.
Labels live in each package's `i18n.py` as {key: (zh, en)} and are merged here.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from trading.clock import show
from trading.money import format_yuan, to_chinese_capital

TEMPLATE_PACKAGES = ("trading", "deposits", "expert_pool", "evaluation")

LABELS: dict[str, tuple[str, str]] = {
    "site.name": ("公共资源交易平台", "Public Resource Trading Platform"),
    "nav.tenders": ("交易公告", "Tenders"),
    "nav.login": ("登录", "Sign in"),
    "nav.logout": ("退出", "Sign out"),
    "nav.api": ("接口文档", "API docs"),
    "lang.switch": ("English", "中文"),
}


def register_labels(labels: dict[str, tuple[str, str]]) -> None:
    LABELS.update(labels)


def language(request: Request[Any, Any, Any]) -> str:
    q = request.query_params.get("lang")
    if q in ("en", "zh"):
        return q
    c = request.cookies.get("th_lang")
    if c in ("en", "zh"):
        return c
    accept = request.headers.get("accept-language", "")
    if accept.lower().startswith("en"):
        return "en"
    return "zh"


def translator(lang: str):
    def t(key: str) -> str:
        zh, en = LABELS.get(key, (key, key))
        return en if lang == "en" else zh

    return t


def page_context(request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
    lang = language(request)
    user = request.scope.get("state", {}).get("user")
    return {"lang": lang, "t": translator(lang), "user": user, "path": request.url.path, **extra}


def _template_dirs() -> list[Path]:
    dirs = []
    for package in TEMPLATE_PACKAGES:
        try:
            folder = resources.files(package) / "templates"
        except ModuleNotFoundError:
            continue
        if folder.is_dir():
            dirs.append(Path(str(folder)))
    return dirs


def template_config() -> TemplateConfig:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    env.filters["shanghai"] = show
    env.filters["yuan"] = format_yuan
    env.filters["capital"] = to_chinese_capital
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(env))
