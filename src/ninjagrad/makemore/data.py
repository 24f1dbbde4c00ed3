"""The makemore data: a text file of items (names), their vocabulary, and the examples a model learns from.

A character-level language model in the style of Bengio et al. (2003) predicts the next character from the
``block_size`` characters before it. Every item ``w`` therefore yields ``len(w) + 1`` examples: the context
starts as ``block_size`` start tokens and the last target is the end token. The start and end token is the
same character, ``'.'``, which is why an item may not contain it.

The file format, decided here once:

- UTF-8 (a byte-order mark at the start is tolerated), one item per line; ``\\n`` and ``\\r\\n`` endings;
  UTF-16 and UTF-32 files (and any file with NUL bytes) are refused with the encoding named;
- at most ``MAX_INPUT_BYTES`` (256 MiB; the bundled names are 228 kB), read from a regular file, a pipe or a
  device; a named pipe (FIFO) nobody writes to is refused after ``FIFO_WAIT_SECONDS``;
- blank lines (empty, or only whitespace) are skipped, so a trailing empty line is harmless;
- an item containing whitespace or ``'.'`` is an error naming the line, never silently "fixed".

The split into train/val/test is by item, after ``random.Random(42).shuffle`` (the same sequence as the
lecture's ``random.seed(42); random.shuffle(words)``), 80% / 10% / 10%. It does not depend on the training
seed, so every run is measured on the same val and test items. On the bundled names this gives
182,625 / 22,655 / 22,866 examples.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ninjagrad.errors import UserError

TOKEN = "."  # start and end of every item; index 0 of every vocabulary
SPLIT_SEED = 42  # the lecture's shuffle seed, so our split is the lecture's split
SPLIT_FRACTIONS = (0.8, 0.9)  # train is items[:80%], val items[80%:90%], test the rest
MIN_ITEMS = 10  # the fewest items for which the 80/10/10 split leaves val and test non-empty
MAX_INPUT_BYTES = 256 * 2**20  # a data file of items for a character model; names.txt is 228 kB
FIFO_WAIT_SECONDS = 5.0  # how long a named pipe may stay without a writer before it is refused
ECHO_CHARACTERS = 60  # an item or line quoted in a message is cut to this many characters
# Byte-order marks of the encodings a data file is most often saved in by mistake (UTF-32 first: its
# little-endian mark begins with UTF-16's).
BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)


def bundled_names() -> Path:
    """The names dataset shipped with ninjagrad (32,033 names, one per line)."""
    return Path(str(resources.files("ninjagrad") / "data" / "names.txt"))


@dataclass(frozen=True)
class Vocabulary:
    """The characters a model knows: ``chars[i]`` is token ``i``, and ``chars[0]`` is the token ``'.'``."""

    chars: str

    def __post_init__(self):
        if not self.chars or self.chars[0] != TOKEN or len(set(self.chars)) != len(self.chars):
            raise UserError(
                f"a vocabulary must start with {TOKEN!r} and list each character once, got {self.chars!r}"
            )

    @classmethod
    def from_items(cls, items: list[str]) -> Vocabulary:
        """``'.'`` then every character used by the items, sorted by code point (so 'a'..'z' are 1..26)."""
        return cls(TOKEN + "".join(sorted(set("".join(items)))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token indices of ``text`` (int64); a character outside the vocabulary is a UserError."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one code point each
        known = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        order = np.argsort(known)  # searchsorted needs the code points sorted; '.' may not sort first
        position = np.minimum(np.searchsorted(known[order], codes), len(known) - 1)
        tokens = order[position]
        unknown = known[tokens] != codes
        if unknown.any():
            first = chr(int(codes[np.argmax(unknown)]))
            raise UserError(
                f"character {first!r} is not in the vocabulary {self.chars!r}; "
                "use a model trained on data that contains it"
            )
        return tokens

    def decode(self, tokens) -> str:
        return "".join(self.chars[int(t)] for t in tokens)


@dataclass(frozen=True)
class Examples:
    """Contexts and next-token targets, as compact integer arrays (uint8 while the vocabulary fits)."""

    X: np.ndarray  # (N, block_size) token indices: the characters before the target
    Y: np.ndarray  # (N,) the token to predict

    def __len__(self) -> int:
        return len(self.Y)


@dataclass(frozen=True)
class Dataset:
    """Everything training needs from a data file, already split and encoded."""

    path: Path  # the file the items came from
    sha256: str  # of the file's bytes: a resumed run must see the same data
    vocab: Vocabulary
    block_size: int  # context length the examples were built for
    items: dict[str, int]  # number of items per split
    train: Examples
    val: Examples
    test: Examples

    def splits(self) -> dict[str, Examples]:
        return {"train": self.train, "val": self.val, "test": self.test}


def read_items(path: str | Path) -> list[str]:
    """The items of a text file, validated. Every problem is a UserError naming the file and the line."""
    path = Path(path)
    return parse_items(_read_bytes(path), str(path))


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, at most ``MAX_INPUT_BYTES`` of them, from a regular file, a pipe or a device."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"no such file: {path}; pass a UTF-8 text file with one item per line") from None
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path} is a directory; pass a UTF-8 text file with one item per line")
    if stat.S_ISREG(mode) and path.stat().st_size > MAX_INPUT_BYTES:
        raise _too_large(path, f"{path.stat().st_size:,} bytes")
    try:
        descriptor = os.open(path, os.O_RDONLY | (os.O_NONBLOCK if stat.S_ISFIFO(mode) else 0))
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    try:
        if stat.S_ISFIFO(mode):
            return _read_fifo(path, descriptor)
        chunks, size = [], 0
        while size <= MAX_INPUT_BYTES:  # a device such as /dev/zero never ends: stop past the limit
            chunk = os.read(descriptor, 2**20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        raise _too_large(path, "more bytes than that")
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(descriptor)


def _read_fifo(path: Path, descriptor: int) -> bytes:
    """Read a named pipe opened without blocking: wait a while for a writer, then read to its end."""
    import select

    chunks, size, waited_since = [], 0, time.monotonic()
    writer_seen = False
    while True:
        try:
            chunk = os.read(descriptor, 2**20)
        except BlockingIOError:  # a writer is there but has written nothing yet: wait for it
            writer_seen = True
            select.select([descriptor], [], [], 0.5)
            continue
        if chunk:
            writer_seen = True
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_INPUT_BYTES:
                raise _too_large(path, "more bytes than that")
        elif writer_seen:  # the writer has closed its end: that is the end of the data
            return b"".join(chunks)
        elif time.monotonic() - waited_since > FIFO_WAIT_SECONDS:
            raise UserError(
                f"{path} is a named pipe (FIFO) and nothing wrote to it for {FIFO_WAIT_SECONDS:g} s; "
                "start the program that writes to it first, or pass a regular file"
            )
        else:
            time.sleep(0.05)  # no writer has opened the pipe yet


def _too_large(path: Path, size: str) -> UserError:
    return UserError(
        f"{path} holds {size}; a data file may hold at most {MAX_INPUT_BYTES // 2**20} MiB "
        "(one item per line; the bundled names are 228 kB): pass a smaller file"
    )


def _shorten(text: str | bytes) -> str:
    """``repr(text)``, cut to ``ECHO_CHARACTERS`` characters and its length, so a message stays short."""
    if len(text) <= ECHO_CHARACTERS:
        return repr(text)
    unit = "characters" if isinstance(text, str) else "bytes"
    return f"{text[:ECHO_CHARACTERS]!r}... ({len(text):,} {unit})"


def parse_items(data: bytes, source: str = "<bytes>") -> list[str]:
    """Items from the bytes of a file (see the module docstring for the format)."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise UserError(
                f"{source} is saved as {encoding} (it starts with the byte-order mark {mark!r}); "
                "save it as UTF-8"
            )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise UserError(
            f"{source}, line {line}: the file contains NUL bytes, so it is UTF-16 or UTF-32 without a "
            "byte-order mark, or not text at all; save it as UTF-8 text, one item per line"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line_end = data.find(b"\n", error.start)
        raw_line = data[line_start : line_end if line_end >= 0 else len(data)]
        raise UserError(
            f"{source}, line {line}: bytes {data[error.start : error.end]!r} are not UTF-8 "
            f"(the line reads {_shorten(raw_line)}); save the file as UTF-8"
        ) from None

    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        item = line.removesuffix("\r")
        if not item or item.isspace():
            continue  # blank line
        if any(c.isspace() for c in item):
            raise UserError(
                f"{source}, line {number}: item {_shorten(item)} contains whitespace; "
                "put one item per line, with no spaces or tabs in or around it"
            )
        if TOKEN in item:
            raise UserError(
                f"{source}, line {number}: item {_shorten(item)} contains {TOKEN!r}, which marks the start "
                f"and end of every item; remove or replace that character"
            )
        items.append(item)
    if not items:
        what = "is empty" if not text else "has only blank lines"
        raise UserError(f"{source} {what}; it needs one item per line")
    return items


def split_items(items: list[str], source: str = "the data") -> dict[str, list[str]]:
    """Shuffle a copy with ``random.Random(42)`` and cut it 80% / 10% / 10% (the lecture's split)."""
    if len(items) < MIN_ITEMS:
        raise UserError(
            f"{source} has {len(items)} items; the 80/10/10 split needs at least {MIN_ITEMS} so that "
            "val and test are not empty"
        )
    shuffled = list(items)
    random.Random(SPLIT_SEED).shuffle(shuffled)
    n1 = int(SPLIT_FRACTIONS[0] * len(shuffled))
    n2 = int(SPLIT_FRACTIONS[1] * len(shuffled))
    return {"train": shuffled[:n1], "val": shuffled[n1:n2], "test": shuffled[n2:]}


def build_examples(items: list[str], vocab: Vocabulary, block_size: int) -> Examples:
    """All (context, target) pairs of ``items``, built without a Python loop over characters.

    Each item is laid out in one token stream as ``block_size`` start tokens, its characters and one end
    token. Example ``t`` of an item is then the window of ``block_size`` tokens at offset ``t`` of that
    item's stretch, and its target is the token right after the window.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer) or block_size < 1:
        raise UserError(f"block_size must be an integer of at least 1, got {block_size!r}")
    stream = vocab.encode("".join(TOKEN * block_size + item + TOKEN for item in items))
    stream = stream.astype(_index_dtype(vocab.size))  # (total,)

    lengths = np.array([len(item) for item in items], dtype=np.int64)  # (items,)
    per_item = lengths + 1  # examples per item
    stretch = lengths + block_size + 1  # tokens per item in the stream
    item_offset = np.cumsum(stretch) - stretch  # where each item's stretch starts
    first_example = np.cumsum(per_item) - per_item  # index of each item's first example
    n = int(per_item.sum())
    t = np.arange(n) - np.repeat(first_example, per_item)  # position of each example inside its item
    starts = np.repeat(item_offset, per_item) + t  # (n,) where each example's window starts

    windows = np.lib.stride_tricks.sliding_window_view(stream, block_size)  # (total-block_size+1, block_size)
    X = np.ascontiguousarray(windows[starts])  # (n, block_size)
    Y = stream[starts + block_size]  # (n,)
    return Examples(X=X, Y=Y)


def examples_memory(items: list[str], block_size: int) -> int:
    """An estimate of the peak bytes :func:`build_examples` takes for ``items``, from their lengths alone.

    The token stream holds ``block_size + len(w) + 1`` tokens per item and passes through UTF-32 and int64
    on the way (about 20 bytes a token at the peak); the examples take ``block_size + 1`` bytes each (at
    uint8) plus an int64 index or two.
    """
    characters = sum(len(item) for item in items)
    tokens = characters + len(items) * (block_size + 1)
    examples = characters + len(items)
    return 20 * tokens + examples * (block_size + 1 + 24)


def physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(needed: int, what: str, fix: str) -> None:
    """Refuse, before allocating, work that needs more memory than the machine has.

    Linux hands out memory it does not have, so the alternative is a MemoryError traceback or the kernel
    killing the process; ``fix`` says what to do instead (e.g. which flag to make smaller).
    """
    physical = physical_memory()
    if physical is not None and needed > physical:
        # a flag of 400 digits makes `needed` an int too large for a float: say "over" a still-huge amount
        amount = f"about {needed / 2**30:,.1f}" if needed < 2**80 else f"over {2**50:,}"
        raise UserError(
            f"{what} needs {amount} GiB of memory, more than the {physical / 2**30:,.1f} GiB this machine "
            f"has; {fix}"
        )


def _index_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every token index."""
    for dtype in (np.uint8, np.uint16):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint32)


def load_dataset(path: str | Path | None = None, block_size: int = 3) -> Dataset:
    """Read, validate, split and encode a data file (the bundled names when ``path`` is None)."""
    path = bundled_names() if path is None else Path(path)
    data = _read_bytes(path)
    items = parse_items(data, str(path))
    vocab = Vocabulary.from_items(items)
    parts = split_items(items, str(path))
    if isinstance(block_size, int) and block_size >= 1:  # build_examples says what is wrong otherwise
        needed = sum(examples_memory(part, block_size) for part in parts.values())
        what = f"building the examples with block_size {block_size:,}"
        check_memory(needed, what, "choose a smaller --block-size")
    examples = {name: build_examples(part, vocab, block_size) for name, part in parts.items()}
    return Dataset(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        vocab=vocab,
        block_size=block_size,
        items={name: len(part) for name, part in parts.items()},
        **examples,
    )
