"""Hostile plugins at discovery: BaseExceptions, stdout, hangs, broken dist-info, name grabs.

Each plugin is a real distribution on sys.path (plugin_dists.write_dist); where the
process matters (exit codes, stdout, Ctrl-C, exiting while an import hangs) the real CLI
runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli
from plugin_dists import API_HOOK, write_dist, write_echo

from memscreen_llm import ConfigError, PluginLoadError, discover
from memscreen_llm import testing as kit
from memscreen_llm._entrypoints import entry_points
from memscreen_llm._registry import PluginStatus, Registry

HOOKS = "from memscreen_llm import BackendSpec, ParserSpec, hookimpl\n" + API_HOOK
LAZY = 'config_class="memscreen_llm.config:BaseLlmConfig", factory="nowhere_at_all:make"'


def plugin(name: str, *, before: str = "", hook_body: str = "", aliases: tuple[str, ...] = (),
           parsers: tuple[str, ...] = ()) -> str:
    """A plugin module registering backend `name` (lazy targets: nothing else imported)."""
    lines = [HOOKS, before, "@hookimpl", "def register_backends(register):"]
    lines += [f"    {line}" for line in hook_body.splitlines()]
    if name:
        lines.append(f"    register(BackendSpec(name={name!r}, aliases={aliases!r}, {LAZY}))")
    lines.append("    pass")
    if parsers:
        lines += ["@hookimpl", "def register_parsers(register):"]
        lines += [f"    register(ParserSpec(name={p!r}, reasoning='nowhere_at_all:R'))"
                  for p in parsers]
    return "\n".join(lines) + "\n"


def status(registry: Registry, name: str) -> tuple[str, str | None]:
    found = next(p for p in registry.plugins if p.name == name)
    return found.status.value, found.error


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(kit.ENV_PREFIXES)}
    return {**env, **extra}


# -- BaseExceptions are the plugin's -----------------------------------------------------

@pytest.mark.parametrize(("source", "needle"), [
    ("import sys\nsys.exit(3)\n", "import raised SystemExit(3)"),
    ("raise SystemExit('bye')\n", "import raised SystemExit('bye')"),
    ("raise KeyboardInterrupt\n", "import raised KeyboardInterrupt()"),
    ("class Odd(BaseException):\n    pass\nraise Odd('x')\n", "import raised Odd('x')"),
    (HOOKS + "import sys\n@hookimpl\ndef register_backends(register):\n    sys.exit(4)\n",
     "register_backends raised SystemExit(4)"),
    (HOOKS + "@hookimpl\ndef register_parsers(register):\n    raise KeyboardInterrupt\n",
     "register_parsers raised KeyboardInterrupt()"),
    ("from memscreen_llm import hookimpl\n@hookimpl\ndef supported_api():\n    raise SystemExit(5)\n",
     "supported_api raised SystemExit(5)"),
], ids=["exit-3", "exit-text", "ctrl-c", "own-baseexception", "hook-exit", "parsers-ctrl-c",
        "api-exit"])
def test_a_base_exception_from_plugin_code_is_charged_to_the_plugin(
        site: Path, unique: str, source: str, needle: str) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-rude", "rude", f"rude_{unique}", source)
    registry = discover({})
    assert status(registry, "rude") == ("error", needle)
    assert registry.backend_names() == ["echo"]


def test_the_cli_survives_sys_exit_and_keyboard_interrupt_in_plugins(
        site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-exit", "exiter", f"exit_{unique}", "import sys\nsys.exit(3)\n")
    write_dist(site, "plugin-ki", "kier", f"ki_{unique}", "raise KeyboardInterrupt\n")
    result = run_cli(site, "backends", "--json")
    assert result.returncode == 0, result.stderr  # not 3 (the plugin's), not 130 (Ctrl-C)
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert entries["exiter"]["error"] == "import raised SystemExit(3)"
    assert entries["kier"]["error"] == "import raised KeyboardInterrupt()"
    assert entries["echo"]["status"] == "ok"
    chat = run_cli(site, "chat", "-b", "echo", "still here")
    assert (chat.returncode, chat.stdout) == (0, "still here\n")


@pytest.mark.parametrize("where", ["import", "hook"])
def test_a_real_ctrl_c_still_interrupts_while_a_plugin_runs(
        site: Path, unique: str, tmp_path: Path, where: str) -> None:
    marker = tmp_path / "started"
    stall = f"import pathlib, time\npathlib.Path({str(marker)!r}).write_text('x')\ntime.sleep(60)\n"
    if where == "import":
        source = stall
    else:
        head, body = stall.split("\n", 1)
        source = plugin("stall", before=head + "\n", hook_body=body)
    write_dist(site, "plugin-stall", "stall", f"stall_{unique}", source)
    child = subprocess.Popen(
        [sys.executable, "-m", "memscreen_llm.cli", "backends", "--json"],
        env=clean_env(PYTHONPATH=str(site), MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT="60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=kit.sigint_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # the plugin's code is running now
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 130, (out, err)
    assert err.strip() == "interrupted" and out == ""
    assert time.monotonic() - sent < 10  # it did not wait for the plugin's 60 s


# -- stdout is kept out of command output -------------------------------------------------

LOUD = plugin("loud", before="print('hello at import')\n", hook_body="print('hello from hook')")


def test_plugin_stdout_is_reported_never_mixed_into_json(site: Path, unique: str) -> None:
    write_dist(site, "plugin-loud", "loud", f"loud_{unique}", LOUD)
    write_dist(site, "plugin-shout", "shout", f"shout_{unique}",
               "print('broken and loud')\nraise ImportError('nope')\n")
    result = run_cli(site, "backends", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[\n")
    assert "hello at import\n" not in result.stdout  # only inside the JSON, escaped
    entries = {e["name"]: e for e in json.loads(result.stdout)}  # the whole of stdout is JSON
    assert entries["loud"]["status"] == "ok"  # printing is a warning, not a failure
    assert entries["loud"]["warning"] == ("printed to stdout while loading (kept out of "
                                          "command output): 'hello at import\\nhello from hook'")
    assert entries["shout"]["status"] == "error"
    assert "broken and loud" in entries["shout"]["warning"]
    text = run_cli(site, "backends")
    assert "warning: printed to stdout while loading" in text.stdout
    assert "\nhello at import" not in text.stdout


def test_stdout_is_the_hosts_again_after_discovery(
        site: Path, unique: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_dist(site, "plugin-loud", "loud", f"loud_{unique}", LOUD)
    write_dist(site, "plugin-swap", "swap", f"swap_{unique}",
               "import io, sys\nsys.stdout = io.StringIO()\n" + plugin("swap"))
    host = sys.stdout
    registry = discover({})
    assert sys.stdout is host
    print("host output")
    assert capsys.readouterr().out == "host output\n"
    swap = next(p for p in registry.plugins if p.name == "swap")
    assert swap.status is PluginStatus.OK
    assert swap.warning == "replaced sys.stdout while loading (the original was put back)"
    assert registry.backend_names() == ["loud", "swap"]


def test_a_flood_of_plugin_output_is_kept_short(site: Path, unique: str) -> None:
    write_dist(site, "plugin-flood", "flood", f"flood_{unique}",
               "print('x' * 100000)\n" + plugin("flood"))
    [info] = discover({}).plugins
    assert info.warning is not None and len(info.warning) < 500
    assert "more characters" in info.warning


# -- an import that hangs ---------------------------------------------------------------

def test_a_hanging_import_times_out_and_the_cli_still_exits_promptly(
        site: Path, unique: str) -> None:
    # "aaa" sorts first: the plugins after it are loaded by a fresh worker thread.
    write_dist(site, "plugin-slow", "aaa", f"slow_{unique}", "import time\ntime.sleep(60)\n")
    write_echo(site, "echo", unique)
    started = time.monotonic()
    result = run_cli(site, "backends", "--json",
                     env={"MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT": "0.5"})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert entries["aaa"]["status"] == "error"
    assert entries["aaa"]["error"].startswith("import timed out after 0.5 s")
    assert entries["echo"]["status"] == "ok"
    assert elapsed < 20  # far below the plugin's 60 s: the stuck thread held nothing up


def test_a_timed_out_plugin_may_finish_later_silently_and_loads_next_time(
        site: Path, unique: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = f"late_{unique}"
    write_dist(site, "plugin-late", "late", module,
               plugin("late", before="import time\ntime.sleep(0.8)\nprint('LATE')\nDONE = True\n"))
    registry = discover({"MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT": "0.2"})
    state, error = status(registry, "late")
    assert state == "error" and (error or "").startswith("import timed out after 0.2 s")
    assert registry.backend_names() == []
    deadline = time.monotonic() + 20
    while not getattr(sys.modules.get(module), "DONE", False):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.1)  # let its thread finish writing
    assert "LATE" not in capsys.readouterr().out
    assert type(sys.stdout).__name__ != "_StdoutRouter"
    assert discover({}).backend_names() == ["late"]


def test_a_hook_that_hangs_times_out_too(site: Path, unique: str) -> None:
    write_dist(site, "plugin-stuck", "stuck", f"stuck_{unique}",
               plugin("stuck", before="import time\n", hook_body="time.sleep(1.0)"))
    write_echo(site, "echo", unique)
    registry = discover({"MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT": "0.3"})
    state, error = status(registry, "stuck")
    assert state == "error" and (error or "").startswith("register_backends timed out after 0.3 s")
    assert registry.backend_names() == ["echo"]


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_a_bad_timeout_setting_is_a_config_error(site: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT: bad value"):
        discover({"MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT": value})


def test_the_cli_reports_a_bad_timeout_setting_with_exit_2(site: Path) -> None:
    result = run_cli(site, "backends", env={"MEMSCREEN_LLM_PLUGIN_IMPORT_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert "expected a number of seconds > 0" in result.stderr
    assert "internal error" not in result.stderr


# -- a broken dist-info anywhere on sys.path --------------------------------------------

def break_file(site: Path, dist: str, name: str, data: bytes) -> Path:
    path = next(site.glob(f"{dist.replace('-', '_')}-*.dist-info")) / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("file", "data"), [
    ("entry_points.txt", b"[memscreen.llm_backends]\nlatin = latin_mod  # caf\xe9\n"),
    ("METADATA", b"Metadata-Version: 2.1\nName: plugin-caf\xe9\nVersion: 1.0\n"),
])
def test_a_dist_info_file_that_is_not_utf8_is_skipped_with_a_warning(
        site: Path, unique: str, caplog: pytest.LogCaptureFixture,
        file: str, data: bytes) -> None:
    offset = data.index(b"\xe9")
    write_echo(site, "echo", unique)
    write_dist(site, "plugin-latin", "latin", f"latin_{unique}", plugin("latin"))
    path = break_file(site, "plugin-latin", file, data)
    with caplog.at_level(logging.WARNING, logger="memscreen_llm"):
        registry = discover({})
    assert registry.backend_names() == ["echo"]
    assert [p.name for p in registry.plugins] == ["echo"]
    assert caplog.messages == [
        f"skipping the distribution of {path}: not UTF-8 at byte {offset} (reinstall it)"]


def test_a_description_in_another_encoding_is_harmless(
        site: Path, unique: str, caplog: pytest.LogCaptureFixture) -> None:
    write_dist(site, "plugin-latin", "latin", f"latin_{unique}", plugin("latin"))
    break_file(site, "plugin-latin", "METADATA",
               b"Metadata-Version: 2.1\nName: plugin-latin\nVersion: 2.0\n\nCaf\xe9 au lait\n")
    with caplog.at_level(logging.WARNING, logger="memscreen_llm"):
        [found] = entry_points("memscreen.llm_backends", [str(site)])
    assert (found.name, found.distribution, found.version) == ("latin", "plugin-latin", "2.0")
    assert caplog.messages == []


def test_every_command_still_works_next_to_a_broken_dist_info(site: Path, unique: str) -> None:
    write_echo(site, "echo", unique)
    folder = site / "broken_thing-1.0.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_bytes(b"Name: broken-thing\nVersion: 1.0\n")
    (folder / "entry_points.txt").write_bytes(b"[console_scripts]\nx = y\xff\n")
    listed = run_cli(site, "backends", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [e["name"] for e in json.loads(listed.stdout)] == ["echo"]
    assert f"skipping the distribution of {folder / 'entry_points.txt'}" in listed.stderr
    chat = run_cli(site, "chat", "-b", "echo", "hi")
    assert (chat.returncode, chat.stdout) == (0, "hi\n")


# -- names: who owns them, never first come first served ---------------------------------

def hint(*dists: str) -> str:
    return " or ".join(f"MEMSCREEN_LLM_DISABLE_PLUGINS={d}" for d in dists)


@pytest.mark.parametrize("entries", [("first", "second"), ("second", "first")])
def test_two_third_party_plugins_claiming_one_name_are_both_refused(
        site: Path, unique: str, entries: tuple[str, str]) -> None:
    # Swapping the entry-point names swaps which one discovery meets first.
    write_dist(site, "plugin-a", entries[0], f"a_{unique}", plugin("dup", aliases=("dup-a",)))
    write_dist(site, "plugin-b", entries[1], f"b_{unique}", plugin("other", aliases=("dup",)))
    registry = discover({})
    assert registry.backend_names() == []  # "other" goes down with its plugin
    expected = ("backend name 'dup' is registered by both plugin-a 1.0 and plugin-b 1.0, so "
                f"neither is loaded (disable one: {hint('plugin-a', 'plugin-b')})")
    assert status(registry, entries[0]) == ("error", expected)
    assert status(registry, entries[1]) == ("error", expected)
    # The hint works: with one disabled, the other keeps the name.
    assert discover({"MEMSCREEN_LLM_DISABLE_PLUGINS": "plugin-a"}).find_backend(
        "dup").plugin.distribution == "plugin-b"


def test_two_third_party_parsers_of_one_name_are_both_refused(site: Path, unique: str) -> None:
    write_dist(site, "plugin-a", "a", f"a_{unique}", plugin("", parsers=("think",)))
    write_dist(site, "plugin-b", "b", f"b_{unique}", plugin("", parsers=("think",)))
    registry = discover({})
    assert registry.parser_names() == []
    assert status(registry, "a")[1] == (
        "parser name 'think' is registered by both plugin-a 1.0 and plugin-b 1.0, so neither "
        f"is loaded (disable one: {hint('plugin-a', 'plugin-b')})")


def test_three_claimants_are_all_named(site: Path, unique: str) -> None:
    for letter in "abc":
        write_dist(site, f"plugin-{letter}", letter, f"{letter}_{unique}", plugin("dup"))
    error = status(discover({}), "b")[1]
    assert error == ("backend name 'dup' is registered by each of plugin-a 1.0, plugin-b 1.0, "
                     "plugin-c 1.0, so none is loaded (disable one: "
                     f"{hint('plugin-a', 'plugin-b', 'plugin-c')})")


FAKE_STEP35 = plugin("step35", aliases=("step-3.5-flash", "step3p5"), parsers=("step3p5",))


@pytest.mark.parametrize("entry", ["aaa", "zzz"])
@pytest.mark.parametrize(("claim", "kind"), [
    (plugin("step3p5"), "backend"),
    (plugin("mine", aliases=("step-3.5-flash",)), "backend"),
    (plugin("", parsers=("step3p5",)), "parser"),
])
def test_a_first_party_name_stays_with_its_distribution(
        site: Path, unique: str, entry: str, claim: str, kind: str) -> None:
    write_dist(site, "memscreen-llm-step35", "step35", f"step35_{unique}", FAKE_STEP35)
    write_dist(site, "grabby-plugin", entry, f"grab_{unique}", claim, version="6.6")
    registry = discover({})
    assert registry.find_backend("step3p5").plugin.distribution == "memscreen-llm-step35"
    assert registry.parsers["step3p5"].plugin.distribution == "memscreen-llm-step35"
    state, error = status(registry, entry)
    assert state == "error"
    assert error is not None and error.startswith(f"{kind} name ")
    assert error.endswith(
        "belongs to memscreen-llm-step35 1.0, so grabby-plugin 6.6 may not register it "
        "(to drop this plugin: MEMSCREEN_LLM_DISABLE_PLUGINS=grabby-plugin)")
    assert status(registry, "step35") == ("ok", None)


@pytest.mark.parametrize("entry", ["aa-echo", "zz-echo"])
def test_memscreen_llm_name_owns_name_in_either_order(
        site: Path, unique: str, entry: str) -> None:
    write_dist(site, "memscreen-llm-echo", "echo", f"owner_{unique}",
               plugin("echo", aliases=("echo-fast",)))
    write_dist(site, "echo-fork", entry, f"fork_{unique}", plugin("fork", aliases=("echo-fast",)))
    registry = discover({})
    assert registry.backend_names() == ["echo"]
    assert registry.find_backend("echo-fast").plugin.distribution == "memscreen-llm-echo"
    assert "belongs to memscreen-llm-echo 1.0, so echo-fork 1.0" in (status(registry, entry)[1] or "")


def test_a_first_party_name_is_free_while_its_owner_is_not_installed(
        site: Path, unique: str) -> None:
    write_dist(site, "ollama-standin", "standin", f"standin_{unique}", plugin("ollama"))
    assert discover({}).find_backend("ollama").plugin.distribution == "ollama-standin"


def test_a_plugin_registering_a_name_twice_is_an_error(site: Path, unique: str) -> None:
    write_dist(site, "plugin-twice", "twice", f"twice_{unique}",
               plugin("twice", aliases=("twice",)))
    assert status(discover({}), "twice") == (
        "error", "backend name 'twice' is registered twice by this plugin")


def test_each_plugin_leaves_nothing_behind_for_the_next(site: Path, unique: str) -> None:
    # One entry-point name, so all three register with pluggy under it, one after another.
    write_dist(site, "plugin-a", "same", f"a_{unique}", plugin("one"))
    write_dist(site, "plugin-b", "same", f"b_{unique}",
               HOOKS + "@hookimpl\ndef register_backends(register, surprise):\n    pass\n")
    write_dist(site, "plugin-c", "same", f"c_{unique}", plugin("two"))
    registry = discover({})
    assert [(p.distribution, p.status.value) for p in registry.plugins] == [
        ("plugin-a", "ok"), ("plugin-b", "error"), ("plugin-c", "ok")]
    assert registry.backend_names() == ["one", "two"]


def test_strict_mode_makes_a_refused_name_an_error(site: Path, unique: str) -> None:
    write_dist(site, "plugin-a", "a", f"a_{unique}", plugin("dup"))
    write_dist(site, "plugin-b", "b", f"b_{unique}", plugin("dup"))
    with pytest.raises(PluginLoadError, match="plugin 'a' .*registered by both plugin-a"):
        discover({"MEMSCREEN_LLM_STRICT_PLUGINS": "1"})


def test_the_cli_names_both_distributions_of_a_collision(site: Path, unique: str) -> None:
    write_dist(site, "plugin-a", "a", f"a_{unique}", plugin("dup"))
    write_dist(site, "plugin-b", "b", f"b_{unique}", plugin("dup"))
    result = run_cli(site, "chat", "-b", "dup", "hi")
    assert result.returncode == 2
    assert "registered by both plugin-a 1.0 and plugin-b 1.0" in result.stderr
    assert hint("plugin-a", "plugin-b") in result.stderr
