"""Fallback chains as configured: `[llm] fallbacks` in the file, MEMSCREEN_LLM_FALLBACKS,
`create_llm(fallbacks=...)`, each backend with its own section, and what `config show`
and `doctor` say about the chain. Moving along a chain on real failures is tested with
real engines (vLLM -> Ollama) in the `integration` nox session (tests_integration/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from plugin_dists import write_echo

from memscreen_llm import ConfigError, UsageError, create_llm
from memscreen_llm._fallback import DEFAULT_COOLDOWN, FallbackLLM

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def two(site: Path, unique: str) -> Path:
    """Two echo backends, `echo` and `echo2`; returns the folder for config files."""
    write_echo(site, "echo", unique)
    write_echo(site, "echo2", unique + "b")
    return site.parent


def _file(folder: Path, text: str) -> Path:
    path = folder / "memscreen-llm.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fallbacks_from_the_file_each_with_its_own_section(two: Path) -> None:
    path = _file(two, '[llm]\nbackend = "echo"\nfallbacks = ["echo2"]\nfallback_cooldown = 5\n'
                      '[llm.echo]\nmodel = "first"\n[llm.echo2]\nmodel = "second"\n')
    llm = create_llm(config_file=path)
    assert isinstance(llm, FallbackLLM)
    assert llm.labels == ("echo", "echo2") and llm.cooldown == 5.0
    assert [m.config.model for m in llm.members] == ["first", "second"]
    assert repr(llm) == "FallbackLLM(echo -> echo2, cooldown=5)"
    result = llm.chat(MESSAGES)
    assert (result.content, result.backend) == ("hello there", "echo")
    stream = llm.stream(MESSAGES)
    assert "".join(d.content or "" for d in stream).strip() == "hello there"
    assert stream.backend == "echo" and llm.skipped() == {}
    # The file's chain is the file's backend's: the fields of create_llm are echo's only.
    assert create_llm(config_file=path, model="m").members[1].config.model == "second"


def test_env_over_file_and_the_argument_over_both(two: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plain = create_llm("echo")
    assert not isinstance(plain, FallbackLLM) and plain.chat(MESSAGES).backend == "echo"
    monkeypatch.setenv("MEMSCREEN_LLM_FALLBACKS", "echo2")
    monkeypatch.setenv("MEMSCREEN_LLM_FALLBACK_COOLDOWN", "2.5")
    chained = create_llm("echo")
    assert isinstance(chained, FallbackLLM) and chained.labels == ("echo", "echo2")
    assert chained.cooldown == 2.5
    assert not isinstance(create_llm("echo", fallbacks=[]), FallbackLLM)  # [] = none
    given = create_llm("echo", fallbacks=[create_llm("echo2", model="mine")],
                       fallback_cooldown=1)
    assert isinstance(given, FallbackLLM) and given.cooldown == 1.0
    assert given.members[1].config.model == "mine"
    monkeypatch.delenv("MEMSCREEN_LLM_FALLBACK_COOLDOWN")
    assert create_llm("echo").cooldown == DEFAULT_COOLDOWN  # type: ignore[attr-defined]
    # A configured chain is the chosen backend's: naming that backend itself is no loop.
    assert not isinstance(create_llm("echo2"), FallbackLLM)
    with pytest.raises(ConfigError, match="already in the chain"):
        create_llm("echo", fallbacks=["echo"])  # but asked for in code, it is a mistake


@pytest.mark.parametrize(("toml", "needle"), [
    ('fallbacks = "echo2"', "fallbacks must be a list of backend names"),
    ("fallbacks = [1]", "fallbacks must be a list of backend names"),
    ("fallback_cooldown = -1", "fallback_cooldown: bad value -1"),
    ('fallback_cooldown = "soon"', "fallback_cooldown: bad value 'soon'"),
    ('fallbacks = ["nosuch"]', "unknown backend 'nosuch'"),
    ('fallbacks = ["echo2", "echo2"]', "backend 'echo2' is already in the chain"),
])
def test_a_bad_chain_in_the_file_names_the_key_the_source_and_the_fix(
        two: Path, toml: str, needle: str) -> None:
    path = _file(two, f'[llm]\nbackend = "echo"\n{toml}\n')
    with pytest.raises(ConfigError) as err:
        create_llm(config_file=path)
    assert needle in str(err.value) and f"source: file {path} [llm]" in str(err.value)
    assert "fix:" in str(err.value)


def test_bad_chains_from_env_and_arguments(two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"write fallbacks=\['echo2'\]"):
        create_llm("echo", fallbacks="echo2")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="source: argument"):
        create_llm("echo", fallbacks=["echo2"], fallback_cooldown=-3)
    monkeypatch.setenv("MEMSCREEN_LLM_FALLBACK_COOLDOWN", "soon")
    with pytest.raises(ConfigError, match="source: env MEMSCREEN_LLM_FALLBACK_COOLDOWN"):
        create_llm("echo")


def test_config_show_and_doctor_show_the_chain(site: Path, two: Path) -> None:
    path = _file(two, '[llm]\nbackend = "echo"\nfallbacks = ["echo2"]\n'
                      '[llm.echo2]\nmodel = "second"\n')
    text = run_cli(site, "config", "show", "--config", str(path))
    assert text.returncode == 0, text.stderr
    assert f"fallbacks = ['echo2']    (file {path} [llm])" in text.stdout
    assert "fallback_cooldown = 30.0    (default)" in text.stdout
    assert "[fallback echo2]\n" in text.stdout
    assert f"model = 'second'    (file {path} [llm.echo2])" in text.stdout
    data = json.loads(run_cli(site, "config", "show", "--json", "--config", str(path)).stdout)
    chain = data["fallbacks"]
    assert chain["source"] == f"file {path} [llm]" and chain["cooldown"]["value"] == 30.0
    assert chain["backends"][0]["backend"] == "echo2"
    assert chain["backends"][0]["fields"]["model"]["value"] == "second"
    doctor = run_cli(site, "doctor", "--config", str(path))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "ok    chain      echo -> echo2 (fallbacks from file" in doctor.stdout
    assert "ok    fallback   echo2 from plugin-echo2 1.0" in doctor.stdout
    assert doctor.stdout.count("ok    server") == 2  # each backend's own checks
    chat = run_cli(site, "chat", "--json", "--config", str(path), "hi")
    assert json.loads(chat.stdout)["backend"] == "echo", chat.stderr


def test_doctor_fails_for_a_fallback_that_cannot_be_made(site: Path, two: Path) -> None:
    path = _file(two, '[llm]\nbackend = "echo"\nfallbacks = ["echo2"]\n'
                      '[llm.echo2]\ntimeout = -1\n')
    doctor = run_cli(site, "doctor", "--config", str(path))
    assert doctor.returncode == 2, doctor.stdout
    assert "ok    backend    echo" in doctor.stdout  # the first backend is still checked
    assert "FAIL  fallback   echo2: timeout" in doctor.stdout


def test_memscreens_llm_factory_takes_the_configured_chain(
        two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memscreen_llm import LlmFactory

    monkeypatch.setenv("MEMSCREEN_LLM_FALLBACKS", "echo2")
    llm = LlmFactory.create("echo", {"model": "m"})
    assert isinstance(llm, FallbackLLM) and llm.labels == ("echo", "echo2")
    assert llm.generate_response(MESSAGES) == "hello there"
