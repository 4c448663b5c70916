"""A real ``ollama-lib serve`` on a free loopback port, with models created over HTTP.

Private models folder and HOME per server; models are created through the HTTP API from a
local GGUF (no network: ``pull`` is never used).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memscreen_llm.testing import free_port

from .provisioning import GGUF_NAME, Engine, EngineUnavailable, _sha256, _tail

# Go template for the tiny model. Ollama 0.9.3 derives capabilities from it:
# - "tools": the template mentions .Tools (else HTTP 400 "does not support tools");
# - "thinking": inside `range .Messages`, .Thinking sits in a block that starts
#   and ends with text (the tags "<think>" / "</think>"); Ollama infers the tags
#   from those text nodes (else HTTP 400 "does not support thinking").
# With think=true the prompt ends with "<|think|>": the tiny model is wired to
# answer it with "<think>Let me think.</think>" (see build_gguf.py), which
# Ollama returns as message.thinking.
TEMPLATE = """\
{{- if .Tools }}<|im_start|>system
You can call these tools:
{{- range .Tools }}
{{ . }}
{{- end }}
Call one as <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}<|im_start|>{{ .Role }}
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}
{{- .Content }}
{{- range .ToolCalls }}<tool_call>{"name": "{{ .Function.Name }}", \
"arguments": {{ .Function.Arguments }}}</tool_call>{{ end }}<|im_end|>
{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ if $.Think }}<|think|>{{ end }}
{{- end }}
{{- end }}"""

# num_thread 1: two threads on a 2-core machine made latency jump (15-700 ms).
# num_predict: random weights never produce EOS; without a limit Ollama
# generates through context shifts until its token-repeat guard aborts the
# stream (at temperature 0 after ~1900 tokens, with no final "done" message).
# repeat_penalty: that guard (one token more than 30 times in a row) also cuts
# short answers of a random model, which the backend rightly reports as
# StreamInterruptedError; tests that send num_predict 384 (MemScreen's) hit it
# in ~2% of calls at Ollama's default 1.1, none of 780 at 1.5. Requests that
# send their own repeat_penalty override it.
PARAMETERS: dict[str, Any] = {
    "num_thread": 1,
    "num_ctx": 512,
    "num_predict": 64,
    "repeat_penalty": 1.5,
    "repeat_last_n": 64,
    "stop": ["<|im_end|>"],
}




def modelfile(gguf: Path, template: str = TEMPLATE,
              parameters: Mapping[str, Any] = PARAMETERS) -> str:
    """The Modelfile of `gguf` with a template and parameters (for `ollama create -f`);
    the defaults are what create_model() sends for the tiny model."""
    lines = [f"FROM {gguf}", f'TEMPLATE """{template}"""']
    for key, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {key} {json.dumps(item) if isinstance(item, str) else item}")
    return "\n".join(lines) + "\n"


# Loopback only; a proxy from the environment must not get these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OllamaServer:
    """A real `ollama-lib serve` on 127.0.0.1, in its own process group.

    Use as a context manager, or call start() / stop(). The work folder holds
    the models, HOME and the log file ``server.log``; it is removed by stop()
    when this object created it, unless keep_workdir is set. After kill() (or
    stop() with keep_workdir) start() runs the server again on the same port
    with the same models, e.g. to test a client reconnecting.
    """

    def __init__(
        self,
        engine: Engine,
        port: int | None = None,
        models_dir: Path | None = None,
        *,
        workdir: Path | None = None,
        keep_workdir: bool = False,
        startup_timeout: float = 30.0,
        extra_env: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.engine = engine
        self._requested_port = port
        self._port: int | None = None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ollama-test-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.models_dir = Path(models_dir) if models_dir else self.workdir / "models"
        self.keep_workdir = keep_workdir
        self.startup_timeout = startup_timeout
        self.extra_env = dict(extra_env or {})
        # Opt-in: PR_SET_PDEATHSIG fires when the *thread* that started the
        # server ends, which would kill it early if started from a worker thread.
        self.die_with_parent = die_with_parent
        self.log_path = self.workdir / "server.log"
        self._log_offset = 0  # where the current run's output starts in the log
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("server not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> OllamaServer:
        """Start the server and wait until /api/version answers."""
        if self.running:
            raise RuntimeError("server already running")
        fixed_port = self._requested_port or self._port  # a restart keeps its port
        # A port picked here may be taken before the server binds it: retry.
        attempts = 1 if fixed_port else 3
        for attempt in range(attempts):
            self._port = fixed_port or free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except EngineUnavailable:
                in_use = "address already in use" in self._run_log().lower()
                self._terminate(signal.SIGKILL, 5.0)
                if not in_use or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after `timeout`."""
        self._terminate(signal.SIGTERM, timeout)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL the server and its runners at once (e.g. in the middle of a stream)."""
        self._terminate(signal.SIGKILL, 5.0)

    def _spawn(self) -> None:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        env = self.engine.environ(
            {
                "OLLAMA_HOST": f"127.0.0.1:{self._port}",
                "OLLAMA_MODELS": str(self.models_dir),
                "HOME": str(home),  # it writes its key pair to ~/.ollama
                "GIN_MODE": "release",  # no route table in the log
                **self.extra_env,
            }
        )
        with open(self.log_path, "ab") as log_file:
            self._log_offset = log_file.tell()
            self._proc = subprocess.Popen(
                [str(self.engine.binary), "serve"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                # Own session: signals to the group reach the model runners too.
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise EngineUnavailable(
                    f"ollama-lib serve exited with {self._proc.returncode} on startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            # The log line proves that *this* process owns the port; the request
            # proves it serves (another server on a requested port would answer too).
            if "Listening on" in self._run_log():
                try:
                    self.request("GET", "/api/version", timeout=1.0)
                    return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.05)
        raise EngineUnavailable(
            f"ollama-lib serve not ready after {self.startup_timeout:.0f}s; "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        _signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # Runners that outlived the server (same group) must not be left behind.
        _signal_group(proc.pid, signal.SIGKILL)

    def _cleanup(self) -> None:
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output (all runs), for error messages."""
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return ""

    def _run_log(self) -> str:
        """The current run's output so far."""
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(self._log_offset)
                return log_file.read().decode(errors="replace")
        except OSError:
            return ""

    # -- HTTP

    def request(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        """One JSON request to the server; returns the decoded JSON answer."""
        data = None
        headers = {}
        if isinstance(body, bytes):
            data = body
            headers["Content-Type"] = "application/octet-stream"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        with _OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def create_model(
        self,
        name: str = "tiny",
        template: str = TEMPLATE,
        parameters: Mapping[str, Any] | None = None,
        gguf: Path | None = None,
        projector: Path | None = None,
    ) -> str:
        """Create `name` from a GGUF (the tiny one by default) over HTTP; returns the name.

        Same steps as `ollama create`: upload the GGUF as a blob, then
        /api/create referring to it by digest. A `projector` (a CLIP GGUF, llava-style)
        goes in as a second file of `files`: Ollama 0.9.3 stores it as the model's
        projector layer, which makes it a vision model.
        """
        gguf = gguf or self.engine.gguf
        files = {GGUF_NAME if gguf == self.engine.gguf else gguf.name: gguf}
        if projector is not None:
            files[projector.name] = projector
        digests = {key: "sha256:" + _sha256(path) for key, path in files.items()}
        try:
            for key, path in files.items():
                self._upload_blob(digests[key], path)
            answer = self.request(
                "POST",
                "/api/create",
                {
                    "model": name,
                    "files": digests,
                    "template": template,
                    "parameters": dict(PARAMETERS if parameters is None else parameters),
                    "stream": False,
                },
                timeout=120.0,
            )
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise EngineUnavailable(f"creating model {name!r} failed: {exc.code} {detail}") from exc
        if not answer or answer.get("status") != "success":
            raise EngineUnavailable(f"creating model {name!r} failed: {answer!r}")
        return name

    def _upload_blob(self, digest: str, gguf: Path) -> None:
        # Ask first: for a blob it already has, Ollama answers the POST at once
        # and closes the connection while the body is still being sent.
        try:
            self.request("HEAD", f"/api/blobs/{digest}")
            return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        size = gguf.stat().st_size
        with gguf.open("rb") as body:  # streamed: a real model is hundreds of MB
            req = urllib.request.Request(
                f"{self.base_url}/api/blobs/{digest}", data=body, method="POST",
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
            )
            with _OPENER.open(req, timeout=300.0) as resp:
                resp.read()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The server leads its own session, so its pid is also its group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the parent dies (Linux only)."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
