"""The stored form of canonical JSON (leaves, attestation bodies): a lossless byte-level packing.

Canonical JSON (RFC 8785) never holds a raw byte below 0x20: control characters inside strings are escaped.
Those 32 byte values are therefore free to stand for what the log's JSON repeats: a string of 64 lower-case
hex digits (an SM3 hash, written as 0x01 and its 32 bytes), a lower-case UUID string (0x02 and its 16
bytes), and the field names and punctuation of the event format (one byte each, ``_WORDS``). A packed value
starts with ``_PACKED``; unpacking replaces each token back, left to right, and gives the exact bytes that
were packed, whatever they were, so leaf hashes and signatures are computed over the unpacked bytes as
before. Values stored before packing existed (they start with ``{``) read unchanged.

The packing is a property of the bytes only, not of their meaning: concatenated packed pieces (without the
leading marker) unpack to the concatenated pieces, which lets the writer pack a leaf's template once and put
the chain link (``prev``, a hash it knows as bytes) between the packed halves.
"""

from __future__ import annotations

import re

from ledger.errors import StorageError

__all__ = ["pack", "pack_body", "pack_hash", "pack_leaf", "pack_packed_leaf", "pack_template", "reference_pack_body", "unpack"]

_PACKED = b"\x1f"  # first byte of a packed value (raw canonical JSON starts with "{" or "[")
_RAW = b"\x00"  # first byte of a value stored verbatim because it holds control bytes (not canonical JSON)
_HASH, _UUID = 0x01, 0x02
# Field names and punctuation of the event and attestation formats (docs/formats.md); order is part of the
# format (each word's code is 0x03 + its position): only ever append, never reorder or remove.
_WORDS = (
    b'{"actor":{"id":"', b'"key_id":"', b'"type":"device"}', b'"type":"user"}', b'"type":"service"}',
    b'"attestation":', b'"event_id":', b'"kind":"', b'"location":{"accuracy_m":', b'"lat":', b'"lon":',
    b'"occurred_at":"', b'"payload_commitment":', b'"prev":', b'null', b'"received_at":"', b'"signature":"',
    b'"subject":{', b'"permit":"', b'"tenant":"', b'"v":1}', b'"event_hashes":[', b'"kind":"detector.reading"',
    b'",', b'"},', b'"}', b'"type":"',
)
_CODES = {word: bytes([0x03 + i]) for i, word in enumerate(_WORDS)}
_DECODE = {0x03 + i: word for i, word in enumerate(_WORDS)}
assert 0x03 + len(_WORDS) <= _PACKED[0], "the packing has room for 28 words"
_HEX = rb'"[0-9a-f]{64}"'
_UUID_TEXT = rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"'
_QUOTED = sorted((w[1:] for w in _WORDS if w[:1] == b'"'), key=len, reverse=True)
_ENCODE_RE = re.compile(b'"(?:' + b"|".join([_HEX[1:], _UUID_TEXT[1:], *map(re.escape, _QUOTED)]) + b")|"
                        + b"|".join(re.escape(w) for w in _WORDS if w[:1] != b'"'))
# The same tokens, with a run of two or more comma-separated hashes (an attestation's ``event_hashes``) as one
# match: each run costs one call instead of one per hash. Tried first, it matches only where the hash
# alternative above matches too, and a comma is no token's start, so the output is ``_ENCODE_RE``'s (tested).
_HASH_RUN = rb'"[0-9a-f]{64}"(?:,"[0-9a-f]{64}")+'
_FAST_ENCODE_RE = re.compile(_HASH_RUN + b"|" + _ENCODE_RE.pattern)
_DECODE_RE = re.compile(rb"\x01(.{32})|\x02(.{16})|[\x03-\x1e]", re.DOTALL)
_CONTROL = re.compile(rb"[\x00-\x1f]")
_NULL = _CODES[b"null"]


def _encode(match: re.Match[bytes]) -> bytes:
    token = match[0]
    code = _CODES.get(token)
    if code is not None:
        return code
    if len(token) > 66:  # a run of hashes (``_FAST_ENCODE_RE``): "h","h",... -> 0x01 h,0x01 h,...
        raw = bytes.fromhex(token[1:-1].replace(b'","', b"").decode())
        return b"\x01" + b",\x01".join([raw[i:i + 32] for i in range(0, len(raw), 32)])
    if len(token) == 66:
        return b"\x01" + bytes.fromhex(token[1:-1].decode())
    return b"\x02" + bytes.fromhex(token[1:-1].replace(b"-", b"").decode())


def _decode(match: re.Match[bytes]) -> bytes:
    if match[1] is not None:
        return b'"' + match[1].hex().encode() + b'"'
    if match[2] is not None:
        h = match[2].hex().encode()
        return b'"' + h[:8] + b"-" + h[8:12] + b"-" + h[12:16] + b"-" + h[16:20] + b"-" + h[20:] + b'"'
    return _DECODE[match[0][0]]


def pack_body(text: bytes) -> bytes:
    """The packed tokens of ``text`` without the leading marker; requires ``text`` free of bytes < 0x20.

    The same bytes as ``reference_pack_body`` (one left-to-right pass, hashes and UUIDs tried first at each
    position, so a word is never looked for inside the raw bytes a hash was packed to), made from pieces:
    ``text`` is cut after every comma that is followed by a quote, and each piece is packed once and
    remembered (the pieces of leaves repeat: actor, kind, location, time, subject, tenant). A text longer than
    ``_PIECES_TEXT`` (an attestation body: a long run of hashes, converted in one step) is packed in one pass.

    Why the cut changes nothing: packing a text whose left-to-right pass (the reference's) has a token boundary
    at a cut is packing both sides and joining them (no token pattern looks behind or ahead of itself), and that
    pass has a boundary after every comma followed by a quote, because no token of the reference holds ``,"``
    (no word does, nor a hash or UUID string). A property test holds both equal on arbitrary texts made of the
    format's pieces.
    """
    if type(text) is not bytes:
        return _pack_tokens(bytes(text))
    pieces = text.split(b',"') if len(text) <= _PIECES_TEXT else ()
    if len(pieces) < 2:
        return _pack_tokens(text)
    memo, out, piece_before = _PIECES, [], pieces[0]
    for piece in pieces[1:]:
        piece_before += b","
        packed = memo.get(piece_before)
        out.append(packed if packed is not None else _remember(piece_before))
        piece_before = b'"' + piece
    packed = memo.get(piece_before)
    out.append(packed if packed is not None else _remember(piece_before))
    return b"".join(out)


_PIECES: dict[bytes, bytes] = {}
"""Pieces ``pack_body`` packed, and their packed form (dropped all at once when it holds ``_PIECES_LIMIT``)."""
_PIECES_LIMIT = 4096
_PIECES_TEXT = 4096


def _remember(piece: bytes) -> bytes:
    if len(_PIECES) >= _PIECES_LIMIT:
        _PIECES.clear()
    packed = _PIECES[piece] = _pack_tokens(piece)
    return packed


def _pack_tokens(text: bytes) -> bytes:
    """One regular-expression pass over ``text`` (runs of hashes converted in one step)."""
    return _FAST_ENCODE_RE.sub(_encode, text)


def reference_pack_body(text: bytes) -> bytes:
    """``pack_body`` one token at a time: the reference the faster form is tested against."""
    return _ENCODE_RE.sub(_encode, text)


def pack_hash(digest: bytes) -> bytes:
    """The packed tokens of the JSON string of ``digest``'s 32 bytes in hex (``pack_body`` of it, faster)."""
    return b"\x01" + digest


def pack(text: bytes) -> bytes:
    """The stored form of ``text`` (canonical JSON, or any bytes: those with control bytes are kept raw)."""
    if _CONTROL.search(text):
        return _RAW + text
    return _PACKED + pack_body(text)


def unpack(stored: bytes) -> bytes:
    """The exact bytes ``stored`` was packed from; raises ``StorageError`` if it is not a packed value."""
    if stored[:1] == _PACKED:
        text = _DECODE_RE.sub(_decode, stored[1:])
        if _CONTROL.search(text):
            raise StorageError(f"stored value is damaged: a packing token is cut short ({len(stored)} bytes)")
        return text
    if stored[:1] == _RAW:
        return stored[1:]
    if stored[:1] in (b"{", b"["):
        return stored
    raise StorageError(f"stored value starts with byte {stored[:1].hex() or 'none'}: neither packed nor JSON")


def pack_leaf(head: bytes, prev: bytes | None, tail: bytes) -> bytes:
    """``pack(head + value + tail)`` where value is the JSON string of ``prev``'s hex, or null if None.

    The writer's form: ``prev`` is known as bytes, so only the template's halves are scanned.
    """
    middle = pack_hash(prev) if prev is not None else _CODES[b"null"]
    if _CONTROL.search(head) or _CONTROL.search(tail):
        return _RAW + head + _decode_one(middle) + tail
    return _PACKED + pack_body(head) + middle + pack_body(tail)


def pack_template(head: bytes, tail: bytes) -> tuple[bytes, bytes] | None:
    """``(pack_body(head), pack_body(tail))`` of a leaf template's halves, or None if either holds a byte below
    0x20 (such a leaf is stored raw). Computed where the template is made (the intake worker), so the writer
    only puts the chain link between the halves (``pack_packed_leaf``)."""
    if _CONTROL.search(head) or _CONTROL.search(tail):
        return None
    return pack_body(head), pack_body(tail)


def pack_packed_leaf(packed: tuple[bytes, bytes], prev: bytes | None) -> bytes:
    """``pack_leaf(head, prev, tail)`` from ``packed = pack_template(head, tail)`` (not None): the same bytes."""
    return b"".join((_PACKED, packed[0], b"\x01" + prev if prev is not None else _NULL, packed[1]))


def _decode_one(token: bytes) -> bytes:
    return _DECODE_RE.sub(_decode, token)
