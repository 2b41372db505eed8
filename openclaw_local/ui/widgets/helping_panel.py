""""Is it helping me?" on the Adapters screen: a sparkline of the accepted share per
version (base → newest) and one sentence per version. The screen feeds it
:class:`~openclaw_local.services.helping.Outcome` rows; it only renders them."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from openclaw_local.services.helping import Outcome, sparkline


class HelpingPanel(Static):
    DEFAULT_CSS = """
    HelpingPanel { height: auto; max-height: 8; padding: 0 1; border: round $panel; border-title-color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = "is it helping? how your replies went, per version"
        self.rows: list[Outcome] = []

    def show(self, rows: list[Outcome], limit: int = 5) -> None:
        self.rows = list(rows)
        if not rows:
            self.update("[dim]No replies yet: chat, rate (+/-) or correct (e), and this fills in.[/]")
            return
        spark = sparkline([o.accepted_share for o in rows])
        lines = [f"accepted share, base → newest: [b $accent]{escape(spark)}[/]  "
                 f"[dim]{escape(' '.join(o.label for o in rows))}[/]"]
        lines += [escape(o.sentence()) for o in rows[-limit:]]
        self.update("\n".join(lines))

    @property
    def text(self) -> str:
        return "\n".join(o.sentence() for o in self.rows)
