"""Token storage (keyring, memory fallback), profiles on disk, and which credentials a command uses."""

from __future__ import annotations

import os
import stat

import keyring.backends.fail
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from credits_tui.auth import profiles, session, tokens
from credits_tui.auth.profiles import (
    Config,
    ConfigError,
    Profile,
    config_path,
    load_config,
    save_config,
)
from credits_tui.auth.session import NotSignedIn, credentials
from credits_tui.auth.tokens import SERVICE, TokenStore
from tests.support.memory_keyring import MemoryKeyring

SERVER = "https://credits.example"
OTHER_SERVER = "http://127.0.0.1:8000"
EMAIL = "ada@example.com"


class RefusingKeyring(MemoryKeyring):
    """A keyring that is there but will not store anything (locked, or the user said no)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("the collection is locked")


class BrokenKeyring(MemoryKeyring):
    """Every call fails, as when the Secret Service goes away mid-session."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError("D-Bus went away")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringError("D-Bus went away")


for _test_backend in (MemoryKeyring, RefusingKeyring, BrokenKeyring):  # never keyring's automatic choice
    KeyringBackend._classes.discard(_test_backend)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Config in a tmp dir; no token or server from the environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(tokens.TOKEN_ENV, raising=False)
    monkeypatch.delenv(session.SERVER_ENV, raising=False)


# --- the keyring -------------------------------------------------------------------------------


def test_set_get_delete_in_the_keyring():
    backend = MemoryKeyring()
    store = TokenStore(backend)
    assert store.get(SERVER, EMAIL) is None
    assert store.set(SERVER, EMAIL, "token-1") is True
    assert store.get(SERVER, EMAIL) == "token-1"
    assert store.notice is None
    # It really is in the keyring (another store on the same keyring sees it), under our service.
    assert TokenStore(backend).get(SERVER, EMAIL) == "token-1"
    assert [service for service, _ in backend.entries] == [SERVICE] == ["credits-tui"]
    assert store.set(SERVER, EMAIL, "token-2") is True  # a new sign-in replaces the old token
    assert list(backend.entries.values()) == ["token-2"]
    store.delete(SERVER, EMAIL)
    assert backend.entries == {}
    assert store.get(SERVER, EMAIL) is None
    store.delete(SERVER, EMAIL)  # deleting what is not there is fine


def test_one_entry_per_server_and_email():
    backend = MemoryKeyring()
    store = TokenStore(backend)
    store.set(SERVER, EMAIL, "tok-A")
    store.set(SERVER, "bob@example.com", "tok-B")
    store.set(OTHER_SERVER, EMAIL, "tok-C")
    assert len(backend.entries) == 3
    assert (store.get(SERVER, EMAIL), store.get(SERVER, "bob@example.com"), store.get(OTHER_SERVER, EMAIL)) == (
        "tok-A", "tok-B", "tok-C")
    for (_, username), token in backend.entries.items():
        assert token not in username  # the entry's name is no secret
    assert {username for _, username in backend.entries} >= {tokens.entry_name(SERVER, EMAIL)}
    assert all((EMAIL in u or "bob@example.com" in u) and (SERVER in u or OTHER_SERVER in u)
               for _, u in backend.entries)
    store.delete(SERVER, EMAIL)
    assert (store.get(SERVER, EMAIL), store.get(SERVER, "bob@example.com"), store.get(OTHER_SERVER, EMAIL)) == (
        None, "tok-B", "tok-C")


def test_email_case_does_not_make_a_second_entry():
    backend = MemoryKeyring()
    store = TokenStore(backend)
    store.set(SERVER, "Ada@Example.com", "a")
    assert store.get(SERVER, "ada@example.com") == "a"
    store.delete(SERVER, "ADA@EXAMPLE.COM")
    assert backend.entries == {}


def test_no_keyring_keeps_the_token_in_memory_and_says_so_once():
    store = TokenStore(keyring.backends.fail.Keyring())
    assert store.get(SERVER, EMAIL) is None
    assert store.notice is None
    assert store.set(SERVER, EMAIL, "token-1") is False
    assert store.get(SERVER, EMAIL) == "token-1"
    assert store.notice == tokens.NO_KEYRING_NOTICE and "keyring" in store.notice.lower()
    assert "token-1" not in store.notice
    store.set(OTHER_SERVER, EMAIL, "token-2")
    assert store.notice == tokens.NO_KEYRING_NOTICE  # one notice, not one per token
    assert store.get(OTHER_SERVER, EMAIL) == "token-2"
    store.delete(SERVER, EMAIL)
    assert store.get(SERVER, EMAIL) is None
    # Memory is this store's only: nothing outlives it.
    assert TokenStore(keyring.backends.fail.Keyring()).get(OTHER_SERVER, EMAIL) is None


def test_a_keyring_that_refuses_to_store_falls_back_to_memory():
    backend = RefusingKeyring()
    store = TokenStore(backend)
    assert store.set(SERVER, EMAIL, "token-1") is False
    assert store.notice == tokens.NO_KEYRING_NOTICE
    assert store.get(SERVER, EMAIL) == "token-1"
    assert backend.entries == {}
    store.delete(SERVER, EMAIL)
    assert store.get(SERVER, EMAIL) is None


def test_a_keyring_that_fails_to_read_is_a_missing_token_not_a_crash():
    store = TokenStore(BrokenKeyring())
    assert store.get(SERVER, EMAIL) is None
    assert store.notice == tokens.NO_KEYRING_NOTICE
    store.delete(SERVER, EMAIL)  # no exception either


def test_token_from_environment(monkeypatch):
    assert tokens.token_from_environment() is None
    monkeypatch.setenv("CREDITS_TUI_TOKEN", "  ")
    assert tokens.token_from_environment() is None
    monkeypatch.setenv("CREDITS_TUI_TOKEN", " env-token\n")
    assert tokens.token_from_environment() == "env-token"


# --- profiles ------------------------------------------------------------------------------------


def test_config_round_trip_in_the_user_config_dir(tmp_path):
    path = config_path()
    assert path == tmp_path / "config" / "credits-tui" / "config.toml"
    assert load_config() == Config()  # no file yet: empty, not an error
    config = Config(profiles={"default": Profile(server=SERVER, email=EMAIL),
                              "staging": Profile(server=OTHER_SERVER, email="bob@example.com")}, theme="dark")
    save_config(config)
    assert load_config() == config
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]  # no temporary left behind
    assert EMAIL in path.read_text()


def test_saving_again_replaces_the_file(tmp_path):
    path = tmp_path / "elsewhere" / "config.toml"
    save_config(Config(profiles={"default": Profile(server=SERVER, email=EMAIL)}), path)
    save_config(Config(profiles={"default": Profile(server=OTHER_SERVER, email=EMAIL)}), path)
    assert load_config(path).profiles["default"].server == OTHER_SERVER
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("text", ["[profiles.default\nserver = ", "profiles = 3\n",
                                  "[profiles.default]\nserver = 'https://x'\n"])
def test_a_broken_config_is_a_config_error(text):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ConfigError) as broken:
        load_config()
    assert str(path) in str(broken.value)
    assert path.read_text() == text  # reported, not silently replaced


# --- which credentials a command uses --------------------------------------------------------------


def profile_config(server: str = SERVER, email: str = EMAIL) -> Config:
    return Config(profiles={profiles.DEFAULT_PROFILE: Profile(server=server, email=email)})


def test_the_environment_token_wins(monkeypatch):
    store = TokenStore(MemoryKeyring())
    store.set(SERVER, EMAIL, "keyring-token")
    monkeypatch.setenv("CREDITS_TUI_TOKEN", "env-token")
    creds = credentials(store, config=profile_config())
    assert (creds.server, creds.token, creds.from_environment) == (SERVER, "env-token", True)


def test_environment_token_and_server_need_no_profile(monkeypatch):
    monkeypatch.setenv("CREDITS_TUI_TOKEN", "env-token")
    monkeypatch.setenv("CREDITS_TUI_SERVER", OTHER_SERVER + "/api/v1/")
    creds = credentials(TokenStore(MemoryKeyring()), config=Config())
    assert (creds.server, creds.token, creds.email, creds.from_environment) == (
        OTHER_SERVER, "env-token", None, True)


def test_environment_token_and_server_work_beside_a_broken_config(monkeypatch):
    """A script that gives both is not stopped by a config file it does not need."""
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[profiles.default\nserver = ")
    monkeypatch.setenv("CREDITS_TUI_TOKEN", "env-token")
    with pytest.raises(ConfigError):  # the profile's server is needed: the broken file is said
        credentials(TokenStore(MemoryKeyring()))
    monkeypatch.setenv("CREDITS_TUI_SERVER", OTHER_SERVER + "/api/v1/")
    creds = credentials(TokenStore(MemoryKeyring()))
    assert (creds.server, creds.token, creds.from_environment) == (OTHER_SERVER, "env-token", True)
    creds = credentials(TokenStore(MemoryKeyring()), server=SERVER)  # --server wins over the environment
    assert (creds.server, creds.token) == (SERVER, "env-token")


def test_no_profile_is_not_signed_in(monkeypatch):
    store = TokenStore(MemoryKeyring())
    with pytest.raises(NotSignedIn) as none:
        credentials(store, config=Config())
    assert "login" in str(none.value)
    monkeypatch.setenv("CREDITS_TUI_SERVER", SERVER)
    with pytest.raises(NotSignedIn):
        credentials(store, config=Config())
    with pytest.raises(NotSignedIn):  # from the config file on disk, which does not exist
        credentials(store)


def test_the_token_comes_from_the_store():
    store = TokenStore(MemoryKeyring())
    store.set(SERVER, EMAIL, "keyring-token")
    save_config(profile_config())
    for creds in (credentials(store, config=profile_config()), credentials(store)):
        assert (creds.server, creds.email, creds.token, creds.from_environment) == (
            SERVER, EMAIL, "keyring-token", False)


def test_a_profile_without_a_stored_token_is_not_signed_in():
    with pytest.raises(NotSignedIn) as missing:
        credentials(TokenStore(MemoryKeyring()), config=profile_config())
    assert EMAIL in str(missing.value) and "login" in str(missing.value)


def test_a_stored_token_is_never_sent_to_another_server(monkeypatch):
    store = TokenStore(MemoryKeyring())
    store.set(SERVER, EMAIL, "keyring-token")
    with pytest.raises(NotSignedIn):
        credentials(store, server=OTHER_SERVER, config=profile_config())
    monkeypatch.setenv("CREDITS_TUI_SERVER", OTHER_SERVER)
    with pytest.raises(NotSignedIn):
        credentials(store, config=profile_config())
