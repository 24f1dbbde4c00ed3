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
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.files import write_atomically
from ninjagrad.makemore.data import Vocabulary
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

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
    """Read and validate a checkpoint; anything missing, corrupt or inconsistent is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"no checkpoint at {path}; train a model first with `ninjagrad train -o {path.parent}`"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{path} is not a readable checkpoint ({error}); it may be truncated or not a ninjagrad "
            "model: train again, or point -o at the directory of a complete run"
        ) from None

    meta = _read_meta(path, arrays)
    try:
        model_config = ModelConfig(**meta["model_config"])
        vocab = Vocabulary(meta["vocab"])
        params = {name: arrays[f"param.{name}"] for name in PARAM_NAMES}
        checkpoint = Checkpoint(
            model_config=model_config,
            vocab=vocab,
            params=params,
            step=int(meta["step"]),
            loss_history=arrays["loss_history"],
            train_state=meta["train_state"],
            bnmean=arrays.get("bnmean"),
            bnvar=arrays.get("bnvar"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise _incompatible(path, f"missing or malformed entry {error}") from None
    _check_consistent(path, checkpoint)
    return checkpoint


def _read_meta(path: Path, arrays: dict[str, np.ndarray]) -> dict:
    if "meta" not in arrays:
        raise _incompatible(path, "it has no 'meta' entry")
    try:
        meta = json.loads(str(arrays["meta"]))
    except ValueError as error:
        raise _incompatible(path, f"its 'meta' entry is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise _incompatible(path, f"its format is {found!r}, this ninjagrad reads {FORMAT!r}")
    return meta


def _check_consistent(path: Path, checkpoint: Checkpoint) -> None:
    """Shapes and dtypes must be those of a model built from the stored config."""
    config = checkpoint.model_config
    if not isinstance(checkpoint.train_state, dict):  # resume and sampling read it as a mapping
        kind = type(checkpoint.train_state).__name__
        raise _incompatible(path, f"its train_state is a {kind}, not a JSON object")
    if checkpoint.vocab.size != config.vocab_size:
        raise _incompatible(
            path, f"its vocabulary has {checkpoint.vocab.size} tokens but vocab_size is {config.vocab_size}"
        )
    expected = init_params(config, np.random.default_rng(0))  # only the shapes and dtypes are used
    for name in PARAM_NAMES:
        have, want = checkpoint.params[name], expected[name]
        if have.shape != want.shape or have.dtype != want.dtype:
            needed = f"{want.dtype}{list(want.shape)}"
            raise _incompatible(
                path, f"parameter {name} is {have.dtype}{list(have.shape)}, the config needs {needed}"
            )
    if checkpoint.loss_history.shape != (checkpoint.step,):
        raise _incompatible(
            path, f"loss_history has shape {checkpoint.loss_history.shape}, expected ({checkpoint.step},)"
        )
    if (checkpoint.bnmean is None) != (checkpoint.bnvar is None):
        raise _incompatible(path, "it has only one of bnmean and bnvar")
    if checkpoint.finished:
        hidden = (1, config.n_hidden)
        for name, stat in (("bnmean", checkpoint.bnmean), ("bnvar", checkpoint.bnvar)):
            if stat.shape != hidden:
                raise _incompatible(path, f"{name} has shape {stat.shape}, expected {hidden}")


def _incompatible(path: Path, reason: str) -> UserError:
    return UserError(
        f"{path} is not a compatible ninjagrad checkpoint: {reason}; train again with `ninjagrad train`"
    )
