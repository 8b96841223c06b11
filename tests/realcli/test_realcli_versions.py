"""One fact, checked offline: the newest CLI versions the presets were checked against
(`CHECKED_VERSIONS`, what `agents doctor` compares an installed CLI with) are the ones this
tier runs as its `newest` set (versions.toml). Bumping one without the other fails here."""

from __future__ import annotations

import clis
import pytest

from agent_orchestrator.config.presets import CHECKED_VERSIONS

pytestmark = pytest.mark.offline


def test_checked_versions_are_the_newest_set() -> None:
    assert CHECKED_VERSIONS == clis.versions()["sets"]["newest"]
