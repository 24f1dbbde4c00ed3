"""The makemore data: file validation, vocabulary, vectorised examples and the lecture's split."""

import hashlib
import random

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.data import (
    Vocabulary,
    build_examples,
    bundled_names,
    load_dataset,
    parse_items,
    read_items,
    split_items,
)

NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"  # the lectures' names.txt


def lecture_examples(words, stoi, block_size):
    """The lecture's build_dataset, a plain loop: the independent reference for the vectorised one."""
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return np.array(X, dtype=np.int64).reshape(-1, block_size), np.array(Y, dtype=np.int64)


@pytest.fixture(scope="module")
def names():
    return load_dataset()


def test_bundled_names_are_the_lecture_file(names):
    assert hashlib.sha256(bundled_names().read_bytes()).hexdigest() == NAMES_SHA256
    assert names.sha256 == NAMES_SHA256
    assert sum(names.items.values()) == 32_033


def test_names_vocabulary_is_dot_then_a_to_z(names):
    assert names.vocab.chars == ".abcdefghijklmnopqrstuvwxyz"
    assert names.vocab.size == 27


def test_names_split_has_the_lecture_example_counts(names):
    assert {name: len(examples) for name, examples in names.splits().items()} == {
        "train": 182_625,
        "val": 22_655,
        "test": 22_866,
    }


def test_names_examples_equal_the_lecture_loop_after_random_seed_42(names):
    # The lecture's exact recipe, with the global random module, as the reference.
    words = bundled_names().read_text().splitlines()
    stoi = {ch: i for i, ch in enumerate(".abcdefghijklmnopqrstuvwxyz")}
    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    parts = {"train": words[:n1], "val": words[n1:n2], "test": words[n2:]}
    for name, examples in names.splits().items():
        X, Y = lecture_examples(parts[name], stoi, 3)
        np.testing.assert_array_equal(examples.X, X)
        np.testing.assert_array_equal(examples.Y, Y)


def test_examples_are_compact_integer_arrays(names):
    assert names.train.X.dtype == np.uint8 and names.train.Y.dtype == np.uint8
    assert names.train.X.shape == (182_625, 3) and names.train.Y.shape == (182_625,)
    assert names.train.X.flags.c_contiguous


@pytest.mark.parametrize("block_size", [1, 2, 5, 8])
def test_examples_for_any_block_size_match_the_loop(block_size):
    items = ["ab", "c", "abcabcabc", "ba"]
    vocab = Vocabulary.from_items(items)
    examples = build_examples(items, vocab, block_size)
    X, Y = lecture_examples(items, {ch: i for i, ch in enumerate(vocab.chars)}, block_size)
    np.testing.assert_array_equal(examples.X, X)
    np.testing.assert_array_equal(examples.Y, Y)
    assert len(examples) == sum(len(item) + 1 for item in items)


def test_unicode_items_and_a_large_vocabulary_use_wider_integers():
    items = ["é" + chr(0x4E00 + i) for i in range(300)]  # 301 characters + '.' do not fit in uint8
    vocab = Vocabulary.from_items(items)
    examples = build_examples(items, vocab, 3)
    assert examples.X.dtype == np.uint16
    assert vocab.decode(examples.Y[:3]) == items[0] + "."
    assert vocab.decode(vocab.encode(items[123])) == items[123]


def test_vocabulary_sorts_characters_and_puts_the_token_first_even_if_others_sort_before_it():
    vocab = Vocabulary.from_items(["b-a", "c'"])  # '-' and "'" sort before '.'
    assert vocab.chars == ".'-abc"
    np.testing.assert_array_equal(vocab.encode("'-a."), [1, 2, 3, 0])


def test_encoding_an_unknown_character_names_it():
    with pytest.raises(UserError, match="'z' is not in the vocabulary"):
        Vocabulary(".ab").encode("abz")


def test_split_is_the_lecture_shuffle_without_touching_global_random_state():
    items = [f"item{i}" for i in range(100)]
    random.seed(7)
    before = random.random()
    random.seed(7)
    parts = split_items(items)
    assert random.random() == before  # the split used its own Random(42)
    reference = list(items)
    random.seed(42)
    random.shuffle(reference)
    assert parts == {"train": reference[:80], "val": reference[80:90], "test": reference[90:]}


def test_split_needs_ten_items_so_val_and_test_are_not_empty():
    parts = split_items([f"x{i}" for i in range(10)])
    assert [len(p) for p in parts.values()] == [8, 1, 1]
    with pytest.raises(UserError, match="has 9 items.*at least 10"):
        split_items([f"x{i}" for i in range(9)], "tiny.txt")


def test_parse_handles_crlf_blank_lines_and_a_byte_order_mark():
    data = "\ufeffanna\r\n\r\n  \nbob\n\n".encode()
    assert parse_items(data) == ["anna", "bob"]


def test_parse_keeps_any_unicode_character_except_the_token():
    assert parse_items("zoë\nłukasz\n日本\n".encode()) == ["zoë", "łukasz", "日本"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n\r\n", "only blank lines"),
        (b"anna\nbo b\n", r"line 2: item 'bo b' contains whitespace"),
        (b"anna\nbob \n", r"line 2: item 'bob ' contains whitespace"),
        (b"anna\n\tbob\n", r"line 2: item '\\tbob' contains whitespace"),
        (b"anna\nbo\rb\n", r"line 2: item 'bo\\rb' contains whitespace"),
        (b"anna\nbob\nst.john\n", r"line 3: item 'st.john' contains '\.'"),
        (b"anna\nbo\xffb\n", r"line 2: bytes b'\\xff' are not UTF-8 \(the line reads b'bo\\xffb'\)"),
        (b"\xc3", r"line 1: bytes b'\\xc3' are not UTF-8"),
    ],
)
def test_bad_data_is_a_user_error_naming_the_problem(data, message):
    with pytest.raises(UserError, match=message):
        parse_items(data, "data.txt")


def test_missing_file_and_directory_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_items(tmp_path / "nope.txt")
    with pytest.raises(UserError, match="is a directory"):
        read_items(tmp_path)


def test_load_dataset_of_a_small_file(tmp_path):
    path = tmp_path / "pets.txt"
    items = ["rex", "fido", "tom", "felix", "kitty", "bella", "max", "luna", "coco", "milo", "oscar", "leo"]
    path.write_text("\n".join(items) + "\n")
    data = load_dataset(path, block_size=4)
    assert data.path == path and data.block_size == 4
    assert data.items == {"train": 9, "val": 1, "test": 2}
    assert data.train.X.shape[1] == 4
    assert data.vocab.chars == "." + "".join(sorted(set("".join(items))))
    total = sum(len(e) for e in data.splits().values())
    assert total == sum(len(item) + 1 for item in items)


@pytest.mark.parametrize("block_size", [0, -2, 2.5, True, "3"])
def test_a_block_size_that_is_not_a_positive_integer_is_a_user_error(block_size):
    with pytest.raises(UserError, match="block_size must be an integer of at least 1"):
        build_examples(["ab", "c"], Vocabulary(".abc"), block_size)


@pytest.mark.parametrize("block_size", [3, 16])
def test_the_examples_memory_estimate_is_within_a_factor_of_two_of_what_building_takes(block_size):
    import tracemalloc

    from ninjagrad.makemore.data import examples_memory

    items = read_items(bundled_names())
    vocab = Vocabulary.from_items(items)
    tracemalloc.start()
    try:
        build_examples(items, vocab, block_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = examples_memory(items, block_size)
    assert peak / 2 <= estimate <= 2 * peak, (estimate, peak)


def test_a_block_size_too_large_for_the_machine_is_refused_naming_the_flag(monkeypatch):
    from ninjagrad.makemore import data

    monkeypatch.setattr(data, "physical_memory", lambda: 2**20)
    with pytest.raises(UserError, match=r"block_size 3 needs about .* GiB .*choose a smaller --block-size"):
        load_dataset(None, 3)


def test_long_lines_are_cut_in_messages():
    with pytest.raises(UserError) as error:
        parse_items(b"ann\n" + b"a b" * 1000 + b"\n")
    message = str(error.value)
    assert "... (3,000 characters)" in message and len(message) < 300
