"""The Preferences screen (ctrl+p): the standing preferences every reply is told, and where each
came from; pause / resume, edit, delete (after asking), add.

Talks only to a :class:`~openclaw_local.services.preferences.PreferenceService` (duck-typed:
``list``, ``add``, ``edit``, ``pause``, ``resume``, ``remove``), passed in by ``build_app``.
A change applies to the very next reply: the chat reads the active preferences for each one.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from openclaw_local.errors import UserError
from openclaw_local.ui.confirm_screen import ConfirmScreen

STATUS_WORDS = {"active": "● active", "paused": "  paused", "candidate": "  seen once", "learned": "  learned"}


class PreferencesScreen(Screen):
    DEFAULT_CSS = """
    PreferencesScreen { layout: vertical; }
    PreferencesScreen #title { padding: 0 1; text-style: bold; }
    PreferencesScreen DataTable { height: 1fr; }
    PreferencesScreen #detail { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    PreferencesScreen #message { height: auto; padding: 0 1; color: $warning; }
    """
    BINDINGS = [
        Binding("p", "toggle", "Pause / resume", tooltip="pause or resume the selected preference (resume also "
                                                          "keeps one seen once, or confirms one from the endpoint)"),
        Binding("e", "edit", "Edit", tooltip="edit the selected preference's text (enter saves, esc cancels)"),
        Binding("n", "new", "New", tooltip="type a new preference (enter adds it)"),
        Binding("delete,d", "delete", "Delete", tooltip="delete the selected preference (asks first)"),
        Binding("escape", "close", "Back", tooltip="back to the chat (while typing: cancel)"),
    ]

    def __init__(self, service: Any):
        super().__init__()
        self.service = service
        self.editing: int | None = None  # the id whose text the input edits; None: the input adds

    def compose(self) -> ComposeResult:
        yield Static("Standing preferences — told to every reply  (p pause/resume · e edit · n new · d delete · "
                     "esc back)", id="title")
        yield DataTable(id="prefs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Static("", id="message")
        yield Input(placeholder="a new preference, e.g. Answer in French.  (enter adds it)", id="pref-input")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "status", "preference", "seen", "from")
        self.refresh_prefs()
        table.focus()

    # ----------------------------------------------------------------- data
    def refresh_prefs(self) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        prefs = sorted(self.service.list(), key=lambda p: (p.status == "candidate", p.id))
        for p in prefs:
            status = STATUS_WORDS.get(p.status, p.status) + (" (confirm)" if p.needs_confirmation else "")
            table.add_row(f"#{p.id}", status, p.text, f"{p.times_seen}×", p.origin, key=str(p.id))
        if not prefs:
            self.say('no preferences yet: say "from now on …" in a chat, or press n')
        elif keep is not None and keep < len(prefs):
            table.move_cursor(row=keep)
        self._show_detail()

    def selected(self) -> Any | None:
        table = self.query_one(DataTable)
        if table.row_count == 0 or table.cursor_row is None:
            return None
        key = int(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)
        return next((p for p in self.service.list() if p.id == key), None)

    def _show_detail(self) -> None:
        p = self.selected()
        detail = self.query_one("#detail", Static)
        if p is None:
            detail.update("")
            return
        said = f"from your message “{p.source_text}”" if p.source_text else "added by hand"
        extra = {"candidate": " Asked once for one reply: said again, it is kept (p keeps it now).",
                 "paused": " Paused: not told to replies.", "learned": " Learned by an adapter version."}.get(p.status, "")
        if p.needs_confirmation:
            extra += " It came through the endpoint: p confirms it."
        detail.update(f"#{p.id} ({p.origin}) {said}.{extra}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def _guard(self, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            self.say(exc.one_line())
        except ValueError as exc:
            self.say(str(exc))
        return None

    # ----------------------------------------------------------------- actions
    def action_toggle(self) -> None:
        p = self.selected()
        if p is None:
            return
        if p.status == "active":
            done = self._guard(self.service.pause, p.id, origin="tui")
        else:
            done = self._guard(self.service.resume, p.id, origin="tui")
        if done is not None:
            self.say(f"#{p.id} is now {done.status}: the next reply {'gets' if done.status == 'active' else 'no longer gets'} it")
            self.refresh_prefs()

    def action_new(self) -> None:
        self.editing = None
        box = self.query_one(Input)
        box.value = ""
        box.focus()

    def action_edit(self) -> None:
        p = self.selected()
        if p is None:
            return
        self.editing = p.id
        box = self.query_one(Input)
        box.value = p.text
        box.focus()
        self.say(f"editing #{p.id}: enter saves, esc cancels")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.editing is None:
            done = self._guard(self.service.add, event.value, origin="tui")
            verb = "added"
        else:
            done = self._guard(self.service.edit, self.editing, event.value, origin="tui")
            verb = "saved"
        if done is None:
            return
        self.say(f"{verb} #{done.id}: {done.text}")
        self._end_typing()
        self.refresh_prefs()

    def _end_typing(self) -> None:
        self.editing = None
        self.query_one(Input).value = ""
        self.query_one(DataTable).focus()

    def action_delete(self) -> None:
        p = self.selected()
        if p is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and self._guard(self.service.remove, p.id) is None:
                self.say(f"deleted #{p.id}")
            self.refresh_prefs()
            self.query_one(DataTable).focus()

        self.app.push_screen(ConfirmScreen(f"Delete preference #{p.id}: “{p.text}”?", "delete this preference?"), answered)

    def action_close(self) -> None:
        if self.query_one(Input).has_focus:
            self._end_typing()
            self.say("")
            return
        self.dismiss(None)
