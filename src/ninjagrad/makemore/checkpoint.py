"""Saving and loading a makemore model: one ``.npz`` file, written atomically, read without pickle.

One file, ``DIR/model.npz``, is both the training checkpoint and the finished model. During training it
holds the parameters, the step reached, the loss of every step so far and everything needed to continue
exactly (the training config, the data's sha256, how batches are drawn). Once training has finished it
also holds the BatchNorm statistics calibrated over the training split; only then can it be sampled from.

Why these choices:

- ``.npz`` with plain arrays and JSON text (a 0-d string array) instead of pickle: loading a file cannot
  run code, and ``np.load(path, allow_pickle=False)`` reads it anywhere NumPy does.
- Atomic writes (``ninjagrad.files.write_atomically``): a process killed at any moment, even with
  ``kill -9``, leaves either the previous checkpoint or the new one, never half of one. At worst a stray
  ``.model.npz.*.tmp`` file remains.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.files import write_atomically
from ninjagrad.makemore.data import Vocabulary, check_memory
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig

FILENAME = "model.npz"
FORMAT = "ninjagrad-makemore-checkpoint/1"  # bump when the layout changes; older files are then refused


@dataclass
class Checkpoint:
    """A model and, while it is being trained, the state needed to continue training it exactly."""

    model_config: ModelConfig
    vocab: Vocabulary
    params: dict[str, np.ndarray]  # every name in PARAM_NAMES, float32
    step: int  # SGD steps done so far
    loss_history: np.ndarray  # float32 batch loss of every step done; entries past `step` are not saved
    train_state: dict = field(default_factory=dict)  # JSON: training config, data fingerprint, batch scheme
    bnmean: np.ndarray | None = None  # (1, n_hidden), calibrated once training has finished
    bnvar: np.ndarray | None = None  # (1, n_hidden)
    diagnostics: dict | None = None  # JSON: the training diagnostics so far (DiagnosticsRecorder.state)

    @property
    def finished(self) -> bool:
        """True once BatchNorm is calibrated, i.e. the model is ready for inference and sampling."""
        return self.bnmean is not None


def checkpoint_path(directory: str | Path) -> Path:
    return Path(directory) / FILENAME


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically (see the module docstring)."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "model_config": asdict(checkpoint.model_config),
        "vocab": checkpoint.vocab.chars,
        "step": checkpoint.step,
        "train_state": checkpoint.train_state,
        "diagnostics": checkpoint.diagnostics,
    }
    arrays = {f"param.{name}": checkpoint.params[name] for name in PARAM_NAMES}
    arrays["loss_history"] = np.asarray(checkpoint.loss_history[: checkpoint.step], dtype=np.float32)
    if checkpoint.finished:
        arrays["bnmean"] = checkpoint.bnmean
        arrays["bnvar"] = checkpoint.bnvar
    arrays["meta"] = np.array(json.dumps(meta))  # a 0-d unicode array: no pickle needed
    archive = io.BytesIO()  # at most about a megabyte (the loss history of 200,000 steps)
    np.savez(archive, **arrays)
    write_atomically(path, archive.getvalue())


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; anything missing, corrupt or inconsistent is a UserError.

    Nothing is allocated on the file's word: the entries' shapes are read from their headers and compared
    with the shapes the stored config implies (``ModelConfig.parameter_shapes``) before any data is read,
    and only the expected entries are read.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"no checkpoint at {path}; train a model first with `ninjagrad train -o {path.parent}`"
        )
    _check_kind_of_file(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            members = [m for m in npz.zip.namelist() if m.endswith(".npy")]
            headers = {m.removesuffix(".npy"): _entry_header(npz, m) for m in members}
            meta = _read_meta(path, npz, headers)
            try:
                try:
                    model_config = ModelConfig(**meta["model_config"])
                    vocab = Vocabulary(meta["vocab"])
                except UserError as error:  # its advice is for a caller who built the config
                    invalid = str(error).split("; ")[0]
                    raise _incompatible(
                        path, f"its model config or vocabulary is invalid ({invalid})"
                    ) from None
                step = meta["step"]
                if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                    raise ValueError(f"'step' {step!r} is not a count of steps")
                _check_headers(path, headers, model_config, step)
                arrays = {name: npz[name] for name in _expected_entries(model_config, step, headers)}
            except UserError:
                raise
            except (KeyError, TypeError, ValueError) as error:
                raise _incompatible(path, f"missing or malformed entry {error}") from None
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{path} is not a readable checkpoint ({error}); it may be truncated or not a ninjagrad "
            "model: train again, or point at the model.npz of a complete run"
        ) from None

    checkpoint = Checkpoint(
        model_config=model_config,
        vocab=vocab,
        params={name: arrays[f"param.{name}"] for name in PARAM_NAMES},
        step=step,
        loss_history=arrays["loss_history"],
        train_state=meta.get("train_state"),
        bnmean=arrays.get("bnmean"),
        bnvar=arrays.get("bnvar"),
        diagnostics=meta.get("diagnostics"),
    )
    if "train_state" not in meta:
        raise _incompatible(path, "missing or malformed entry 'train_state'")
    _check_consistent(path, checkpoint)
    return checkpoint


MAX_META_BYTES = 2**24  # the JSON of the config and training state: a few kilobytes in practice


def _check_kind_of_file(path: Path) -> None:
    """Say what a file is when it is not an .npz archive, rather than what np.load makes of it."""
    try:
        with open(path, "rb") as file:
            start = file.read(6)
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    if start == b"\x93NUMPY":
        raise UserError(
            f"{path} holds a single NumPy array (an .npy file), not a ninjagrad checkpoint (an .npz archive "
            "of a model); point at the model.npz that `ninjagrad train` wrote"
        )
    if not start:
        raise UserError(f"{path} is empty (0 bytes), not a ninjagrad checkpoint; train again")
    if not start.startswith(b"PK"):
        raise UserError(
            f"{path} is not a ninjagrad checkpoint: it is not an .npz (zip) archive (it starts with "
            f"{start!r}); point at the model.npz that `ninjagrad train` wrote, or train again"
        )


def _entry_header(npz, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of one entry from its .npy header, checked against the entry's size in the archive."""
    name = member.removesuffix(".npy")
    info = npz.zip.getinfo(member)
    with npz.zip.open(member) as file:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            raise ValueError(f"entry {name!r} has .npy version {version}, which ninjagrad does not write")
        header_size = file.tell()
    if dtype.hasobject:
        raise ValueError(f"entry {name!r} holds Python objects, which can only be loaded with pickle")
    if info.file_size - header_size != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"entry {name!r} is truncated or corrupt: its size does not match its shape")
    return shape, dtype


def _read_meta(path: Path, npz, headers: dict) -> dict:
    if "meta" not in headers:
        raise _incompatible(path, "it has no 'meta' entry")
    shape, dtype = headers["meta"]
    if shape != () or dtype.kind != "U" or dtype.itemsize > MAX_META_BYTES:
        raise _incompatible(path, f"its 'meta' entry is {dtype}{list(shape)}, not a JSON text")
    try:
        meta = json.loads(str(npz["meta"]))
    except ValueError as error:
        raise _incompatible(path, f"its 'meta' entry is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise _incompatible(path, f"its format is {found!r}, this ninjagrad reads {FORMAT!r}")
    return meta


def _expected_entries(config: ModelConfig, step: int, headers: dict) -> dict[str, tuple[int, ...]]:
    """The entries a checkpoint of ``config`` at ``step`` holds, with their shapes."""
    expected = {f"param.{name}": shape for name, shape in config.parameter_shapes().items()}
    expected["loss_history"] = (step,)
    for name in ("bnmean", "bnvar"):  # present once training has finished
        if name in headers:
            expected[name] = (1, config.n_hidden)
    return expected


def _check_headers(path: Path, headers: dict, config: ModelConfig, step: int) -> None:
    """Shapes and dtypes must be those of a model built from the stored config; checked before reading."""
    expected = _expected_entries(config, step, headers)
    for entry, want in expected.items():
        if entry not in headers:
            raise KeyError(entry)
        shape, dtype = headers[entry]
        name = entry.removeprefix("param.")
        if entry.startswith("param.") and (shape != want or dtype != np.float32):
            needed = f"float32{list(want)}"
            raise _incompatible(path, f"parameter {name} is {dtype}{list(shape)}, the config needs {needed}")
        if shape != want:
            raise _incompatible(path, f"{name} has shape {shape}, expected {want}")
        if dtype.kind != "f":
            raise _incompatible(path, f"{name} is {dtype}, expected floating-point numbers")
    needed = sum(headers[entry][1].itemsize * math.prod(shape) for entry, shape in expected.items())
    check_memory(needed, f"loading {path}", "it is too large a model to load on this machine")


def _check_consistent(path: Path, checkpoint: Checkpoint) -> None:
    """What the headers cannot tell: the training state, the vocabulary, finite numbers."""
    config = checkpoint.model_config
    if not isinstance(checkpoint.train_state, dict):  # resume and sampling read it as a mapping
        kind = type(checkpoint.train_state).__name__
        raise _incompatible(path, f"its train_state is a {kind}, not a JSON object")
    if checkpoint.vocab.size != config.vocab_size:
        raise _incompatible(
            path, f"its vocabulary has {checkpoint.vocab.size} tokens but vocab_size is {config.vocab_size}"
        )
    if (checkpoint.bnmean is None) != (checkpoint.bnvar is None):
        raise _incompatible(path, "it has only one of bnmean and bnvar")
    arrays = {**checkpoint.params, "loss_history": checkpoint.loss_history}
    if checkpoint.finished:
        arrays.update(bnmean=checkpoint.bnmean, bnvar=checkpoint.bnvar)
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise _incompatible(
                path, f"{name} holds NaN or infinite values (a run that diverged, or a damaged file)"
            )
    if checkpoint.finished and (checkpoint.bnvar < 0).any():
        raise _incompatible(path, "bnvar holds a negative variance")


def _incompatible(path: Path, reason: str) -> UserError:
    return UserError(
        f"{path} is not a compatible ninjagrad checkpoint: {reason}; train again with `ninjagrad train`"
    )
