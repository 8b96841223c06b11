"""doors/transcripttail.py: the last record of a Claude Code transcript, when it is an API
error, in the shape Claude Code 2.1 writes it (captured against the loopback fake model)."""

from __future__ import annotations

import json
from pathlib import Path

from agent_orchestrator.doors.transcripttail import TAIL_BYTES, Tail, last_api_error

USAGE_LIMIT = {  # Claude Code 2.1.197, subscriber auth, fake model answering 429 usage limit
    "parentUuid": "2202ebb7", "isSidechain": False, "type": "assistant",
    "uuid": "b922fafe", "timestamp": "2026-12-04T17:14:16.383Z",
    "message": {"id": "9852b597", "model": "<synthetic>", "role": "assistant",
                "type": "message", "stop_reason": "stop_sequence",
                "content": [{"type": "text",
                             "text": "You've hit your session limit · resets 7:14pm (UTC)"}]},
    "requestId": "req_fakeb83e7d750de74eff", "error": "rate_limit", "isApiErrorMessage": True,
    "apiErrorStatus": 429, "entrypoint": "cli", "sessionId": "b4483f47"}
OVERLOADED = {**USAGE_LIMIT, "error": "server_error", "apiErrorStatus": None,
              "message": {"content": [{"type": "text", "text": "API Error: Repeated 529 "
                                       "Overloaded errors."}]}}
ANSWER = {"type": "assistant", "timestamp": "2026-12-04T17:15:00.000Z",
          "message": {"content": [{"type": "text", "text": "Hello"}]}}
PROMPT = {"type": "user", "timestamp": "2026-12-04T17:16:00.000Z",
          "message": {"content": "continue"}}
SUMMARY = {"type": "summary", "summary": "A chat"}


def write(path: Path, *records: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_usage_limit_record_is_read_with_its_text(tmp_path: Path) -> None:
    error = last_api_error(write(tmp_path / "t.jsonl", ANSWER, USAGE_LIMIT, SUMMARY))
    assert error is not None
    assert (error.status, error.kind) == (429, "rate_limit")
    assert error.text == "You've hit your session limit · resets 7:14pm (UTC)"
    assert error.wall == 1796404456.383


def test_only_the_last_conversation_record_counts(tmp_path: Path) -> None:
    """An error followed by an answer or a new prompt is history."""
    assert last_api_error(write(tmp_path / "a.jsonl", USAGE_LIMIT, ANSWER)) is None
    assert last_api_error(write(tmp_path / "b.jsonl", USAGE_LIMIT, PROMPT)) is None
    overloaded = last_api_error(write(tmp_path / "c.jsonl", ANSWER, OVERLOADED))
    assert overloaded is not None and overloaded.status is None
    assert overloaded.kind == "server_error"


def test_missing_garbage_and_huge_files(tmp_path: Path) -> None:
    assert last_api_error(tmp_path / "missing.jsonl") is None
    garbage = tmp_path / "g.jsonl"
    garbage.write_bytes(b"\xff\xfe not json\n{\n[1,2]\n")
    assert last_api_error(garbage) is None
    big = tmp_path / "big.jsonl"  # only the tail is read; a cut first line is skipped
    with big.open("w") as out:
        for n in range(3 * TAIL_BYTES // 60):
            out.write(json.dumps({"type": "assistant", "n": n, "message": {}}) + "\n")
        out.write(json.dumps(USAGE_LIMIT) + "\n")
    error = last_api_error(big)
    assert error is not None and error.status == 429


def test_tail_rereads_only_changed_files_and_forgets_others(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", USAGE_LIMIT)
    tail = Tail()
    assert set(tail.read_all({"a": path})) == {"a"}
    with path.open("a") as out:
        out.write(json.dumps(ANSWER) + "\n")
    assert tail.read_all({"a": path}) == {}
    assert tail.read_all({}) == {} and tail._seen == {}


def test_a_fifo_or_device_named_by_a_hook_is_not_read(tmp_path: Path) -> None:
    """The path comes from a hook's payload: a FIFO there must not block a watchdog pass
    (opened without blocking, then refused as no regular file), nor a device be read."""
    import os

    os.mkfifo(tmp_path / "fifo.jsonl")
    assert last_api_error(tmp_path / "fifo.jsonl") is None  # returns at once
    assert last_api_error(Path("/dev/zero")) is None
