"""What the checker and its runner process send each other: typed records, as JSON, beside one ``.npz``.

Arrays travel in the ``.npz`` under opaque keys; a record names the key of each of its arrays.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Captured:
    """A value as the learner's lines left it: a gradient, or a forward variable."""

    state: str  # "value", "not_written", "missing", "not_an_array", "error"
    shapes: dict[str, str] = field(default_factory=dict)  # the variables on its lines: shape and dtype
    what: str = ""  # for "not_an_array", what it is ("a list"); for "error", the exception
    array: str | None = None  # its key in the arrays file, for "value"


@dataclass
class LearnerError:
    """An exception (or exit) raised by a learner's statement."""

    kind: str  # "exception" or "exit"
    exception: str
    message: str
    line: int
    gradients: list[str]
    shapes: dict[str, str]


@dataclass
class DatasetRequest:
    """One run of the workbook: the data set's given numbers and its reference gradients, by array key."""

    dataset: int
    given: dict[str, str]  # forward name -> key: put in place of what the set-up computed
    gradients: dict[str, str]  # forward name -> key: put in place of the learner's, line after line
    forward: list[str]  # the forward variables to send back
    probes: dict[str, dict[str, str]] = field(default_factory=dict)  # gradient -> {variable: key}


@dataclass
class Request:
    workbook: str
    exercise: str
    arrays: str  # the .npz with the reference's arrays
    result: str  # where the runner writes its arrays
    dump: str  # where faulthandler writes the stacks on a time-out
    timeout: float
    datasets: list[DatasetRequest]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Request:
        record = json.loads(text)
        record["datasets"] = [DatasetRequest(**d) for d in record["datasets"]]
        return cls(**record)


@dataclass
class PassRecord:
    """What one run of the workbook on one data set left."""

    dataset: int
    forward: dict[str, Captured] = field(default_factory=dict)
    rows: dict[str, Captured] = field(default_factory=dict)
    probes: dict[str, Captured] = field(default_factory=dict)
    error: LearnerError | None = None


@dataclass
class Report:
    passes: list[PassRecord]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Report:
        def captured(records: dict[str, Any]) -> dict[str, Captured]:
            return {name: Captured(**value) for name, value in records.items()}

        passes = []
        for record in json.loads(text)["passes"]:
            error = record["error"]
            passes.append(
                PassRecord(
                    record["dataset"],
                    captured(record["forward"]),
                    captured(record["rows"]),
                    captured(record["probes"]),
                    None if error is None else LearnerError(**error),
                )
            )
        return cls(passes)
