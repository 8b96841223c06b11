"""doors/follow.py: one file followed through rotation, replacement and truncation.

Tail is driven by hand (each read() is one poll), so nothing here waits; follow() itself is
checked in a thread with a deadline. Its three users have their own tests: test_events.py
(events -f), test_transcript.py (transcript --follow), test_cli.py (logs).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import wait_until

from agent_orchestrator.doors.follow import Lines, Piece, Tail, follow


def drain(tail: Tail) -> list[Piece]:
    """Every piece the tail has now, up to the first poll that finds nothing."""
    pieces = []
    while (piece := tail.read()) is not None:
        pieces.append(piece)
    return pieces


def data(pieces: list[Piece]) -> bytes:
    return b"".join(p.data for p in pieces)


def test_a_missing_file_is_waited_for_and_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "log"
    tail = Tail(path, at_end=True)  # at_end is for a file already there, not a later one
    assert tail.read() is None
    path.write_bytes(b"one\n")
    assert tail.read() == Piece(b"one\n", fresh=True)
    with open(path, "ab") as handle:
        handle.write(b"two\n")
    assert drain(tail) == [Piece(b"two\n")]
    tail.close()


def test_at_end_skips_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"old\n")
    tail = Tail(path, at_end=True)
    assert tail.read() == Piece(b"", fresh=True)
    with open(path, "ab") as handle:
        handle.write(b"new\n")
    assert data(drain(tail)) == b"new\n"
    tail.close()


class Change(NamedTuple):
    name: str
    change: str  # what happens to the file while it is followed


CHANGES = [Change("rotated", "rename"), Change("deleted-and-recreated", "unlink"),
           Change("replaced", "replace"), Change("truncated", "truncate")]


def _apply(path: Path, change: str) -> None:
    if change == "rename":
        path.rename(path.with_name(path.name + ".1"))
    elif change == "unlink":
        path.unlink()
    elif change == "truncate":
        os.truncate(path, 0)
    if change == "replace":  # a bigger file put in its place at once
        fresh = path.with_name("fresh")
        fresh.write_bytes(b"new file, longer than the old one\n")
        fresh.replace(path)
    else:
        with open(path, "ab") as handle:
            handle.write(b"new\n")


@pytest.mark.parametrize("case", CHANGES, ids=[c.name for c in CHANGES])
def test_the_new_file_is_read_from_its_start(tmp_path: Path, case: Change) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"first line\nsecond line\n")
    tail = Tail(path)
    assert tail.read() == Piece(b"first line\nsecond line\n", fresh=True)
    _apply(path, case.change)
    pieces = drain(tail)
    if case.change == "truncate":
        assert pieces == [Piece(b"new\n", fresh=True)]
    else:  # the old file is finished, then the new one starts
        expected = b"new file, longer than the old one\n" if case.change == "replace" \
            else b"new\n"
        assert pieces == [Piece(b"", final=True), Piece(expected, fresh=True)]
    tail.close()


def test_the_old_file_is_read_to_its_end_before_the_switch(tmp_path: Path) -> None:
    """A writer that had the file open when it was renamed finishes its line there."""
    path = tmp_path / "log"
    path.write_bytes(b"a\n")
    tail = Tail(path)
    tail.read()
    with open(path, "ab") as late:
        path.rename(tmp_path / "log.1")
        path.write_bytes(b"c\n")
        late.write(b"b")
    pieces = drain(tail)
    assert pieces == [Piece(b"b"), Piece(b"", final=True), Piece(b"c\n", fresh=True)]
    lines = Lines()
    assert [line for p in [Piece(b"a\n", fresh=True), *pieces] for line in lines.feed(p)] == \
        [b"a", b"b", b"c"]
    tail.close()


def test_lines_hold_a_partial_line_until_its_newline() -> None:
    lines = Lines()
    assert lines.feed(Piece(b"one\ntw", fresh=True)) == [b"one"]
    assert lines.feed(Piece(b"o\nthr")) == [b"two"]
    assert lines.feed(Piece(b"ee", final=True)) == [b"three"]  # the file ended
    assert lines.feed(Piece(b"x", fresh=True)) == []
    assert lines.feed(Piece(b"yz\n", fresh=True)) == [b"yz"]  # "x" was cut off: dropped


def test_follow_yields_history_first_then_new_pieces_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"history\n")
    got: list[Piece] = []
    done, asked = threading.Event(), threading.Event()

    def stop() -> bool:
        asked.set()
        return done.is_set()

    def run() -> None:
        got.extend(follow(path, poll=0.02, stop=stop))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert asked.wait(5)
        assert got[0] == Piece(b"history\n", fresh=True)
        path.rename(tmp_path / "log.1")
        path.write_bytes(b"after rotation\n")
        wait_until(lambda: b"after rotation\n" in [p.data for p in got],
                   what="the rotated file's successor")
        at = len(got)
        os.truncate(path, 0)  # then a shorter line: the file shrank
        with open(path, "ab") as handle:
            handle.write(b"cut\n")
        wait_until(lambda: data(got[at:]) == b"cut\n", what="the truncated file's new line")
        assert got[at].fresh
    finally:
        done.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_ticks_mark_each_quiet_poll(tmp_path: Path) -> None:
    """`logs` renders a screen whose rows settle with time alone: it is woken by each poll
    that found nothing (an empty piece, neither fresh nor final); others are not."""
    path = tmp_path / "log"
    path.write_bytes(b"a\n")
    polls = 0

    def stop() -> bool:
        nonlocal polls
        polls += 1
        return polls > 4

    ticking = list(follow(path, poll=0.01, stop=stop, ticks=True))
    assert ticking[0] == Piece(b"a\n", fresh=True)
    assert ticking[1:] == [Piece(b"")] * 4
    polls = 0
    assert list(follow(path, poll=0.01, stop=stop)) == [Piece(b"a\n", fresh=True)]
