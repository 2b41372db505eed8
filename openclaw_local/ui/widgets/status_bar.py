"""The bottom line: model, the learner's phase, adapter, reply speed and learner numbers.

Fields come from the app (model, tokens/s, streaming) and from the optional
``status_provider`` / :class:`LearningUpdate` messages. Known learner keys:
``learner`` (its phase: idle, loading, training, publishing, error, off, …),
``waiting`` (int), ``judging`` (int or bool), ``step`` ("3/8"), ``loss`` (float),
``reward`` (float), ``adapter`` ("v3"), ``learner_error``. Any other key is shown
as ``key: value``.

The line must fit: every field has a long and a short form and a priority. When
the line is too wide, the least important fields are shortened first, then
dropped; the learner's phase is never dropped (it is what tells the user whether
their feedback is being used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import events
from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

from openclaw_local.records import LearnerPhase

LEARNER_KEYS = ("learner", "waiting", "judging", "step", "loss", "reward", "learner_error")
APP_KEYS = ("model", "adapter", "tokens_per_s", "streaming")
SEPARATOR = " │ "
DEFAULT_WIDTH = 160  # before the first layout, assume a wide terminal


@dataclass
class Field:
    key: str
    priority: int  # 0 = most important, never dropped
    long: str
    short: str
    label: str = ""  # a leading "label:" shown dimmed


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    fields: reactive[dict[str, Any]] = reactive(dict, always_update=True)

    def __init__(self, model_name: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.set_reactive(StatusBar.fields, {"model": model_name})

    def on_mount(self) -> None:
        self._render_fields()

    def on_resize(self, event: events.Resize) -> None:
        self._render_fields()

    def update_fields(self, **values: Any) -> None:
        """Merge values in; ``None`` removes a field."""
        fields = dict(self.fields)
        for key, value in values.items():
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value
        self.fields = fields

    def watch_fields(self) -> None:
        self._render_fields()

    @property
    def available(self) -> int:
        width = self.content_region.width if self.is_mounted else 0
        return width or DEFAULT_WIDTH

    def plain_text(self, width: int | None = None) -> str:
        """The line as shown at ``width`` columns (default: the bar's own width)."""
        return SEPARATOR.join(text for _, text in fit_fields(self.fields, width or self.available))

    def _render_fields(self) -> None:
        parts = []
        for field, text in fit_fields(self.fields, self.available):
            if field.label and text.startswith(field.label):
                parts.append(f"[dim]{escape(field.label)}[/]{escape(text[len(field.label):])}")
            elif field.priority == 0 or field.key == "model":
                parts.append(f"[bold]{escape(text)}[/]")
            else:
                parts.append(escape(text))
        self.update(" [dim]│[/] ".join(parts))


def build_fields(f: dict[str, Any]) -> list[Field]:
    """Every field there is to show, in display order (left to right)."""
    out: list[Field] = []
    model = str(f.get("model", "?")).removesuffix(".gguf")
    out.append(Field("model", 2, model, _crop(model, 18)))
    phase = f.get("learner")
    if phase is None and f.get("step"):
        phase = LearnerPhase.TRAINING.value
    if phase is not None:
        step = f" {f['step']}" if f.get("step") and str(phase) == LearnerPhase.TRAINING.value else ""
        long = f"learner: {phase}" + (f" step{step}" if step else "")
        out.append(Field("learner", 0, long, f"{_crop(str(phase), 12)}{step}", label="learner:"))
    elif f.get("step"):
        out.append(Field("step", 0, f"step {f['step']}", str(f["step"])))
    if f.get("streaming"):
        out.append(Field("streaming", 1, "● generating (esc stops)", "● gen"))
    adapter = f.get("adapter")
    adapter = str(adapter) if adapter not in (None, "") else "none"
    out.append(Field("adapter", 3, f"adapter: {adapter}", adapter, label="adapter:"))
    if f.get("learner_error"):
        err = str(f["learner_error"]).splitlines()[0]
        out.append(Field("learner_error", 4, f"learner error: {err}", _crop(f"error: {err}", 24)))
    tps = f.get("tokens_per_s")
    out.append(Field("tokens_per_s", 5, f"{float(tps):.0f} tok/s" if tps else "— tok/s", f"{float(tps):.0f}t/s" if tps else "—"))
    if "waiting" in f and f["waiting"] is not None:
        out.append(Field("waiting", 6, f"{f['waiting']} waiting", f"{f['waiting']}w"))
    judging = f.get("judging")
    if judging:
        long = "judging" if judging is True else f"judging {judging}"
        out.append(Field("judging", 7, long, "j" if judging is True else f"j{judging}"))
    if f.get("loss") is not None:
        out.append(Field("loss", 8, f"loss {_num(f['loss'])}", f"L{_num(f['loss'])}"))
    if f.get("reward") is not None:
        out.append(Field("reward", 9, f"reward {_num(f['reward'])}", f"R{_num(f['reward'])}"))
    for key, value in f.items():
        if key in LEARNER_KEYS or key in APP_KEYS:
            continue
        out.append(Field(key, 10, f"{key}: {value}", _crop(f"{key}: {value}", 16)))
    return out


def fit_fields(values: dict[str, Any], width: int) -> list[tuple[Field, str]]:
    """The fields and the text each shows so the line fits ``width`` columns:
    shorten from the least important up, then drop from the least important up."""
    fields = build_fields(values)
    shown = {id(fl): fl.long for fl in fields}
    by_priority = sorted(fields, key=lambda fl: -fl.priority)

    def length() -> int:
        texts = [shown[id(fl)] for fl in fields if id(fl) in shown]
        return sum(len(t) for t in texts) + len(SEPARATOR) * max(0, len(texts) - 1)

    for fl in by_priority:
        if length() <= width:
            break
        shown[id(fl)] = fl.short
    for fl in by_priority:
        if length() <= width:
            break
        if fl.priority > 0:
            del shown[id(fl)]
    out = [(fl, shown[id(fl)]) for fl in fields if id(fl) in shown]
    if length() > width:  # only the phase is left and still too wide: crop it
        out = [(fl, _crop(text, max(4, width))) for fl, text in out]
    return out


def _crop(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _num(value: Any) -> str:
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)
