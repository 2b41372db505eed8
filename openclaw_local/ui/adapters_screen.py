"""The Adapters screen: every learned version with its metrics and status; activate, roll back,
export; and "what changed": probe prompts answered by the previous and the selected version.

Talks only to an :class:`~openclaw_local.services.adapters.AdapterService` (duck-typed:
``versions``, ``activate``, ``rollback``, ``export``, ``compare``, ``probes``,
``add_probe``, ``edit_probe``, ``delete_probe``, ``export_dir``). A rollback or
activation only changes SQLite; the chat's learner follower hot-swaps the adapter
within half a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from openclaw_local.ui.widgets.helping_panel import HelpingPanel

EXPORTS = {"x": "gguf-lora", "p": "peft", "m": "gguf-merged"}


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


class AdaptersScreen(Screen):
    DEFAULT_CSS = """
    AdaptersScreen { layout: vertical; }
    AdaptersScreen #title { padding: 0 1; text-style: bold; }
    AdaptersScreen DataTable { height: 1fr; }
    AdaptersScreen #detail { height: auto; max-height: 9; padding: 0 1; color: $text-muted; }
    AdaptersScreen #message { height: auto; padding: 0 1; color: $warning; }
    """
    BINDINGS = [
        Binding("a", "activate", "Activate"),
        Binding("A", "force_activate", "Force activate", show=False),
        Binding("u", "rollback", "Roll back"),
        Binding("x", "export('x')", "Export gguf-lora"),
        Binding("p", "export('p')", "Export peft", show=False),
        Binding("m", "export('m')", "Export merged", show=False),
        Binding("w", "what_changed", "What changed"),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, service: Any):
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        yield Static("Adapters — what the assistant learned  (a activate · A force · u roll back · "
                     "x/p/m export gguf-lora/peft/merged · w what changed · esc back)", id="title")
        yield HelpingPanel(id="helping")
        yield DataTable(id="versions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("ver", "status", "parent", "created", "samples", "loss", "reward", "gate / reason")
        self.refresh_versions()
        table.focus()

    # ----------------------------------------------------------------- data
    def refresh_versions(self) -> None:
        from openclaw_local.services.adapters import gate_summary
        from openclaw_local.services.helping import outcomes, status_words

        store = getattr(self.service, "store", None)
        if store is not None:
            self.query_one(HelpingPanel).show(outcomes(store))

        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        versions = list(reversed(self.service.versions()))
        for v in versions:
            note = gate_summary(v) + (f" — {v.reason}" if v.reason else "")
            status = ("● " if v.status == "active" else "  ") + status_words(v)
            table.add_row(f"v{v.id}", status, f"v{v.parent_id}" if v.parent_id else "base", v.created_at[:16].replace("T", " "),
                          str(v.n_samples or 0), _fmt(v.loss, ".4f"), _fmt(v.mean_reward, "+.2f"), note, key=str(v.id))
        if not versions:
            self.say("no adapter versions yet: the base model is served")
        elif self.service.refusal_notice():
            self.say(self.service.refusal_notice())
        elif keep is not None and keep < len(versions):
            table.move_cursor(row=keep)
        self._show_detail()

    def selected(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0 or table.cursor_row is None:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key
        return int(key.value)

    def _show_detail(self) -> None:
        from openclaw_local.services.adapters import force_hint

        vid = self.selected()
        detail = self.query_one("#detail", Static)
        if vid is None:
            detail.update("")
            return
        v = next((x for x in self.service.versions() if x.id == vid), None)
        if v is None:
            return
        from openclaw_local.services.helping import gate_sentences, sample_excerpts, status_words

        store = getattr(self.service, "store", None)
        excerpts = sample_excerpts(store, v, n=2) if store is not None else [str(s) for s in v.sample_ids[:12]]
        gate = " ".join(gate_sentences(v)) or "not gated"
        reason = f" ({v.reason})" if v.reason and v.status != "rejected" else f": {v.reason}" if v.reason else ""
        detail.update(escape(
            f"v{v.id} · {v.source or 'trained'} · {status_words(v)}{reason}\n"
            f"gate: {gate}\n"
            f"learned from {v.n_samples or len(v.sample_ids)} replies, e.g. {' · '.join(excerpts) or '-'} · "
            f"{v.n_tokens or 0} tokens · trained in {_fmt(v.train_seconds, '.1f')} s"
            + (f"\n{force_hint(v)} (or press A)" if force_hint(v) else "")))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    # -------------------------------------------------------------- actions
    def _guard(self, fn, *args, **kwargs):
        from openclaw_local.errors import UserError

        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            self.say(f"error: {exc.one_line()}")
            return None

    def action_activate(self, force: bool = False) -> None:
        vid = self.selected()
        if vid is None:
            return
        v = self._guard(self.service.activate, vid, force=force)
        if v is not None:
            self.say(f"v{v.id} is now active{' (forced)' if force else ''}; the chat swaps it in within a second")
        self.refresh_versions()

    def action_force_activate(self) -> None:
        self.action_activate(force=True)

    def action_rollback(self) -> None:
        result = self._guard(self.service.rollback)
        if result is not None:
            undone, now = result
            self.say(f"rolled back v{undone.id}; now serving {f'v{now.id}' if now else 'the base model'}")
        self.refresh_versions()

    def action_export(self, key: str) -> None:
        vid = self.selected()
        if vid is None:
            return
        fmt = EXPORTS[key]
        suffix = "" if fmt == "peft" else ".gguf"
        out = Path(self.service.export_dir) / f"v{vid:04d}-{fmt}{suffix}"
        n = 1
        while out.exists():
            n += 1
            out = Path(self.service.export_dir) / f"v{vid:04d}-{fmt}-{n}{suffix}"
        self.say(f"exporting v{vid} as {fmt} …")
        self._export(vid, fmt, out)

    @work(thread=True, exclusive=True, group="export")
    def _export(self, vid: int, fmt: str, out: Path) -> None:
        from openclaw_local.errors import UserError

        try:
            path = self.service.export(vid, fmt, out)
            text = f"exported v{vid} as {fmt} to {path}"
        except (UserError, OSError, ValueError) as exc:
            text = f"error: export failed: {exc}"
        self.app.call_from_thread(self.say, text)

    def action_what_changed(self) -> None:
        vid = self.selected()
        if vid is not None:
            self.app.push_screen(WhatChangedScreen(self.service, vid))

    def action_close(self) -> None:
        self.app.pop_screen()


class ProbeEditor(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ProbeEditor { align: center middle; }
    ProbeEditor > Vertical { width: 80; height: auto; border: round $accent; padding: 1; background: $surface; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, text: str = ""):
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Probe prompt (enter to save, esc to cancel)")
            yield Input(value=self.text, id="probe-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class WhatChangedScreen(Screen):
    """Probe prompts answered by the previous version (parent, or base) and the selected one."""

    DEFAULT_CSS = """
    WhatChangedScreen #title { padding: 0 1; text-style: bold; }
    WhatChangedScreen #rows { height: 1fr; }
    WhatChangedScreen .probe { margin: 1 1 0 1; text-style: bold; }
    WhatChangedScreen .pair { height: auto; margin: 0 1; }
    WhatChangedScreen .answer { width: 1fr; height: auto; border: round $panel; padding: 0 1; }
    WhatChangedScreen .probe.selected { color: $accent; }
    """
    BINDINGS = [
        Binding("n", "new_probe", "New probe"),
        Binding("e", "edit_probe", "Edit probe"),
        Binding("delete", "delete_probe", "Delete probe"),
        Binding("j,down", "move(1)", "Next", show=False),
        Binding("k,up", "move(-1)", "Previous", show=False),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, service: Any, version_id: int):
        super().__init__()
        self.service = service
        self.version_id = version_id
        self.rows: list[Any] = []
        self.index = 0

    def compose(self) -> ComposeResult:
        previous = self.service.previous_of(self.version_id)
        self.previous_label = f"v{previous}" if previous else "base model"
        yield Static(f"What changed: {self.previous_label} (left) vs v{self.version_id} (right) — "
                     "n new probe · e edit · del delete · esc back", id="title")
        yield VerticalScroll(id="rows")
        yield Static("answering probes …", id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="probes")
    def load(self) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.query_one("#message", Static).update, f"answering probes … {done}/{total}")

        try:
            rows = self.service.compare(self.version_id, progress=progress)
            text = f"{len(rows)} probe prompts"
        except Exception as exc:  # noqa: BLE001 — shown, the screen stays usable
            rows, text = [], f"error: {exc}"
        self.app.call_from_thread(self._show, rows, text)

    async def _show(self, rows: list[Any], text: str) -> None:
        self.rows = rows
        self.index = min(self.index, max(0, len(rows) - 1))
        box = self.query_one("#rows", VerticalScroll)
        await box.remove_children()
        for i, r in enumerate(rows):
            classes = "probe selected" if i == self.index else "probe"
            await box.mount(Static(f"{'▶ ' if i == self.index else '  '}{r.prompt}", classes=classes, markup=False))
            await box.mount(Horizontal(
                Static(f"{self.previous_label}:\n{r.previous}", classes="answer", markup=False),
                Static(f"v{self.version_id}:\n{r.selected}", classes="answer", markup=False),
                classes="pair",
            ))
        self.query_one("#message", Static).update(text)

    def _current(self) -> Any | None:
        return self.rows[self.index] if self.rows else None

    async def action_move(self, step: int) -> None:
        if self.rows:
            self.index = (self.index + step) % len(self.rows)
            await self._show(self.rows, f"probe {self.index + 1}/{len(self.rows)}")

    def action_new_probe(self) -> None:
        def done(text: str | None) -> None:
            if text and text.strip():
                self.service.add_probe(text)
                self.load()

        self.app.push_screen(ProbeEditor(), done)

    def action_edit_probe(self) -> None:
        row = self._current()
        if row is None:
            return

        def done(text: str | None) -> None:
            if text and text.strip():
                self.service.edit_probe(row.probe_id, text)
                self.load()

        self.app.push_screen(ProbeEditor(row.prompt), done)

    def action_delete_probe(self) -> None:
        row = self._current()
        if row is not None:
            self.service.delete_probe(row.probe_id)
            self.load()

    def action_close(self) -> None:
        self.app.pop_screen()
