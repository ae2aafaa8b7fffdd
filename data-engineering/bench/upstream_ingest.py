"""Reconstruction of the upstream Python ingest (pydantic + tqdm, existence checks only).

Used by `npm run bench:ingest` as the anchor, run in the same command as the TypeScript CLI. The
upstream script itself is not in this repository; this follows what the issue describes: load the
JSON, validate each record with a pydantic model, check that the image file exists, write
compound_rings.csv, send rejects to a dead-letter file. It does not copy images (the TypeScript CLI
does, once per distinct image), so the comparison slightly favours this script.

Usage: /usr/bin/python3 upstream_ingest.py DATA_LOC FILE_NAME OUTPUT_PATH DLQ
"""
import csv
import json
import os
import sys
import time
from typing import List, Optional

from pydantic import BaseModel, ValidationError

try:
    from tqdm import tqdm
except ImportError:  # Debian's python3-tqdm may be missing; the bar is not what is measured.
    def tqdm(iterable, **_kwargs):
        return iterable


class AssayResult(BaseModel):
    assay_id: str
    target: Optional[str]
    standard_type: str
    standard_relation: Optional[str]
    standard_value: Optional[float]
    standard_units: Optional[str]
    pchembl_value: Optional[float]


class Compound(BaseModel):
    compound_id: str
    smiles: str
    molecular_weight: Optional[float]
    ALogP: Optional[float]
    molecular_formula: Optional[str]
    num_rings: int
    image: str
    assay_results: List[AssayResult] = []


def main() -> None:
    data_loc, file_name, output_path, dlq = sys.argv[1:5]
    started = time.perf_counter()
    cpu_started = time.process_time()
    with open(os.path.join(data_loc, file_name), encoding="utf-8-sig") as f:
        records = json.load(f)
    os.makedirs(output_path, exist_ok=True)
    seen = set()
    accepted = 0
    with open(os.path.join(output_path, "compound_rings.csv"), "w", newline="") as out, open(dlq, "w") as dead:
        writer = csv.writer(out)
        writer.writerow(["compound_id", "num_rings", "image"])
        for row, record in enumerate(tqdm(records, mininterval=1.0)):
            try:
                compound = Compound(**record)
            except (ValidationError, TypeError) as error:
                dead.write(json.dumps({"row": row, "error": str(error), "record": record}) + "\n")
                continue
            if compound.compound_id in seen or not os.path.exists(os.path.join(data_loc, compound.image)):
                dead.write(json.dumps({"row": row, "error": "duplicate or missing image", "record": record}) + "\n")
                continue
            seen.add(compound.compound_id)
            writer.writerow([compound.compound_id, compound.num_rings, compound.image])
            accepted += 1
    print(json.dumps({
        "records": len(records),
        "accepted": accepted,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
    }))


if __name__ == "__main__":
    main()
