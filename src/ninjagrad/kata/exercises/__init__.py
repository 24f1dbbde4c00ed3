"""The exercises, one file each: a solved workbook, then its :class:`~ninjagrad.kata.exercise.Exercise`.

Adding an exercise is adding a file here; :data:`EXERCISES` finds every one.
"""

from __future__ import annotations

from importlib import resources

from ninjagrad.errors import UserError
from ninjagrad.kata.exercise import EXERCISE_BEGIN, Exercise, Gradient, Probe

__all__ = ["EXERCISES", "Exercise", "Gradient", "Probe", "get_exercise", "load"]


def load(name: str) -> Exercise:
    """Read ``exercises/<name>.py`` and run its EXERCISE block (ninjagrad's own code, never a learner's)."""
    source = resources.files(__name__).joinpath(f"{name}.py").read_text("utf-8")
    lines = source.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == EXERCISE_BEGIN)
    block = "\n" * start + "".join(lines[start:])  # line numbers as in the file, for tracebacks
    namespace: dict = {"__name__": f"{__name__}.{name}"}
    exec(compile(block, f"<exercise {name}>", "exec"), namespace)
    exercise = namespace["EXERCISE"]
    return Exercise(**{**exercise.__dict__, "source": source})


def _discover() -> dict[str, Exercise]:
    names = [
        entry.name[:-3]
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    ]
    exercises = sorted((load(name) for name in names), key=lambda exercise: exercise.order)
    return {exercise.name: exercise for exercise in exercises}


EXERCISES: dict[str, Exercise] = _discover()


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``, or a UserError listing the ones there are."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise UserError(
            f"there is no exercise {name!r}; the exercises are {', '.join(EXERCISES)} (`ninjagrad kata list`)"
        ) from None
