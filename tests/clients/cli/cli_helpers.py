#!/usr/bin/env python3
"""JSON plumbing for scenario_awscli.sh, which keeps the AWS CLI calls and the
scenario's order in shell and hands the parsing and record bookkeeping here.

Files it works with:
  written.jsonl  one line per record the server accepted, in acceptance order:
                 {"pk", "data" (text), "seq", "shard"}
  read.jsonl     one line per record read back: {"seq", "pk", "data"}

Every subcommand prints its answer on stdout; on a failed check it prints the
reason on stderr and exits 1, so the shell script can report it.
"""

import base64
import hashlib
import json
import random
import string
import sys

ALPHABET = string.ascii_letters + string.digits
rng = random.Random()


def die(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path) as f:
        return json.load(f)


def jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def append_jsonl(path, rows):
    with open(path, "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def text(n):
    # AWS CLI v1 sends a blob argument's text as its UTF-8 bytes, so the data
    # stays plain ASCII to keep "what we sent" unambiguous.
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def hash_of(pk):
    return int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")


def cmd_gen(count, out):
    """A PutRecords batch of `count` records with random keys and data."""
    batch = [{"PartitionKey": f"key-{rng.getrandbits(64):x}", "Data": text(rng.randint(1, 200))}
             for _ in range(int(count))]
    with open(out, "w") as f:
        json.dump(batch, f)


def cmd_gen_in_range(count, lo, hi, out):
    """A PutRecords batch whose keys all hash into [lo, hi]."""
    batch = [{"PartitionKey": key_in_range(int(lo), int(hi)), "Data": text(rng.randint(1, 200))}
             for _ in range(int(count))]
    with open(out, "w") as f:
        json.dump(batch, f)


def key_in_range(lo, hi):
    while True:
        pk = f"pk-{rng.getrandbits(64):016x}"
        if lo <= hash_of(pk) <= hi:
            return pk


def cmd_key_in_range(lo, hi):
    print(key_in_range(int(lo), int(hi)))


def cmd_text(n):
    print(text(int(n)))


def cmd_accept(batch_path, response_path, written_path):
    """Record the accepted entries of a PutRecords answer; keep only the
    throttled ones in the batch file for a retry; print how many remain."""
    batch, resp = load(batch_path), load(response_path)
    results = resp.get("Records", [])
    if len(results) != len(batch):
        die(f"PutRecords answered {len(results)} results for {len(batch)} records")
    accepted, retry = [], []
    for entry, r in zip(batch, results):
        if r.get("SequenceNumber") and not r.get("ErrorCode"):
            accepted.append({"pk": entry["PartitionKey"], "data": entry["Data"],
                             "seq": r["SequenceNumber"], "shard": r["ShardId"]})
        elif r.get("ErrorCode") == "ProvisionedThroughputExceededException":
            retry.append(entry)
        else:
            die(f"PutRecords entry failed: {r}")
    if resp.get("FailedRecordCount", 0) != len(retry):
        die(f"FailedRecordCount {resp.get('FailedRecordCount')} but {len(retry)} entries failed")
    append_jsonl(written_path, accepted)
    with open(batch_path, "w") as f:
        json.dump(retry, f)
    print(len(retry))


def cmd_accept_single(pk, data, response_path, written_path):
    """Record the answer of one PutRecord; print its ShardId."""
    r = load(response_path)
    if not (r.get("SequenceNumber") and r.get("ShardId")):
        die(f"PutRecord answer lacks SequenceNumber/ShardId: {r}")
    append_jsonl(written_path, [{"pk": pk, "data": data, "seq": r["SequenceNumber"], "shard": r["ShardId"]}])
    print(r["ShardId"])


def cmd_page(page_path, read_path, mode):
    """Append one GetRecords page to read.jsonl. Print the iterator to follow,
    or nothing when done: at the end of a closed shard (no NextShardIterator,
    any mode); mode "tip": at the tip of an open shard (an empty page with
    MillisBehindLatest 0); mode "first": after the first non-empty page;
    mode "closed": only at the end of the shard."""
    page = load(page_path)
    rows = []
    for r in page.get("Records", []):
        rows.append({"seq": r["SequenceNumber"], "pk": r["PartitionKey"],
                     "data": base64.b64decode(r["Data"]).decode("utf-8", "replace")})
    append_jsonl(read_path, rows)
    nxt = page.get("NextShardIterator")
    if not nxt:
        return
    if mode == "tip" and not rows and page.get("MillisBehindLatest", 0) == 0:
        return
    if mode == "first" and rows:
        return
    print(nxt)


def cmd_compare(read_path, written_path, shard, start="0", count="all"):
    """Records read == records written to `shard` (in write order), from
    index `start`, `count` of them."""
    expected = [(w["seq"], w["pk"], w["data"]) for w in jsonl(written_path) if w["shard"] == shard]
    got = [(r["seq"], r["pk"], r["data"]) for r in jsonl(read_path)]
    start = int(start)
    expected = expected[start:] if count == "all" else expected[start:start + int(count)]
    if count != "all":
        got = got[:int(count)]
    if got != expected:
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                die(f"record {i} differs: got (seq={g[0]}, pk={g[1]}, {len(g[2])} chars), "
                    f"expected (seq={e[0]}, pk={e[1]}, {len(e[2])} chars)")
        die(f"read {len(got)} records, expected {len(expected)}")
    print(len(got))


def cmd_seq_at(written_path, shard, index):
    """Sequence number of the index-th record written to `shard`."""
    print([w for w in jsonl(written_path) if w["shard"] == shard][int(index)]["seq"])


def cmd_count(written_path, shard):
    print(len([w for w in jsonl(written_path) if w["shard"] == shard]))


def cmd_check_written(written_path, shards_path, total):
    """All records accepted, each in the open shard owning MD5(key), with
    sequence numbers unique and strictly increasing per shard."""
    written = jsonl(written_path)
    if len(written) != int(total):
        die(f"{len(written)} records written, expected {total}")
    shards = [s for s in load(shards_path)["Shards"]
              if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    for w in written:
        h = hash_of(w["pk"])
        owner = [s["ShardId"] for s in shards
                 if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"])]
        if owner != [w["shard"]]:
            die(f"record with key {w['pk']} landed in {w['shard']}, its hash belongs to {owner}")
    for sid in {w["shard"] for w in written}:
        seqs = [int(w["seq"]) for w in written if w["shard"] == sid]
        if any(a >= b for a, b in zip(seqs, seqs[1:])):
            die(f"{sid}: sequence numbers not strictly increasing in write order")
    print(len(written))


def cmd_shards(path):
    """One line per shard of a ListShards answer, by starting hash key:
    ShardId StartingHashKey EndingHashKey ParentShardId AdjacentParentShardId open|closed
    (a missing parent is "-")."""
    shards = sorted(load(path)["Shards"], key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    for s in shards:
        state = "closed" if "EndingSequenceNumber" in s["SequenceNumberRange"] else "open"
        print(s["ShardId"], s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"],
              s.get("ParentShardId", "-"), s.get("AdjacentParentShardId", "-"), state)


def cmd_get(path, expr):
    """Evaluate a Python expression over the JSON document `d`; print strings
    raw, everything else as JSON."""
    d = load(path)
    value = eval(expr, {"d": d, "int": int, "len": len, "sorted": sorted})  # our own expressions only
    print(value if isinstance(value, str) else json.dumps(value))


COMMANDS = {
    "gen": cmd_gen,
    "gen-in-range": cmd_gen_in_range,
    "key-in-range": cmd_key_in_range,
    "text": cmd_text,
    "accept": cmd_accept,
    "accept-single": cmd_accept_single,
    "page": cmd_page,
    "compare": cmd_compare,
    "seq-at": cmd_seq_at,
    "count": cmd_count,
    "check-written": cmd_check_written,
    "shards": cmd_shards,
    "get": cmd_get,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die(f"usage: {sys.argv[0]} {{{','.join(COMMANDS)}}} ARGS...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
