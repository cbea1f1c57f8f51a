"""Config files: what is read, and one clear error per mistake (file, key path, what)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trio_mailsync.config import load_config
from trio_mailsync.core.config import DEFAULT_FOLDERS
from trio_mailsync.core.errors import ConfigError
from trio_mailsync.providers.auth import OAuth2Auth, PasswordAuth
from trio_mailsync.providers.gmail import gmail_settings
from trio_mailsync.providers.imap import AccountLimits, ImapSettings, Security, imap_settings

GOOD = """
[accounts.work]
host = "imap.example.com"
username = "alice@example.com"
password_command = "pass show mail/work"
folders = ["INBOX", "role:sent", "Projects/*"]

[accounts.work.limits]
max_connections = 5
max_idle_time = 600

[accounts.home]
host = "mail.example.org"
security = "starttls"
username = "alice"
password_env = "HOME_MAIL_PASSWORD"

[accounts.gmail]
host = "imap.gmail.com"
username = "alice@gmail.com"
[accounts.gmail.oauth2]
token_url = "https://oauth2.googleapis.com/token"
client_id = "abc.apps.googleusercontent.com"
client_secret_env = "GMAIL_SECRET"
refresh_token = "1//refresh"
scope = "https://mail.google.com/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailsync.toml"
    path.write_text(text)
    return path


def test_a_good_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMAIL_SECRET", "s3cret")
    config = load_config(write(tmp_path, GOOD))
    work, home, _ = config.accounts
    assert {a.provider for a in config.accounts} == {"imap"}
    w, h, gmail = (imap_settings(a) for a in config.accounts)
    assert (work.id, w.host, w.port, w.security) == (
        "work",
        "imap.example.com",
        993,
        Security.TLS,
    )
    assert w.auth == PasswordAuth(command=("pass", "show", "mail/work"))
    assert work.folders == ("INBOX", "role:sent", "Projects/*")
    assert w.limits == AccountLimits(max_connections=5, max_idle_time=600.0)
    assert (h.port, h.security, h.auth) == (
        143,
        Security.STARTTLS,
        PasswordAuth(env="HOME_MAIL_PASSWORD"),
    )
    assert home.folders == DEFAULT_FOLDERS
    assert isinstance(gmail.auth, OAuth2Auth)
    assert gmail.auth.client_secret is not None
    assert gmail.auth.client_secret.reveal() == "s3cret"
    assert gmail.auth.refresh_token.reveal() == "1//refresh"
    assert "1//refresh" not in repr(config)
    assert config.account("home") is home


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[accounts]\n", "accounts", "at least one account"),
        ("x = 1\n", "x", "unknown key"),
        ("[accounts.a]\nhost = 'h'\nusername = 'u'\n", "accounts.a", "exactly one of password"),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\npassword_env = 'E'\n",
            "accounts.a",
            "found password, password_env",
        ),
        ("[accounts.a]\nusername = 'u'\npassword = 'p'\n", "accounts.a.host", "is missing"),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nport = 'x'\n",
            "accounts.a.port",
            "integer from 1 to 65535, not 'x'",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nport = 70000\n",
            "accounts.a.port",
            "not 70000",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nsecurity = 'ssl'\n",
            "accounts.a.security",
            "tls, starttls or none, not 'ssl'",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nsecurity = 'none'\n",
            "accounts.a.security",
            "allow_insecure",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n"
            "folders = ['INBOX', 'role:spam']\n",
            "accounts.a.folders[1]",
            "unknown role 'spam'",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nfolders = []\n",
            "accounts.a.folders",
            "non-empty list",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nhots = 'x'\n",
            "accounts.a.hots",
            "unknown key",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n"
            "[accounts.a.limits]\nmax_connections = 0\n",
            "accounts.a.limits.max_connections",
            "from 1 to 100",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\n"
            "[accounts.a.limits]\nmax_idle_time = -5\n",
            "accounts.a.limits.max_idle_time",
            "at least 0",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword_command = []\n",
            "accounts.a.password_command",
            "is empty",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\n[accounts.a.oauth2]\n"
            "token_url = 'u'\nclient_id = 'c'\n",
            "accounts.a.oauth2.refresh_token",
            "is missing",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\n[accounts.a.oauth2]\n"
            "token_url = 'u'\nclient_id = 'c'\n"
            "refresh_token_env = 'NOT_SET_ANYWHERE'\n",
            "accounts.a.oauth2.refresh_token_env",
            "NOT_SET_ANYWHERE is not set",
        ),
        (
            "[accounts.'a b']\nhost = 'h'\nusername = 'u'\npassword = 'p'\n",
            "accounts.a b",
            "an account id may hold",
        ),
    ],
)
def test_each_mistake_names_file_key_and_problem(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    assert info.value.key == key
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_a_mistyped_password_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 12345678\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "12345678" not in str(info.value)
    assert "not int" in str(info.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[accounts.a\n"))


def test_account_defaults_are_merged_into_every_account(tmp_path: Path) -> None:
    ca = tmp_path / "office-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = f"""
[account_defaults]
provider = "imap"
username = "shared"
folders = ["INBOX", "role:sent"]
ca_file = "{ca}"
[account_defaults.limits]
max_connections = 2
backoff_max = 60

[accounts.a]
host = "a.example.com"
password = "p"

[accounts.b]
host = "b.example.com"
username = "bob"
password = "p"
folders = ["*"]
[accounts.b.limits]
max_connections = 7
"""
    a, b = load_config(write(tmp_path, text)).accounts
    sa, sb = imap_settings(a), imap_settings(b)
    assert (sa.username, a.folders, sa.ca_file) == ("shared", ("INBOX", "role:sent"), ca)
    assert sa.limits == AccountLimits(max_connections=2, backoff_max=60.0)
    # The account's own keys win; tables are merged key by key.
    assert (sb.username, b.folders) == ("bob", ("*",))
    assert sb.limits == AccountLimits(max_connections=7, backoff_max=60.0)
    assert isinstance(sb, ImapSettings)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "[account_defaults]\nhots = 'h'\n[accounts.a]\nhost = 'h'\n",
            "account_defaults.hots",
            "unknown key",
        ),
        (
            "[accounts.a]\nprovider = 'pop3'\nhost = 'h'\n",
            "accounts.a.provider",
            "unknown provider 'pop3'; providers are gmail_api, imap",
        ),
        (
            "[account_defaults]\nprovider = 'pop3'\n[accounts.a]\nhost = 'h'\n",
            "accounts.a.provider",
            "unknown provider 'pop3'",
        ),
        (
            "[account_defaults]\nusername = 'u'\n[accounts.a]\nhost = 'h'\n",
            "accounts.a",
            "exactly one of password",
        ),
        (
            "[accounts.a]\nhost = 'h'\nusername = 'u'\npassword = 'p'\nfolders = ['role:inbx']\n",
            "accounts.a.folders[0]",
            "unknown role 'inbx'",
        ),
        (
            "[accounts.g]\nprovider = 'gmail_api'\npassword_env = 'X'\n",
            "accounts.g.password_env",
            "unknown key",
        ),
        (
            "[accounts.g]\nprovider = 'gmail_api'\n",
            "accounts.g.oauth2",
            "needs an [oauth2] table",
        ),
        (
            "[accounts.g]\nprovider = 'gmail_api'\nbase_url = 'http://gmail.example'\n"
            "[accounts.g.oauth2]\ntoken_url = 't'\nclient_id = 'c'\nrefresh_token = 'r'\n",
            "accounts.g.base_url",
            "plain http only to a loopback address",
        ),
        (
            "[accounts.g]\nprovider = 'gmail_api'\n[accounts.g.quota]\nhistory = -1\n"
            "[accounts.g.oauth2]\ntoken_url = 't'\nclient_id = 'c'\nrefresh_token = 'r'\n",
            "accounts.g.quota.history",
            "",
        ),
    ],
)
def test_provider_and_defaults_mistakes(tmp_path: Path, text: str, key: str, message: str) -> None:
    # (Gmail API accounts too: their keys, their required [oauth2], their base_url.)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert (info.value.key, message in info.value.message) == (key, True), info.value


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ('[accounts.a]\nhost = "h"\npassword = "p"\nca_file = "{path}"\n', "accounts.a.ca_file"),
        (
            '[accounts.a]\nhost = "h"\npassword = "p"\n[broadcast]\ncert_file = "{path}"\n',
            "broadcast.cert_file",
        ),
    ],
)
def test_a_missing_certificate_file_is_refused_at_load_naming_key_and_path(
    tmp_path: Path, where: str, key: str
) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, where.format(path=missing)))
    assert caught.value.key == key
    assert str(missing) in str(caught.value)
    assert "no such file" in str(caught.value)


def test_open_endpoints_are_checked(tmp_path: Path) -> None:
    base = '[accounts.a]\nhost = "h"\nusername = "u"\npassword = "p"\n[broadcast]\n'
    config = load_config(write(tmp_path, base + 'open_endpoints = ["healthz", "metrics"]\n'))
    assert config.broadcast.open_endpoints == ("healthz", "metrics")
    with pytest.raises(ConfigError, match="'api' cannot be opened"):
        load_config(write(tmp_path, base + 'open_endpoints = ["api"]\n'))


def test_a_gmail_api_account_reads_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMAIL_CLIENT_SECRET", "s")
    monkeypatch.setenv("GMAIL_REFRESH_TOKEN", "r")
    text = """
[accounts.personal]
provider = "gmail_api"
username = "alice@gmail.com"
folders = ["INBOX", "role:sent"]
poll_interval = 120
[accounts.personal.quota]
units_per_second = 100
[accounts.personal.oauth2]
token_url = "https://oauth2.googleapis.com/token"
client_id = "id.apps.googleusercontent.com"
client_secret_env = "GMAIL_CLIENT_SECRET"
refresh_token_env = "GMAIL_REFRESH_TOKEN"
"""
    (account,) = load_config(write(tmp_path, text)).accounts
    settings = gmail_settings(account)
    assert account.provider == "gmail_api"
    assert (settings.username, settings.poll_interval) == ("alice@gmail.com", 120.0)
    assert settings.base_url == "https://gmail.googleapis.com"
    assert (settings.quota.units_per_second, settings.quota.messages_get) == (100.0, 5)
    assert settings.auth.token_url == "https://oauth2.googleapis.com/token"
