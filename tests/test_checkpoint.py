"""Checkpoints: a faithful round trip, atomic replacement, no pickle, and clear errors for bad files."""

import errno
import json
import os
import zipfile

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore import checkpoint as checkpoint_module
from ninjagrad.makemore.checkpoint import Checkpoint, checkpoint_path, load_checkpoint, save_checkpoint
from ninjagrad.makemore.data import Vocabulary
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

VOCAB = Vocabulary(".abcdef")
CONFIG = ModelConfig(vocab_size=VOCAB.size, block_size=2, n_embd=3, n_hidden=5)


def make_checkpoint(step=7, finished=False, seed=0):
    rng = np.random.default_rng(seed)
    history = rng.random(10).astype(np.float32) + 2  # longer than step: only the first `step` are saved
    bn = {}
    if finished:
        bn = {"bnmean": rng.random((1, 5)).astype(np.float32), "bnvar": rng.random((1, 5)).astype(np.float32)}
    return Checkpoint(
        model_config=CONFIG,
        vocab=VOCAB,
        params=init_params(CONFIG, rng),
        step=step,
        loss_history=history,
        train_state={"config": {"steps": 10, "seed": 3}, "data": {"sha256": "ab"}},
        **bn,
    )


@pytest.mark.parametrize("finished", [False, True])
def test_round_trip_keeps_every_field(tmp_path, finished):
    original = make_checkpoint(finished=finished)
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, original)
    loaded = load_checkpoint(path)
    assert loaded.model_config == CONFIG
    assert loaded.vocab == VOCAB
    assert loaded.step == 7
    assert loaded.train_state == original.train_state
    np.testing.assert_array_equal(loaded.loss_history, original.loss_history[:7])
    for name in PARAM_NAMES:
        assert loaded.params[name].dtype == np.float32
        np.testing.assert_array_equal(loaded.params[name], original.params[name])
    assert loaded.finished is finished
    if finished:
        np.testing.assert_array_equal(loaded.bnmean, original.bnmean)
        np.testing.assert_array_equal(loaded.bnvar, original.bnvar)


def test_file_is_plain_npz_readable_without_pickle(tmp_path):
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint(finished=True))
    with np.load(path, allow_pickle=False) as npz:
        names = set(npz.files)
        meta = json.loads(str(npz["meta"]))
        assert all(npz[name].dtype != object for name in names)
    assert {f"param.{name}" for name in PARAM_NAMES} | {"bnmean", "bnvar", "loss_history", "meta"} == names
    assert meta["vocab"] == VOCAB.chars and meta["step"] == 7


def test_save_replaces_the_old_file_and_leaves_no_temporary(tmp_path):
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint(step=3))
    save_checkpoint(path, make_checkpoint(step=9, seed=1))
    assert load_checkpoint(path).step == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_a_write_that_fails_midway_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint(step=3))
    before = path.read_bytes()

    def savez_then_die(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(checkpoint_module.np, "savez", savez_then_die)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, make_checkpoint(step=9))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(UserError, match=r"no checkpoint at .*model\.npz; train a model first"):
        load_checkpoint(checkpoint_path(tmp_path))


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_or_garbage_files_are_user_errors(tmp_path, keep):
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint())
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(UserError, match="is empty|not a readable checkpoint|not a compatible"):
        load_checkpoint(path)


def test_random_bytes_are_a_user_error_that_says_it_is_no_archive(tmp_path):
    path = checkpoint_path(tmp_path)
    path.write_bytes(b"\x80" + np.random.default_rng(0).bytes(5000))  # np.load guessed "pickled data"
    with pytest.raises(
        UserError, match=r"is not a ninjagrad checkpoint: it is not an \.npz \(zip\) archive"
    ) as e:
        load_checkpoint(path)
    assert "pickle" not in str(e.value)


def test_an_npy_file_named_model_npz_is_a_user_error_that_says_so(tmp_path):
    path = checkpoint_path(tmp_path)
    np.save(path.with_suffix(".npy"), np.zeros(3))
    path.with_suffix(".npy").rename(path)
    with pytest.raises(UserError, match=r"holds a single NumPy array \(an \.npy file\), not a ninjagrad"):
        load_checkpoint(path)


def test_a_config_far_larger_than_its_arrays_is_refused_without_allocating_it(tmp_path, monkeypatch):
    import tracemalloc

    meta, arrays = good_arrays()
    meta["model_config"]["n_hidden"] = 10**9  # the parameters would take 224 GiB
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    tracemalloc.start()
    try:
        with pytest.raises(
            UserError, match=r"parameter W1 is float32\[6, 5\], the config needs float32\[6, "
        ):
            load_checkpoint(tmp_path / "model.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_a_consistent_model_too_large_for_the_machine_is_refused(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "model.npz", make_checkpoint())
    monkeypatch.setattr("ninjagrad.makemore.data.physical_memory", lambda: 100)
    with pytest.raises(UserError, match="it is too large a model to load on this machine"):
        load_checkpoint(tmp_path / "model.npz")


def test_an_entry_whose_size_does_not_match_its_header_is_refused(tmp_path):
    meta, arrays = good_arrays()
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    entries["param.W1.npy"] = entries["param.W1.npy"][:-8]  # a header that claims more than there is
    with zipfile.ZipFile(tmp_path / "model.npz", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(UserError, match="entry 'param.W1' is truncated or corrupt"):
        load_checkpoint(tmp_path / "model.npz")


@pytest.mark.parametrize("name", ["param.W1", "loss_history", "bnmean", "bnvar"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_a_checkpoint_is_refused(tmp_path, name, bad):
    meta, arrays = good_arrays()
    arrays["bnmean"] = np.zeros((1, 5), np.float32)
    arrays["bnvar"] = np.ones((1, 5), np.float32)
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = bad
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    shown = name.removeprefix("param.")
    with pytest.raises(UserError, match=f"{shown} holds NaN or infinite values"):
        load_checkpoint(tmp_path / "model.npz")


def test_a_negative_variance_is_refused(tmp_path):
    meta, arrays = good_arrays()
    arrays["bnmean"] = np.zeros((1, 5), np.float32)
    arrays["bnvar"] = -np.ones((1, 5), np.float32)
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(UserError, match="bnvar holds a negative variance"):
        load_checkpoint(tmp_path / "model.npz")


def write_npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def good_arrays():
    original = make_checkpoint()
    meta = {
        "format": checkpoint_module.FORMAT,
        "model_config": {"vocab_size": 7, "block_size": 2, "n_embd": 3, "n_hidden": 5, "bn_eps": 1e-5},
        "vocab": VOCAB.chars,
        "step": 7,
        "train_state": {},
    }
    arrays = {f"param.{name}": original.params[name] for name in PARAM_NAMES}
    arrays["loss_history"] = original.loss_history[:7]
    return meta, arrays


def test_a_hand_written_file_in_the_documented_layout_loads(tmp_path):
    meta, arrays = good_arrays()
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    assert load_checkpoint(tmp_path / "model.npz").step == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta, arrays: meta.update(format="something-else/9"), "format is 'something-else/9'"),
        (lambda meta, arrays: meta.pop("vocab"), "missing or malformed entry 'vocab'"),
        (lambda meta, arrays: arrays.pop("param.W2"), "missing or malformed entry 'param.W2'"),
        (lambda meta, arrays: meta["model_config"].update(n_hidden=6), r"parameter W1 is float32\[6, 5\]"),
        (lambda meta, arrays: meta["model_config"].update(depth=3), "malformed entry"),
        (lambda meta, arrays: meta.update(vocab=".ab"), "vocabulary has 3 tokens but vocab_size is 7"),
        (lambda meta, arrays: meta.update(vocab="abc"), "vocabulary must start with '.'"),
        (lambda meta, arrays: arrays.update({"param.C": arrays["param.C"].astype(np.float64)}), "float64"),
        (lambda meta, arrays: meta.update(step=8), r"loss_history has shape \(7,\), expected \(8,\)"),
        (lambda meta, arrays: arrays.update(bnmean=np.zeros((1, 5), np.float32)), "only one of bnmean"),
        (
            lambda meta, arrays: meta.update(train_state=[1, 2]),
            "its train_state is a list, not a JSON object",
        ),
    ],
)
def test_incompatible_contents_are_user_errors_that_say_why(tmp_path, change, message):
    meta, arrays = good_arrays()
    change(meta, arrays)
    write_npz(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(UserError, match=message):
        load_checkpoint(tmp_path / "model.npz")


def test_an_object_array_needing_pickle_is_refused(tmp_path):
    meta, arrays = good_arrays()
    arrays["loss_history"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "model.npz", meta=np.array(json.dumps(meta)), **arrays)  # np.savez pickles it
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "model.npz")


def test_meta_that_is_not_json_is_a_user_error(tmp_path):
    _, arrays = good_arrays()
    write_npz(tmp_path / "model.npz", meta=np.array("{not json"), **arrays)
    with pytest.raises(UserError, match="'meta' entry is not JSON"):
        load_checkpoint(tmp_path / "model.npz")


def test_a_zip_without_meta_is_a_user_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "model.npz", "w") as archive:
        archive.writestr("hello.txt", "not numpy")
    with pytest.raises(UserError, match="no 'meta' entry"):
        load_checkpoint(tmp_path / "model.npz")


def test_the_file_gets_the_usual_permissions_not_a_temporary_files_0600(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint())
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_full_disk_is_a_user_error_and_the_previous_checkpoint_stays(tmp_path, monkeypatch):
    path = checkpoint_path(tmp_path)
    save_checkpoint(path, make_checkpoint(step=3))
    before = path.read_bytes()

    def disk_full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("ninjagrad.files.os.fsync", disk_full)
    with pytest.raises(
        UserError, match=r"cannot write .*model\.npz: No space left on device; free some space"
    ):
        save_checkpoint(path, make_checkpoint(step=9))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
