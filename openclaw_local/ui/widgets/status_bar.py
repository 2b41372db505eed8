"""The bottom line: model, adapter, last reply's speed, and the learner's state.

Fields come from the app (model, tokens/s, streaming) and from the optional
``status_provider`` / :class:`LearningUpdate` messages. Known learner keys:
``waiting`` (int), ``judging`` (bool), ``step`` ("3/8"), ``loss`` (float),
``reward`` (float), ``adapter`` ("v3"). Any other key is shown as ``key: value``.
"""

from __future__ import annotations

from typing import Any

from textual.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

LEARNER_KEYS = ("waiting", "judging", "step", "loss", "reward")
APP_KEYS = ("model", "adapter", "tokens_per_s", "streaming")


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        dock: bottom;
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

    def plain_text(self) -> str:
        return " │ ".join(self._parts(markup=False))

    def _render_fields(self) -> None:
        self.update(" [dim]│[/] ".join(self._parts(markup=True)))

    def _parts(self, *, markup: bool) -> list[str]:
        f = self.fields
        dim = (lambda s: f"[dim]{escape(s)}[/]") if markup else (lambda s: s)
        bold = (lambda s: f"[bold]{escape(s)}[/]") if markup else (lambda s: s)
        model = str(f.get("model", "?")).removesuffix(".gguf")
        parts = [bold(model)]
        adapter = f.get("adapter")
        parts.append(f"{dim('adapter:')} {escape(str(adapter)) if adapter not in (None, '') else 'none'}")
        if f.get("streaming"):
            parts.append(bold("● generating (esc stops)"))
        tps = f.get("tokens_per_s")
        parts.append(f"{float(tps):.0f} tok/s" if tps else dim("— tok/s"))
        learner = []
        if "waiting" in f:
            learner.append(f"{f['waiting']} waiting")
        if f.get("judging"):
            learner.append("judging")
        if f.get("step"):
            learner.append(f"step {f['step']}")
        if f.get("loss") is not None and "loss" in f:
            learner.append(f"loss {_num(f['loss'])}")
        if f.get("reward") is not None and "reward" in f:
            learner.append(f"reward {_num(f['reward'])}")
        if learner:
            parts.append(f"{dim('learn:')} {escape(' · '.join(learner)) if markup else ' · '.join(learner)}")
        for key, value in f.items():
            if key in LEARNER_KEYS or key in APP_KEYS:
                continue
            text = f"{key}: {value}"
            parts.append(escape(text) if markup else text)
        return parts


def _num(value: Any) -> str:
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)
