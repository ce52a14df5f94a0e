"""The `servespec` command line.

Exit codes mean the same everywhere: 0 success, 1 the check ran and found something
(stale output, failed policy, internal error), 2 the input is invalid (spec errors, usage).
Subcommands load lazily so that `servespec --help` never imports boto3, onnxruntime or torch.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__

EXIT_OK, EXIT_FOUND, EXIT_INVALID = 0, 1, 2

# name -> "module:attribute"; each module is imported only when its command runs.
COMMANDS: dict[str, str] = {
    "validate": "compiler.commands.spec_commands:validate",
    "explain": "compiler.commands.spec_commands:explain",
    "schema": "compiler.commands.spec_commands:schema",
    "init": "compiler.commands.spec_commands:init",
    "compile": "compiler.commands.compile_command:compile_command",
    "model": "compiler.model.cli:model",
    "serve": "runtime.cli:serve",
    "policy": "compiler.policy.cli:policy",
    "diff-summary": "compiler.workflows.cli:diff_summary",
    "ab": "compiler.loop.cli:ab",
    "eval": "compiler.loop.cli:evaluate",
    "usage": "compiler.loop.cli:usage",
    "plan-summary": "compiler.workflows.plan_summary:plan_summary",
    "release": "compiler.workflows.release:release",
    "doctor": "compiler.doctor:doctor",
    "rehearse": "compiler.rehearse.cli:rehearse",
    "keys": "compiler.keys.cli:keys",
    "smoke": "compiler.smoke.cli:smoke",
}

HELP = {
    "validate": "Validate spec files; exit 2 with file:line:col errors if any is invalid.",
    "explain": "Show one environment fully resolved, and which layer set each value.",
    "schema": "Print or write the spec's JSON Schema and reference documentation.",
    "init": "Write a commented starter spec.",
    "compile": "Compile specs into generated/ and .github/workflows/ (or --check them).",
    "model": "Build the model artifact (ONNX, quantized, gated) and push it to S3.",
    "serve": "Serve a model artifact with the OpenAI-compatible runtime.",
    "policy": "Run the policy gate (checkov + policies/) over generated output.",
    "diff-summary": "Describe in words what changed in a spec since a git ref.",
    "ab": "A/B report over capture records: per-variant figures and a verdict.",
    "eval": "Score a model on an evaluation suite and gate it against a baseline.",
    "usage": "Requests and tokens per API key id (CloudWatch or capture records).",
    "plan-summary": "List the resources a saved terraform plan changes, replacements first.",
    "release": "What a deploy must build, push and verify, read from AWS (deploy workflow).",
    "doctor": "Check what a deploy needs (bootstrap, GitHub, DNS, key, model); say what is next.",
    "rehearse": "Rehearse one environment's deploy here: image, task, probes, smoke, stop.",
    "keys": "Ensure, add, revoke and list an environment's API keys in Secrets Manager.",
    "smoke": "Smoke-test a deployed API with the official openai client.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing commands must not import them: that is what keeps --help fast.
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="servespec")
def cli() -> None:
    """One reviewed YAML spec becomes a production LLM API on AWS.

    \b
    Typical flow:
      servespec validate spec/            check specs (errors as file:line:col)
      servespec compile                   write generated/ and workflows
      servespec policy                    gate the output with checkov + policies/
      servespec model build SPEC          build the model artifact
      servespec serve ARTIFACT            serve it locally
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user mistakes exit 2 with a message; bugs exit 1 without a traceback."""
    try:
        return cli.main(args=argv, prog_name="servespec", standalone_mode=True)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except Exception as exc:  # the last line of defence for the CLI
        click.echo(f"servespec: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("Please report this with the command you ran.", err=True)
        sys.exit(EXIT_FOUND)


def default_specs(paths: tuple[Path, ...]) -> list[Path]:
    """Spec files named by the user, expanding directories; default: spec/*.yaml."""
    found: list[Path] = []
    for path in paths or (Path("spec"),):
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            found.append(path)
    return found


if __name__ == "__main__":
    main()
