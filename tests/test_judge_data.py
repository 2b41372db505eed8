"""The judge's data files say what they are: the frozen test set is unchanged and shares no line
with any training or development file."""

from __future__ import annotations

import hashlib

from openclaw_local.judge.data import ASSETS, DEV_FILE, SPLIT_FILES, TEST_FILE, TEST_PATH, TRAIN_FILES, load_labeled, load_splits

# assets/judge/test.jsonl as frozen (docs/judge_data.md): measure on it, never edit it
TEST_SHA256 = "00b6d532ccf054eba7881b29186892c0dc0bd8aca665b452e80ca75ce5d52c98"


def _key(row: dict) -> tuple[str, ...]:
    """A line's prompt + reply + next state, case and whitespace normalised."""
    return tuple(" ".join((row.get(k) or "").split()).casefold() for k in ("prompt", "reply", "next_state"))


def test_every_file_has_one_role():
    files = {p.name for p in ASSETS.glob("*.jsonl")}
    assert files == {*TRAIN_FILES, DEV_FILE, *SPLIT_FILES, TEST_FILE}


def test_the_test_set_is_frozen():
    assert hashlib.sha256(TEST_PATH.read_bytes()).hexdigest() == TEST_SHA256


def test_no_test_line_is_in_training_or_development_data():
    test = {_key(r) for r in load_labeled(TEST_PATH)}
    assert len(test) == 260
    for name in (*TRAIN_FILES, DEV_FILE, *SPLIT_FILES):
        shared = test & {_key(r) for r in load_labeled(ASSETS / name)}
        assert not shared, f"{name} repeats {len(shared)} test line(s)"


def test_training_and_dev_lines_are_apart():
    """A line of a file that holds both (its "split" field) is read as one or the other, never both."""
    train, dev, _ = load_splits()
    assert not {_key(r) for r in train} & {_key(r) for r in dev}
    for name in SPLIT_FILES:
        assert {r["split"] for r in load_labeled(ASSETS / name)} == {"train", "dev"}
