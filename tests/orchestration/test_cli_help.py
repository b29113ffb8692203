"""Help text on every subcommand and option of ``oragami`` (issue 10, item 8), and ``--help`` through the script.

:func:`test_every_subcommand_and_option_has_help` walks the whole parser tree — ``cli.py``'s own commands and
those the per-area modules register (:func:`orchestration.cli._command_modules`), nested subcommands included —
and fails naming each command and option that has no help text. ``tests/orchestration/test_cli_errors.py`` (row
``help`` of ``docs/cli.md``) checks ``cli.py``'s own commands in-process; this file covers every command and runs
the installed ``oragami`` script.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from orchestration import cli

ROOT = Path(__file__).resolve().parents[2]


def _walk(parser: argparse.ArgumentParser, path: str):
    """Yield ``(command path, what, name, help)`` for every option, positional, subcommand list and subcommand
    under ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            yield path, "subcommand list", action.metavar or action.dest, action.help
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield path, "subcommand", name, helps.get(name)
                yield from _walk(sub, f"{path} {name}")
        else:
            yield path, "option", "/".join(action.option_strings) or action.dest, action.help


def _tree() -> list[tuple[str, str, str, str | None]]:
    return list(_walk(cli.build_parser(), "oragami"))


def test_the_walk_reaches_every_area_and_nested_subcommand() -> None:
    commands = {f"{path} {name}" for path, what, name, _ in _tree() if what == "subcommand"}
    for expected in ["oragami validate", "oragami data check", "oragami users add", "oragami accounts set-risk",
                     "oragami audit", "oragami credentials verify", "oragami controls preview", "oragami replay",
                     "oragami research walk-forward"]:
        assert expected in commands


def test_every_subcommand_and_option_has_help() -> None:
    missing = [f"{path}: {what} {name}" for path, what, name, text in _tree()
               if not (text and text.strip()) and text != argparse.SUPPRESS]
    assert missing == [], "no help text:\n" + "\n".join(missing)


def _oragami(*argv: str) -> subprocess.CompletedProcess:
    """Run the installed ``oragami`` script (next to this interpreter: ``.venv/bin/oragami``)."""
    exe = Path(sys.executable).parent / "oragami"
    assert exe.exists(), f"{exe} not installed (pip install -e .)"
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"})


def test_installed_help_top_level_and_nested() -> None:
    proc = _oragami("--help")
    assert proc.returncode == 0, proc.stderr
    words = " ".join(proc.stdout.split())
    assert "Run Composer symphonies: validate, backtest, trade." in words
    assert "--version print the installed version and exit" in words
    assert "backtest backtest a symphony on the bundled data" in words
    assert "controls live controls per symphony" in words

    proc = _oragami("accounts", "set-risk", "--help")
    assert proc.returncode == 0, proc.stderr
    words = " ".join(proc.stdout.split())
    assert "usage: oragami accounts set-risk" in words
    assert "--max-order-usd MAX_ORDER_USD largest order notional sent, USD ('none': no limit)" in words
    assert "--daily-loss-kill-pct DAILY_LOSS_KILL_PCT kill switch: daily loss as a fraction, 0.05 = 5 %" in words
    assert proc.stderr == ""
