"""Standing preferences: what the user asked for once and wants in every following reply.

Where they come from (only the user's own messages, never assistant text, tool output or
a client's system messages):

- an explicit standing instruction in a user message ("from now on …", "always …",
  "never …", "stop using …", "I prefer …") is ``active`` at once (:meth:`capture_message`);
- a one-off request the judge read as a push-back ("too long", "make this one shorter") is
  a ``candidate``, seen once; when the same request comes again (another message, in other
  words) it becomes ``active`` ("repeated"; :meth:`observe_push_back`).

The same request in other words is one preference (``learn/preference_text.same_request``):
seeing it again bumps ``times_seen``. With ``prefs_confirm_endpoint`` (default on), a
preference that arrives through the endpoint starts ``paused`` with ``needs_confirmation``
until the user resumes it (TUI, CLI). :meth:`in_context` is what the next reply gets: the
active ones, newest kept when over ``prefs_token_budget``.

Absorbed, then retired: the learner distils each preference in context into the adapter and
marks it ``learned`` in the version that absorbed it (``absorbed_version``; services/training.py).
A learned preference stays out of the context only while that version is the served one or
an ancestor of it (:func:`absorbed`, a pure function over the version chain): after a
rollback to an earlier version, or once a version trained from elsewhere is served, it is
back in the context with no bookkeeping.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Mapping

from openclaw_local.config import Settings
from openclaw_local.errors import NotFoundError, UsageError
from openclaw_local.learn import preference_text as pt
from openclaw_local.records import Preference
from openclaw_local.store import Store
from openclaw_local.store.adapters import AdapterStore
from openclaw_local.store.preferences import PreferenceStore

log = logging.getLogger(__name__)

SERVED = object()  # "the version served now" (PreferenceService.unabsorbed)
USER_STATUSES = ("active", "paused")  # what a user may set by hand (candidate/learned are the app's)


def endpoint_origin(client: str | None) -> str:
    return f"endpoint:{(client or 'api').strip()[:40] or 'api'}"


def absorbed(pref: Preference, served: int | None, parents: Mapping[int, int | None]) -> bool:
    """Is ``pref`` absorbed by the adapter that is served? Only a ``learned`` preference whose
    ``absorbed_version`` is ``served`` or one of its ancestors (``parents``: version → parent).
    With the base model served (``served`` None) nothing is absorbed."""
    if pref.status != "learned" or pref.absorbed_version is None or served is None:
        return False
    cur: int | None = served
    seen: set[int] = set()
    while cur is not None and cur not in seen:
        if cur == pref.absorbed_version:
            return True
        seen.add(cur)
        cur = parents.get(cur)
    return False


def unabsorbed(prefs: Iterable[Preference], served: int | None, parents: Mapping[int, int | None]) -> list[Preference]:
    """The preferences a reply needs in its context: the active ones and the learned ones the served
    adapter has not absorbed (rolled back past, or trained elsewhere), in the given order."""
    return [p for p in prefs if p.status == "active" or (p.status == "learned" and not absorbed(p, served, parents))]


class PreferenceService:
    def __init__(self, store: Store, settings: Settings | None = None, *,
                 served_version: Callable[[], int | None] | None = None):
        """``served_version``: the adapter version the chat serves now (None: the base model);
        without it, the store's active version."""
        self.store = store
        self.settings = settings or Settings()
        self.prefs = PreferenceStore(store)
        self._served_version = served_version

    def served_version(self) -> int | None:
        if self._served_version is not None:
            return self._served_version()
        active = AdapterStore(self.store).active()
        return active.id if active else None

    # ------------------------------------------------------------------ reading
    def list(self, status: str | None = None) -> list[Preference]:
        return self.prefs.all(status)

    def get(self, pref_id: int) -> Preference:
        pref = self.prefs.get(pref_id)
        if pref is None:
            raise NotFoundError(f"no preference {pref_id}", "openclaw-local prefs list shows them")
        return pref

    def by_ids(self, ids: list[int]) -> dict[int, Preference]:
        return self.prefs.by_ids(ids)

    def unabsorbed(self, served: int | None | object = SERVED) -> list[Preference]:
        """Every preference a reply served by ``served`` (default: :meth:`served_version`) needs in its
        context, oldest first, before the token budget: active, or learned but not absorbed."""
        rows = [p for p in self.prefs.all() if p.status in ("active", "learned")]
        if not any(p.status == "learned" for p in rows):
            return rows
        if served is SERVED:
            served = self.served_version()
        return unabsorbed(rows, served, AdapterStore(self.store).parents())

    def in_context(self) -> list[Preference]:
        """The preferences the next reply gets, oldest first, within ``prefs_token_budget`` (the
        oldest are dropped first when they do not all fit): the active ones, and the learned ones
        the served adapter has not absorbed (:func:`absorbed`)."""
        if not self.settings.prefs_enabled:
            return []
        return pt.fit_budget(self.unabsorbed(), lambda p: p.text, self.settings.prefs_token_budget)

    @staticmethod
    def block(prefs: list[Preference]) -> str:
        return pt.block([p.text for p in prefs])

    # ------------------------------------------------------------------ editing by hand
    @staticmethod
    def clean_text(text: object) -> str:
        if not isinstance(text, str) or not text.strip():
            raise UsageError("a preference needs some text", 'e.g. openclaw-local prefs add "Answer in French."')
        line = " ".join(text.split())
        if len(line) > pt.MAX_CHARS:
            raise UsageError(f"a preference is at most {pt.MAX_CHARS} characters (this one has {len(line)})",
                             "say it shorter")
        return line

    def _confirm(self, origin: str) -> bool:
        return origin.startswith("endpoint:") and self.settings.prefs_confirm_endpoint

    def add(self, text: str, *, origin: str = "cli") -> Preference:
        """A preference the user typed (CLI, TUI) or a client posted (``endpoint:<client>``)."""
        line = self.clean_text(text)
        confirm = self._confirm(origin)
        return self.prefs.add(line, status="paused" if confirm else "active", origin=origin,
                              needs_confirmation=confirm)

    def edit(self, pref_id: int, text: str, *, origin: str = "cli") -> Preference:
        pref = self.get(pref_id)
        fields: dict = {"text": self.clean_text(text)}
        if pref.status == "learned":  # the adapter learned the old wording: the new one goes back into the prompt
            fields.update(status="active", absorbed_version=None)
        if self._confirm(origin):  # a client rewrote it: the user confirms the new wording first
            fields.update(status="paused", needs_confirmation=True)
        return self.prefs.update(pref_id, **fields)  # type: ignore[return-value]

    def set_status(self, pref_id: int, status: str, *, origin: str = "cli") -> Preference:
        """Pause (``paused``) or resume / keep (``active``) a preference; resuming confirms it."""
        if status not in USER_STATUSES:
            raise UsageError(f"a preference's status can be set to {' or '.join(USER_STATUSES)}, not {status!r}")
        pref = self.get(pref_id)
        if status == "active" and pref.needs_confirmation and self._confirm(origin):
            raise UsageError(f"preference {pref_id} came through the endpoint and waits for the user's confirmation",
                             f"confirm it in the terminal: openclaw-local prefs resume {pref_id}")
        fields: dict = {"status": status}
        if status == "active":
            fields["needs_confirmation"] = False
            fields["absorbed_version"] = None  # resuming a learned one puts it back into the prompt
        return self.prefs.update(pref_id, **fields)  # type: ignore[return-value]

    def pause(self, pref_id: int, *, origin: str = "cli") -> Preference:
        return self.set_status(pref_id, "paused", origin=origin)

    def resume(self, pref_id: int, *, origin: str = "cli") -> Preference:
        return self.set_status(pref_id, "active", origin=origin)

    def remove(self, pref_id: int) -> None:
        if not self.prefs.delete(pref_id):
            raise NotFoundError(f"no preference {pref_id}", "openclaw-local prefs list shows them")

    # ------------------------------------------------------------------ capture
    def _observe(self, text: str, *, standing: bool, origin: str, message_id: int | None, source_text: str | None,
                 confirm: bool) -> tuple[Preference, str]:
        active = "paused" if confirm else "active"
        return self.prefs.observe(
            text, lambda other: pt.same_request(text, other),
            new_status=active if standing else "candidate", new_needs_confirmation=confirm and standing,
            promoted_status=active, promoted_needs_confirmation=confirm,
            origin=origin, message_id=message_id, source_text=source_text)

    def capture_message(self, message_id: int | None, text: str, *, origin: str = "tui") -> list[Preference]:
        """Standing instructions in a user message become preferences (one-off ones: candidates).

        Call only with the user's own message (role ``user``). Regular expressions only."""
        if not self.settings.prefs_enabled or not (text or "").strip():
            return []
        out = []
        confirm = self._confirm(origin)
        try:
            for instruction, one_off in pt.standing_instructions(text):
                pref, _ = self._observe(instruction, standing=not one_off, origin=origin, message_id=message_id,
                                        source_text=text, confirm=confirm)
                out.append(pref)
        except Exception:  # never break the chat because of a preference
            log.exception("recording a preference from message %s failed", message_id)
        return out

    def observe_push_back(self, reply_id: int) -> list[Preference]:
        """The judge read the message after reply ``reply_id`` as a push-back with a hint: each
        change it asks for is a candidate, or promotes the same earlier request to active."""
        if not self.settings.prefs_enabled:
            return []
        msg = self.prefs.user_message_after(reply_id)
        if msg is None or not (msg["content"] or "").strip():
            return []
        confirm = msg["source"] is not None and self.settings.prefs_confirm_endpoint
        standing = {t for t, one_off in pt.standing_instructions(msg["content"]) if not one_off}
        out = []
        for request in pt.one_off_requests(msg["content"]):
            pref, _ = self._observe(request, standing=request in standing, origin="judge", message_id=msg["id"],
                                    source_text=msg["content"], confirm=confirm)
            out.append(pref)
        return out
