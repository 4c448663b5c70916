"""Config: precedence of sources, validation naming field/source/value, secrets, TOML."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_dists import write_echo

from memscreen_llm import ConfigError, UnknownBackendError, discover, resolve_config


@pytest.fixture
def registry(site: Path, unique: str):  # type: ignore[no-untyped-def]
    write_echo(site, "echo", unique)
    return discover({})


def test_defaults_when_nothing_is_set(registry) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve_config("echo", env={})
    assert resolved.config.base_url == "http://localhost:9999"
    assert resolved.config.temperature == 0.1
    assert resolved.sources == {}
    assert resolved.backend_source == "argument"


def test_precedence_argument_over_env_over_file(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "c.toml"
    toml.write_text('[llm]\nbackend = "echo"\n[llm.echo]\nmodel = "from-file"\n'
                    'temperature = 0.5\ntop_k = 3\n')
    env = {"MEMSCREEN_ECHO_MODEL": "from-env", "MEMSCREEN_ECHO_TEMPERATURE": "0.7"}
    resolved = resolve_config(None, {"model": "from-arg"}, config_file=toml, env=env)
    assert resolved.backend_source == f"file {toml} [llm]"
    assert resolved.config.model == "from-arg"
    assert resolved.config.temperature == 0.7
    assert resolved.config.top_k == 3
    assert resolved.sources == {
        "model": "argument",
        "temperature": "env MEMSCREEN_ECHO_TEMPERATURE",
        "top_k": f"file {toml} [llm.echo]",
    }


def test_backend_from_env_beats_file_and_default_is_ollama(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "c.toml"
    toml.write_text('[llm]\nbackend = "nope"\n')
    resolved = resolve_config(None, config_file=toml, env={"MEMSCREEN_LLM_BACKEND": "echo"})
    assert resolved.backend.name == "echo"
    assert resolved.backend_source == "env MEMSCREEN_LLM_BACKEND"
    with pytest.raises(UnknownBackendError, match="unknown backend 'ollama'"):
        resolve_config(None, env={})


def test_memscreen_env_names_and_canonical_names(registry) -> None:  # type: ignore[no-untyped-def]
    legacy = resolve_config("echo", env={"MEMSCREEN_ECHO_URL": "http://h:1"})
    assert legacy.config.base_url == "http://h:1"
    assert legacy.sources["base_url"] == "env MEMSCREEN_ECHO_URL"
    both = resolve_config("echo", env={"MEMSCREEN_ECHO_URL": "http://h:1",
                                          "MEMSCREEN_ECHO_BASE_URL": "http://h:2"})
    assert both.config.base_url == "http://h:2"


def test_default_config_file_in_cwd_and_env_config(registry, site: Path) -> None:  # type: ignore[no-untyped-def]
    Path("memscreen-llm.toml").write_text('[llm.echo]\nmodel = "cwd"\n')
    assert resolve_config("echo", env={}).config.model == "cwd"
    other = site.parent / "other.toml"
    other.write_text('[llm.echo-alias]\nmodel = "env-file"\n')
    resolved = resolve_config("echo", env={"MEMSCREEN_LLM_CONFIG": str(other)})
    assert resolved.config.model == "env-file"


@pytest.mark.parametrize(
    ("env", "field", "source", "text"),
    [
        ({"MEMSCREEN_ECHO_TEMPERATURE": "hot"}, "temperature", "env MEMSCREEN_ECHO_TEMPERATURE",
         "expected a number"),
        ({"MEMSCREEN_ECHO_TEMPERATURE": "7"}, "temperature", "env MEMSCREEN_ECHO_TEMPERATURE",
         "must be <= 2"),
        ({"MEMSCREEN_ECHO_BASE_URL": "localhost:8000"}, "base_url", "env MEMSCREEN_ECHO_BASE_URL",
         "must be an http:// or https:// URL"),
        ({"MEMSCREEN_ECHO_MAX_TOKENS": "0"}, "max_tokens", "env MEMSCREEN_ECHO_MAX_TOKENS",
         "must be >= 1"),
        ({"MEMSCREEN_ECHO_OPTIONS": "{bad"}, "options", "env MEMSCREEN_ECHO_OPTIONS",
         "expected JSON"),
    ],
)
def test_bad_env_values_name_field_source_and_value(registry, env, field, source, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        resolve_config("echo", env=env)
    assert err.value.field == field
    assert err.value.source == source
    assert text in str(err.value)
    assert repr(next(iter(env.values()))) in str(err.value)


def test_wrong_type_in_file_and_in_code(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "c.toml"
    toml.write_text('[llm.echo]\ntemperature = "warm"\n')
    with pytest.raises(ConfigError) as err:
        resolve_config("echo", config_file=toml, env={})
    assert err.value.source == f"file {toml} [llm.echo]"
    assert "temperature must be a number, got str" in str(err.value)
    with pytest.raises(ConfigError, match="max_tokens must be an integer") as err:
        resolve_config("echo", {"max_tokens": 1.5}, env={})
    assert err.value.source == "argument"


def test_unknown_keys_get_did_you_mean(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="unknown field 'base_ur' .*did you mean 'base_url'"):
        resolve_config("echo", {"base_ur": "http://x"}, env={})
    toml = tmp_path / "c.toml"
    toml.write_text('[llm]\nbakend = "echo"\n')
    with pytest.raises(ConfigError, match="unknown key 'bakend' in \\[llm\\]; did you mean 'backend'"):
        resolve_config("echo", config_file=toml, env={})
    toml.write_text('[llm.echo]\nmodell = "x"\n')
    with pytest.raises(ConfigError, match="did you mean 'model'") as err:
        resolve_config("echo", config_file=toml, env={})
    assert err.value.source == f"file {toml} [llm.echo]"


def test_bad_toml_and_missing_file(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "c.toml"
    toml.write_text("[llm\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        resolve_config("echo", config_file=toml, env={})
    with pytest.raises(ConfigError, match="does not exist") as err:
        resolve_config("echo", env={"MEMSCREEN_LLM_CONFIG": str(tmp_path / "none.toml")})
    assert err.value.source == "env MEMSCREEN_LLM_CONFIG"


def test_secrets_never_show(registry) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve_config("echo", {"api_key": "sk-abc123"},
                       env={"ECHO_TOKEN": "tok-xyz789"})
    config = resolved.config
    assert config.api_key == "sk-abc123" and config.token == "tok-xyz789"
    shown = repr(config) + str(resolved.described()) + str(config.public_dict())
    assert "sk-abc123" not in shown and "tok-xyz789" not in shown
    assert "'***'" in repr(config)
    with pytest.raises(ConfigError) as err:
        resolve_config("echo", {"token": 12345}, env={})
    assert "12345" not in str(err.value)


def test_text_values_are_coerced_by_field_type(registry) -> None:  # type: ignore[no-untyped-def]
    env = {"MEMSCREEN_ECHO_STOP": "a, b", "MEMSCREEN_ECHO_OPTIONS": '{"x": 1}',
           "MEMSCREEN_ECHO_TOP_K": "none", "MEMSCREEN_ECHO_SEED": "42"}
    config = resolve_config("echo", env=env).config
    assert config.stop == ["a", "b"]
    assert config.options == {"x": 1}
    assert config.top_k is None and config.seed == 42
