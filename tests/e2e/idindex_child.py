"""A log writer for the id-index crash test: appends signed events with a tiny id index (the tail becomes a run
every few events, merges move one key per slice), printing each receipt (leaf index, leaf hash, the item) once ``submit`` has returned (durably
committed), until killed. Usage: DATABASE_URL"""

from __future__ import annotations

import json
import sys

from ledger.database import make_engine
from ledger.idindex import IdTuning
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import make_actor, prepared, signed_item

TUNING = IdTuning(tail=4, fan_in=2, slice=1)


def main(url: str) -> None:
    log = TransparencyLog(make_engine(url), origin="test.tiezheng/log",
                          signer=Signer.from_private_key(SM2PrivateKey.generate()), id_tuning=TUNING)
    log.start()
    actor, n = make_actor(), 0
    while True:
        items = [signed_item(actor, payload={"n": n + k}, permit=f"P-{(n + k) % 3}") for k in range(3)]
        for item, receipt in zip(items, log.submit(Submission([prepared(i) for i in items])), strict=True):
            print(receipt.leaf_index, receipt.leaf_hash.hex(), json.dumps(item), sep="\t", flush=True)
        n += 3


if __name__ == "__main__":
    main(sys.argv[1])
