"""redact(): each secret kind becomes its placeholder, look-alikes stay, hostile text is fast."""

from __future__ import annotations

import time

import pytest

from agent_orchestrator.core.redact import KINDS, LineRedactor, redact

# Fake keys, built so the file itself holds nothing a secret scanner would flag.
MIX = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
ANTHROPIC = "sk-ant-" + "api03-" + MIX + "-_xyZ"
OPENAI = "sk-" + MIX + "abcdefghijkl"
OPENAI_PROJ = "sk-" + "proj-" + MIX + "_Ab-Cd"
GITHUB = {prefix: prefix + MIX for prefix in ("ghp_", "gho_", "ghu_", "ghs_")}
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" + "_" + MIX
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK = "xoxb-" + "123456789012-1234567890123-" + MIX[:24]
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
PEM_BODY = "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Wp3\nbV5EW9LQo2Ed8bPVvq4nm2K9JkWVcQ7uSoHw==\n"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(("text", "expected"), [
    (f"key {ANTHROPIC} end", "key [REDACTED:anthropic] end"),
    (f"OPENAI={OPENAI}.", "OPENAI=[REDACTED:openai]."),
    # Coloured: the escape sequence's final letter is no part of a word.
    (f"\x1b[1;33m{OPENAI}\x1b[0m \x1b[Kghp_{MIX}", "\x1b[1;33m[REDACTED:openai]\x1b[0m "
     "\x1b[K[REDACTED:github]"),
    (f"'{OPENAI_PROJ}'", "'[REDACTED:openai]'"),
    *[(f"token: {token}", "token: [REDACTED:github]") for token in GITHUB.values()],
    (f"({GITHUB_PAT})", "([REDACTED:github])"),
    (f"aws_access_key_id = {AWS}", "aws_access_key_id = [REDACTED:aws]"),
    (f"slack {SLACK}\n", "slack [REDACTED:slack]\n"),
    (f"?key={GOOGLE}&x=1", "?key=[REDACTED:google]&x=1"),
    ('curl -H "Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.ab-c_d" https://x',
     'curl -H "Authorization: Bearer [REDACTED:bearer]" https://x'),
    ('{"authorization": "bearer 0123456789abcdef"}',
     '{"authorization": "bearer [REDACTED:bearer]"}'),
    (f"before\n{PEM}\nafter", "before\n[REDACTED:private-key]\nafter"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\r\n"
     "-----END OPENSSH PRIVATE KEY-----\r\n$ ", "[REDACTED:private-key]\r\n$ "),
    (f"cut: -----BEGIN PRIVATE KEY-----\n{PEM_BODY}more", "cut: [REDACTED:private-key]"),
    ("export OPENAI_API_KEY=abc123 ok", "export OPENAI_API_KEY=[REDACTED:env] ok"),
    ("DB_PASSWORD='hunter 2' next", "DB_PASSWORD='[REDACTED:env]' next"),
    ('GITHUB_TOKEN="x y z"', 'GITHUB_TOKEN="[REDACTED:env]"'),
    ("MY_APP_SECRET = s3cr3t;", "MY_APP_SECRET = [REDACTED:env];"),
    ("PASSWORD=pw", "PASSWORD=[REDACTED:env]"),
    # A known key in an env assignment keeps its more precise kind.
    (f"ANTHROPIC_API_KEY={ANTHROPIC}", "ANTHROPIC_API_KEY=[REDACTED:anthropic]"),
])
def test_secret_becomes_placeholder(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_every_kind_is_covered_by_the_table() -> None:
    samples = [ANTHROPIC, OPENAI, GITHUB["ghp_"], AWS, SLACK, GOOGLE, PEM,
               "Authorization: Bearer 0123456789abcdef", "A_TOKEN=x"]
    seen = {redact(s).split("[REDACTED:")[1].split("]")[0] for s in samples}
    assert seen == set(KINDS)


LOOK_ALIKES = [
    "see task-list and risk-management-framework-for-everyone-2024-Q1",
    "desk-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 (sk- inside a word)",
    "sk-learn-compatible-estimators-for-everyone",  # prose: no digit, no capital
    "sk-Short123 sk-ant-Short123",  # fewer than 20 key characters
    "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "AKIA1234 and AKIAIOSFODNN7EXAMPL and akiaiosfodnn7example",
    "ghp_short gho_ ghs_total_count github_pat_",
    "Authorization: Bearer $TOKEN, Authorization: Bearer <token>, Bearer abcdef123456",
    "xoxo-gossip xoxb xoxb-no-digits-here-at-all",
    "AIzaShort AIza",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n",
    "MAX_TOKENS=4096 TOKEN_COUNT=5 PASSWORD_MIN_LENGTH=8 NEXT_TOKEN= API_KEYS=3",
    'password = "x" in lower case code, secret=1',
    "KEYPASSWORDS=no, FOO_TOKENIZER=bert",
    "-sk-AbCdEfGhIjKlMnOpQrStUvWx01 (a flag-like suffix, not a key start)",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_placeholders_are_stable() -> None:
    once = redact(f"X_TOKEN={OPENAI} {PEM} Authorization: Bearer 0123456789abcdef")
    assert redact(once) == once


HOSTILE = {
    "sk- run": "sk-" * 350_000,
    "sk-ant- run": "sk-ant-" * 150_000,
    "lowercase key body": " sk-" + "a" * 1_000_000,
    "spaced sk-": "x sk-a" * 170_000,
    "BEGIN without key": "-----BEGIN " * 100_000,
    "BEGIN lines": "-----BEGIN RSA PRIVATE KEY-----\n" * 32_000,
    "END-ish": ("-----END RSA" + " " * 40) * 20_000,
    "AKIA run": "AKIA" * 260_000,
    "identifier": "A" * 1_000_000,
    "token names": "_TOKEN" * 170_000,
    "spaced token names": "X_TOKEN " * 130_000,
    "assignments": "A_TOKEN=" * 130_000,
    "long value": "A_TOKEN=" + "v" * 1_000_000,
    "bearer headers": "Authorization: Bearer " * 48_000,
    "ghp run": "ghp_" * 250_000,
    "xox run": "xoxb-1" * 170_000,
    "AIza run": "AIza" * 250_000,
    "mixed": ("sk-AbC AKIA ghp_ -----BEGIN xoxb-1 AIza Authorization: bearer _TOKEN= \n"
              * 15_000),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_megabyte_is_fast(name: str) -> None:
    text = HOSTILE[name]
    assert len(text) >= 1_000_000
    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 1.0


def test_line_redactor_drops_a_key_fed_line_by_line() -> None:
    stream = LineRedactor()
    lines = ["$ cat id_rsa\r\n", "-----BEGIN RSA PRIVATE KEY-----\r\n",
             *[line + "\r\n" for line in PEM_BODY.splitlines()],
             "-----END RSA PRIVATE KEY-----\r\n", f"$ echo {OPENAI}\r\n"]
    out = "".join(stream.line(line) for line in lines)
    assert out == "$ cat id_rsa\r\n[REDACTED:private-key]\r\n$ echo [REDACTED:openai]\r\n"
    assert "MIIE" not in out and stream.key_lines is None


def test_line_redactor_resumes_on_a_line_that_is_no_key_body() -> None:
    stream = LineRedactor()
    text = "grep: -----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZi\nok, done.\nnext\n"
    assert stream.text(text) == "grep: [REDACTED:private-key]\nok, done.\nnext\n"


def test_line_redactor_text_matches_redact_without_keys() -> None:
    text = f"a {OPENAI}\nAuthorization: Bearer 0123456789abcdef\nplain\n"
    assert LineRedactor().text(text) == redact(text)


def test_line_redactor_gives_up_on_an_endless_key() -> None:
    stream = LineRedactor()
    body = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\n"
    out = stream.text("-----BEGIN PRIVATE KEY-----\n" + body * 300)
    assert out == "[REDACTED:private-key]\n" + body * 100  # 200 lines dropped, then it resumes
