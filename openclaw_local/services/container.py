"""The composition root: the one place that turns Settings into a store, engines and a judge.

Every entry point builds through these functions — the chat and ``serve`` (through
:class:`~openclaw_local.services.runtime.Runtime`), ``learn --once``, ``eval-prm``, the learner
worker process, the Adapters screen's probe context, the simulator's replay and the benchmarks — so
"which GGUF", "which load plan", "does this judge mode need a model" and "how is a Judge configured
from the settings" are each decided here and nowhere else.
``tests/test_composition_root.py`` fails when a module elsewhere constructs an ``Engine`` or a
judge, calls ``plan_for`` or opens a ``Store`` itself. The judge mode is decided here too
(:func:`judge_mode`); everyone else receives the concrete mode or the built judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from openclaw_local.paths import resolve_judge_model_path, resolve_model_path

if TYPE_CHECKING:
    from openclaw_local.engine import Engine, ModelGate
    from openclaw_local.engine.load_plan import LoadPlan
    from openclaw_local.judge import Judge
    from openclaw_local.store import Store

JUDGE_N_CTX = 2048  # a judge prompt (reply + next state + rubric) never needs more; a smaller context loads faster
AUTO_GENERATE_MIN_PARAMS = 3e9  # "auto": a judge model this big judges by generation (m votes), docs/JUDGE.md


def open_store(home: Path, *, migrate: bool = True, read_only: bool = False) -> "Store":
    """The data dir's SQLite store (created and migrated on first open). ``migrate=False`` leaves
    the schema as it is; ``read_only=True`` also writes nothing beside the database (a backup)."""
    from openclaw_local.store import Store

    return Store.open(home, migrate=migrate, read_only=read_only)


def load_plan(home: Path | None, settings: Any, model: Path | str, *, cpu_only: bool = False) -> "LoadPlan":
    """How llama.cpp loads ``model`` on this machine (the start-up self-test; ``home`` None caches nothing).

    ``cpu_only`` keeps every layer on the CPU (background contexts: probes, ``learn --once``'s judge).
    """
    from openclaw_local.engine.selftest import plan_for

    return plan_for(home, settings, model, n_gpu_layers=0 if cpu_only else None)


def load_engine(home: Path | None, settings: Any, model: Path | str | None = None, *, n_ctx: int | None = None,
                seed: int = -1, threads: int | None = None, gate: "ModelGate | None" = None, cpu_only: bool = False,
                plan: "LoadPlan | None" = None, notices: list[str] | None = None) -> "Engine":
    """A llama.cpp engine for ``model`` (default: the served model), loaded by its plan.

    ``n_ctx``/``threads`` default to the settings; ``plan`` overrides the self-test (benchmarks compare
    plans). A fallback the self-test just decided is appended to ``notices`` once (the chat says it).
    """
    from openclaw_local.engine import Engine

    model = Path(model) if model is not None else resolve_model_path(settings)
    if plan is None:
        plan = load_plan(home, settings, model, cpu_only=cpu_only)
        if notices is not None and plan.fallback and plan.source == "probed" and plan.notice() not in notices:
            notices.append(plan.notice())
    return Engine(model, n_ctx=settings.n_ctx if n_ctx is None else n_ctx,
                  threads=settings.threads if threads is None else threads, seed=seed, gate=gate, plan=plan)


def load_chat_engine(home: Path, settings: Any, *, gate: "ModelGate | None" = None,
                     notices: list[str] | None = None) -> "Engine":
    """The serving engine: the served model with the chat's context size and sampling seed."""
    return load_engine(home, settings, seed=settings.seed, gate=gate, notices=notices)


def judge_mode(settings: Any) -> str:
    """The concrete judge mode for these settings — the one place it is decided.

    ``auto`` → ``generate`` when the judge model (``judge_model_path``, else the served model) has
    ≥ 3 B parameters, counted from its GGUF tensor table (Qwen3-4B judges by voting); else
    ``learned`` (a 135M model cannot judge by generation, docs/JUDGE.md). An empty setting is the default mode.
    """
    from openclaw_local.judge import DEFAULT_MODE, MODES

    mode = getattr(settings, "judge_mode", None) or DEFAULT_MODE
    if mode != "auto":
        if mode not in MODES:
            raise ValueError(f"judge mode must be auto or one of {MODES}, not {mode!r}")
        return mode
    from openclaw_local.engine.model_size import parameter_count

    n_params = parameter_count(resolve_judge_model_path(settings))
    return "generate" if n_params is not None and n_params >= AUTO_GENERATE_MIN_PARAMS else DEFAULT_MODE


def judges_in_learner(mode: str) -> bool:
    """Does the judge for ``mode`` run in the background learner process (True) or in the chat's?

    The model-free judges (``judge.MODEL_FREE_MODES``: rules, learned) run in the learner process,
    so the chat and ``serve`` processes never import torch (the learned judge's encoder); the
    judges that read the llama.cpp model run in the chat process on a context of their own."""
    from openclaw_local.judge import MODEL_FREE_MODES

    return mode in MODEL_FREE_MODES


def load_judge_engine(home: Path | None, settings: Any, mode: str, *, gate: "ModelGate | None" = None,
                      cpu_only: bool = True, seed: int = -1, notices: list[str] | None = None) -> "Engine | None":
    """The judge's own llama.cpp context, or None for the modes that need no model (rules, learned).

    A context of its own: judging never evicts the chat's cached prompt and always scores with the base model.
    """
    from openclaw_local.judge import JUDGES

    if not JUDGES[mode].needs_engine:
        return None
    return load_engine(home, settings, resolve_judge_model_path(settings), n_ctx=min(JUDGE_N_CTX, settings.n_ctx),
                       seed=seed, gate=gate, cpu_only=cpu_only, notices=notices)


def build_judge(settings: Any, engine: Any, mode: str, *, votes: int | None = None, temperature: float | None = None,
                seed: int | None = None, calibrate: bool = True) -> "Judge":
    """The judge for a concrete ``mode`` (from :func:`judge_mode`); votes and temperature from the
    settings unless given. The learned judge gets its anchor lines (for this user's calibration) here."""
    from openclaw_local.judge import make_judge

    options: dict[str, Any] = {}
    if mode == "learned":
        from openclaw_local.judge.data import anchor_rows

        options["anchors"] = anchor_rows
    return make_judge(mode, engine, votes=settings.judge_votes if votes is None else votes,
                      temperature=settings.judge_temperature if temperature is None else temperature, seed=seed,
                      calibrate=calibrate, **options)
