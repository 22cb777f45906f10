#!/usr/bin/env python3
"""Recomputes each instance's population digest from a review's state.json, independently of
Recert (standard library only), and compares it with the digest recorded at launch.

    scripts/population_digest.py STATE/reviews/NAME/state.json

Prints one line an instance (`INSTANCE recorded computed ok|EDITED`); exits 1 when any differs.
The canonical snapshot: a JSON array of {"access", "principal"} per item, in principal-id order,
keys sorted, no whitespace, UTF-8 (see src/population.rs).
"""
import hashlib
import json
import sys


def digest(items):
    snap = [{"principal": items[k]["principal"], "access": items[k]["access"]} for k in sorted(items)]
    data = json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main(paths):
    edited = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)["state"]
        for instance in state.get("instances", []):
            population = instance.get("population")
            if population is None:
                continue
            computed = digest(instance["items"])
            ok = computed == population["digest"]
            edited |= not ok
            print(instance["id"], population["digest"], computed, "ok" if ok else "EDITED")
    return 1 if edited else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
