"""A password in a URL (http://user:password@host) is shown nowhere: reprs, public dicts,
errors, `config show`."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from plugin_dists import write_echo

import memscreen_llm
from memscreen_llm import BackendUnavailableError, create_llm
from memscreen_llm.config import redact_url

SECRET = "pa55-s3cret"
URL = f"http://me:{SECRET}@127.0.0.1:9/v1"


def test_redact_url() -> None:
    assert redact_url(URL) == "http://***@127.0.0.1:9/v1"
    assert redact_url("http://127.0.0.1:9/a@b") == "http://127.0.0.1:9/a@b"  # @ in the path
    assert redact_url("not a url") == "not a url"


def test_url_password_is_redacted_everywhere(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    memscreen_llm.get_registry(refresh=True)
    llm = create_llm("echo", base_url=URL)
    assert llm.config.base_url == URL  # type: ignore[attr-defined]  # the real one is used
    # MemScreen's factory given this config plus an override keeps the real URL too.
    again = memscreen_llm.LlmFactory.create("echo", llm.config, temperature=0.2)
    assert again.config.base_url == URL  # type: ignore[attr-defined]
    error = BackendUnavailableError(URL, cause=f"ConnectError: cannot connect to {URL}")
    for shown in (repr(llm), repr(llm.config), str(llm.config.public_dict()), str(error),
                  error.url):
        assert SECRET not in shown, shown
    shown = run_cli(site, "config", "show", "-b", "echo", "--set", f"base_url={URL}")
    assert shown.returncode == 0, shown.stderr
    assert SECRET not in shown.stdout + shown.stderr and "***@127.0.0.1" in shown.stdout
