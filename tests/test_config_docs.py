"""docs/config.md names every key the config parser reads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from trio_mailsync.config import parse_config
from trio_mailsync.core import config as core_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def every_key(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """The keys each table allows, recorded while a config with every table is parsed."""
    seen: dict[str, set[str]] = {}
    only = core_config.TableReader.only

    def record(self: Any, t: Any, key: str, allowed: set[str]) -> None:
        key = re.sub(r"accounts\.[^.]+", "accounts.<id>", key)
        seen.setdefault(re.sub(r"webhooks\[\d+\]", "webhooks", key), set()).update(allowed)
        only(self, t, key, allowed)

    monkeypatch.setattr(core_config.TableReader, "only", record)
    monkeypatch.setenv("SECRET", "x")
    oauth = {"token_url": "https://t", "client_id": "c", "refresh_token_env": "SECRET"}
    parse_config(
        {
            "accounts": {
                "a": {"host": "h", "username": "u", "oauth2": oauth, "limits": {}},
                "g": {"provider": "gmail_api", "oauth2": oauth, "quota": {}},
            },
            "account_defaults": {},
            "store": {},
            "service": {},
            "broadcast": {},
            "events": {},
            "webhooks": [{"name": "w", "url": "https://x", "secret_env": "SECRET"}],
        }
    )
    return seen


def test_every_config_key_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text()
    keys = every_key(monkeypatch)
    assert {"", "service", "broadcast", "accounts.<id>.limits", "webhooks"} <= set(keys)
    assert "accounts.<id>.quota" in keys
    missing = sorted(
        f"{table or '<top>'}.{name}"
        for table, names in keys.items()
        for name in names
        if f"`{name}`" not in text
    )
    assert missing == []


@pytest.mark.parametrize("document", ["README.md", "docs/providers.md", "docs/config.md"])
def test_the_config_examples_in_the_documents_load(
    document: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"  # an example's CA file stands for one that exists
    ca_file.write_text("")
    text = (DOC.parent.parent / document).read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[accounts." in b]
    assert blocks, f"{document} has a config example"
    for name in re.findall(r'_env = "(\w+)"', text):
        monkeypatch.setenv(name, "x")
    for block in blocks:
        block = re.sub(r'ca_file = "[^"]*"', f'ca_file = "{ca_file}"', block)
        config = parse_config(tomllib.loads(block), path=document)
        assert config.accounts
