"""``sqm report``: a quality report on demand, and the wiring of the improvement loop into ``sqm alerter``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from sqm.config import Settings
from sqm_cli.common import ConfigOpt, console, redis_url, settings_or_exit


def improvement_rounds(settings: Settings) -> Callable[[Any], Sequence[Callable[[], object]]]:
    """The alerter's periodic work: overdue reminders, before/after checks, scheduled reports (sent through
    the alert receivers: e-mail with inline charts and the PDF, WeCom markdown with a link)."""
    from alerts import service
    from alerts.reports import ReportMessage, deliver_report
    from improve.render import Rendered
    from improve.service import Rounds
    from sqm.clock import SystemClock

    clock = SystemClock()

    def deliver(receivers: list[str], rendered: Rendered, pdf: bytes, name: str) -> Any:
        message = ReportMessage(rendered.subject, rendered.html_mail, rendered.markdown, rendered.images, pdf, name)
        return deliver_report(settings, receivers, message)

    def build(redis: Any) -> Sequence[Callable[[], object]]:
        rounds = Rounds(settings, redis, deliver=deliver,
                        list_alerts=lambda: service.list_alerts(redis, limit=10_000))
        return [lambda: rounds.tick(clock.now())]

    return build


def report(
    period: Annotated[str, typer.Option("--period", "-p", help="2026-03-02, 2026-W48, 2026-03 or 2026-Q1 (site time).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write: .pdf, .html or .md (WeCom summary).")],
    team: Annotated[str, typer.Option("--team", "-t", help="A team, or * for the whole centre.")] = "*",
    lang: Annotated[Literal["zh", "en"], typer.Option("--lang", help="Language of the report.")] = "zh",
    config: ConfigOpt = None,
) -> None:
    """Render a quality report (KPIs against targets, trends, rankings, alerts, experiments, actions)."""
    from alerts import service
    from improve.periods import kind_of
    from improve.render import pdf
    from improve.service import make_report
    from sqm.store import connect

    settings = settings_or_exit(config)
    try:
        kind_of(period)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--period") from err
    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".html", ".md"):
        msg = f"{output}: the file must end in .pdf, .html or .md"
        raise typer.BadParameter(msg, param_hint="--output")
    with redis_url(settings) as url:
        redis = connect(url)
        rendered = make_report(settings, redis, period, team, lang, now=datetime.now(UTC),
                               alerts=service.list_alerts(redis, limit=10_000))
    if suffix == ".pdf":
        output.write_bytes(pdf(rendered))
    else:
        output.write_text(rendered.html_page if suffix == ".html" else rendered.markdown, encoding="utf-8")
    console.print(f"[green]wrote[/] {output} — {rendered.subject}")
