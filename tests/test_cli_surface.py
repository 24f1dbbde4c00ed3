"""The command line as a newcomer meets it: --version, bare `ninjagrad`, defaults in --help, one -o."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from ninjagrad.cli import COMMANDS, build_parser, main, version


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    actions = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return actions.choices[name]


def test_version_prints_the_installed_version(capsys):
    code, out, err = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"ninjagrad {version()}"
    from ninjagrad import __version__

    assert version() == __version__


def test_bare_ninjagrad_prints_the_help_with_every_command_and_no_usage_error():
    process = subprocess.run([sys.executable, "-m", "ninjagrad"], capture_output=True, text=True)
    assert process.returncode == 2
    assert "error:" not in process.stderr and "Traceback" not in process.stderr
    assert "Learn, see and trust backpropagation." in process.stderr
    for name in COMMANDS:
        assert f"    {name} " in process.stderr, name
    assert "ninjagrad COMMAND --help" in process.stderr


def test_graph_help_shows_its_defaults(capsys):
    code, out, _ = run_cli(capsys, "graph", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "(default: neuron)" in flat and "(default: LR)" in flat
    assert ".svg, .png, .pdf" in flat and ".dot (DOT source, needs nothing)" in flat


@pytest.mark.parametrize("name", ["graph", "moons", "train", "sample"])
def test_dash_o_is_the_output_in_every_command(name):
    option = next(a for a in subcommand(name)._actions if "-o" in a.option_strings)
    assert option.option_strings == ["-o", "--output"]
    assert option.dest == "output"
    assert "write" in option.help  # what the command writes there


def test_the_old_long_name_out_still_works_as_an_abbreviation(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "graph", "--out", tmp_path / "n.dot")
    assert code == 0 and (tmp_path / "n.dot").exists()


def test_sample_with_a_directory_as_output_says_how_to_name_the_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", "-o", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert "-o names the file to write the samples to" in err and f"ninjagrad sample {tmp_path}" in err


def test_sample_writes_to_a_file_with_dash_o(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "-o", str(run), "--steps", "40", "--embd", "3", "--hidden", "8"]) == 0
    capsys.readouterr()
    code, printed, _ = run_cli(capsys, "sample", run, "-n", "7", "--seed", "2")
    assert code == 0
    code, out, _ = run_cli(capsys, "sample", run, "-n", "7", "--seed", "2", "-o", tmp_path / "names.txt")
    assert code == 0 and out == f"wrote 7 samples to {tmp_path / 'names.txt'}\n"
    assert (tmp_path / "names.txt").read_text(encoding="utf-8") == printed
