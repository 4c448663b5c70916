"""Argument parsing and error handling; each command lives in its own module, imported lazily."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

_COMMANDS = {
    "backends": "List the installed backends and the state of their plugins.",
    "chat": "Send one prompt to a backend.",
    "doctor": "Check a backend: config, server, model, context size.",
    "compose": "Print a backend's Docker Compose file (or its path).",
    "parse": "Run a registered output parser over raw model text on stdin.",
    "config": "Show the resolved config and where each value came from.",
    "bench": "Measure backends side by side: latency, throughput, failures.",
}


def _common(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=default,
                        help="show tracebacks for errors")
    common.add_argument("--config", metavar="FILE", default=default, help="TOML config file")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memscreen-llm", parents=[_common(None)],
        description="MemScreen's LLM layer: local inference engines as plugins.",
    )
    parser.set_defaults(debug=False)
    # The options again after the command name; unset there, they leave the ones given
    # before it alone (`memscreen-llm --config F chat ...` reads F).
    common = _common(argparse.SUPPRESS)
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print core's version and every installed plugin's, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("backends", parents=[common], help=_COMMANDS["backends"])
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("chat", parents=[common], help=_COMMANDS["chat"])
    p.add_argument("prompt", help="the prompt; - reads it from stdin")
    p.add_argument("--backend", "-b", help="backend name (default: from config)")
    p.add_argument("--model", "-m", help="model name")
    p.add_argument("--system", help="a system message")
    p.add_argument("--image", "-i", action="append", default=[], metavar="PATH_OR_URL",
                   help="an image with the prompt (a file, an http(s) or data: URL); repeat "
                   "for more")
    p.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_set(p)

    p = sub.add_parser("doctor", parents=[common], help=_COMMANDS["doctor"])
    p.add_argument("--backend", "-b", help="backend name (default: from config)")
    _add_set(p)

    p = sub.add_parser("compose", parents=[common], help=_COMMANDS["compose"])
    p.add_argument("name", help="backend name")
    p.add_argument("--variant", help="compose variant, e.g. cpu or fp8")
    p.add_argument("--path", action="store_true", help="print the installed file's path")

    p = sub.add_parser("parse", parents=[common], help=_COMMANDS["parse"])
    p.add_argument("parser_name", metavar="PARSER", help="registered parser name, e.g. step3p5")
    p.add_argument("--tools", metavar="FILE", help="JSON file of OpenAI tool definitions")
    p.add_argument("--chunk-size", type=int, metavar="N",
                   help="feed the streaming parser N characters at a time")

    p = sub.add_parser("config", parents=[common], help=_COMMANDS["config"])
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_sub.add_parser("show", parents=[common], help="the resolved config")
    show.add_argument("--backend", "-b", help="backend name (default: from config)")
    show.add_argument("--json", action="store_true", help="print JSON")
    _add_set(show)

    from ._bench_args import add_arguments as bench_arguments

    bench_arguments(sub.add_parser("bench", parents=[common], help=_COMMANDS["bench"]))
    return parser


class _Version(argparse.Action):
    """Like argparse's "version" action, but the text (plugins included) is built on use."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from ._versions import text

        sys.stdout.write(text())
        parser.exit()


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE",
        help="set a config field (repeatable)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from ..errors import MemscreenLLMError

    try:
        module = importlib.import_module(f"._{args.command}", __package__)
        code: int = module.run(args)
        return code
    except MemscreenLLMError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an unexpected failure still gets one readable line
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_RUNTIME
