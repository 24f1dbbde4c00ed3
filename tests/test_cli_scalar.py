"""`ninjagrad graph` and `ninjagrad moons`, run through ninjagrad.cli.main: exit codes, output, files."""

from __future__ import annotations

import pytest

from ninjagrad.cli import main


def test_graph_neuron_as_dot_source(tmp_path, capsys):
    path = tmp_path / "neuron.dot"
    assert main(["graph", "--example", "neuron", "-o", str(path)]) == 0
    source = path.read_text()
    for record in ("x1 | data 2.0000 | grad -1.5000", "w1 | data -3.0000 | grad 1.0000", "o | data 0.7071"):
        assert record in source
    out = capsys.readouterr().out
    assert "o = 0.7071" in out and "do/dx1 = -1.5000" in out and f"wrote {path}" in out


def test_graph_readme_example_prints_the_readme_numbers(tmp_path, capsys):
    assert main(["graph", "--example", "readme", "-o", str(tmp_path / "readme.dot")]) == 0
    out = capsys.readouterr().out
    assert "g = 24.7041" in out and "dg/da = 138.8338" in out and "dg/db = 645.5773" in out


@pytest.mark.needs_dot
def test_graph_renders_svg_and_png(tmp_path):
    assert main(["graph", "--example", "neuron", "-o", str(tmp_path / "neuron.svg")]) == 0
    assert "grad &#45;1.5000" in (tmp_path / "neuron.svg").read_text()  # dot writes "-" as &#45;
    assert main(["graph", "--example", "neuron", "--rankdir", "TB", "-o", str(tmp_path / "n.png")]) == 0
    assert (tmp_path / "n.png").read_bytes().startswith(b"\x89PNG")


def test_graph_bad_suffix_is_exit_2_with_a_message(tmp_path, capsys):
    assert main(["graph", "-o", str(tmp_path / "neuron.txt")]) == 2
    err = capsys.readouterr().err
    assert "ninjagrad graph: error:" in err and ".txt" in err and "Traceback" not in err


def test_graph_without_dot_program_is_exit_2_with_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", "-o", str(tmp_path / "neuron.svg")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_moons_writes_the_decision_boundary(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["moons", "-o", str(out_dir), "--steps", "3", "--seed", "1"]) == 0
    assert (out_dir / "decision_boundary.png").read_bytes().startswith(b"\x89PNG")
    out = capsys.readouterr().out
    assert "337 parameters, 3 steps, seed 1" in out
    assert "final loss:" in out and "final accuracy:" in out


def test_moons_bad_arguments_are_exit_2(tmp_path, capsys):
    assert main(["moons", "-o", str(tmp_path), "--steps", "0"]) == 2
    assert "--steps must be from 1 to 1,000,000 (a step takes tens of milliseconds), got 0" in (
        capsys.readouterr().err
    )
    assert main(["moons", "-o", str(tmp_path), "--steps", "9" * 400]) == 2  # was an OverflowError in tqdm
    err = capsys.readouterr().err
    assert "got a 400-digit number" in err and "Traceback" not in err and len(err) < 200
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a directory")
    assert main(["moons", "-o", str(a_file)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_unwritable_outputs_are_exit_2_before_any_training(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a directory")
    assert main(["graph", "-o", str(a_file / "neuron.svg")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert main(["moons", "-o", str(a_file / "run")]) == 2
    err = capsys.readouterr().err
    assert "cannot create the directory" in err and "Traceback" not in err
    assert "0/100" not in err  # refused before the progress bar started


def test_moons_negative_seed_is_exit_2(tmp_path, capsys):
    assert main(["moons", "-o", str(tmp_path / "run"), "--seed", "-1"]) == 2
    assert "--seed must be 0 or more" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "graph" in out and "moons" in out
