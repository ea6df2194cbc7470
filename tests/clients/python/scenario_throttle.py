#!/usr/bin/env python3
"""A KPL-style producer against `--limits aws`: boto3 pushing three times a shard's rate,
retrying the entries PutRecords refuses with ProvisionedThroughputExceededException (with
back-off), delivers every record exactly once in the end, in order per partition key.

Usage: scenario_throttle.py BINARY

Starts its own server (`--limits aws`), one shard. Each round sends the next 1,000 records of
1 KiB (3 MiB/s offered against 1 MiB/s) in PutRecords of 500; refused entries are sent again,
after the ones already accepted and before any new one of their key, as the KPL does. Then it
reads the shard from TRIM_HORIZON (GetRecords backs off on its own throttle) and checks.
The last line is always "throttle: N passed, M failed".
"""

import os
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

STREAM = "throttled"
KEYS = [f"key-{i}" for i in range(10)]
TOTAL = 3000
passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def start(binary, work):
    proc = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"),
         "--limits", "aws", "--streams", f"{STREAM}:1"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.log"), "w"), text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("TRIBUTARY_LISTENING "):
            return proc, line.split()[1]
        if proc.poll() is not None:
            break
    raise AssertionError("the server did not start; see " + os.path.join(work, "server.log"))


def produce(c):
    """Sends TOTAL records; returns how many entries were refused along the way."""
    pending = []  # (key, payload) not yet accepted, in the order they must land
    sent = 0
    refused = 0
    started = time.time()
    while sent < TOTAL or pending:
        # Offer 3,000 records/s: 1,000 new ones every third of a second.
        while sent < TOTAL and len(pending) < 1000:
            pending.append((KEYS[sent % len(KEYS)], b"%06d" % sent + b"x" * 1018))
            sent += 1
        batch = pending[:500]
        out = c.put_records(StreamName=STREAM, Records=[{"PartitionKey": k, "Data": d} for k, d in batch])
        failed = [e.get("ErrorCode") for e in out["Records"] if "ErrorCode" in e]
        check(set(failed) <= {"ProvisionedThroughputExceededException"}, f"only throttles fail: {set(failed)}")
        check(out["FailedRecordCount"] == len(failed), "FailedRecordCount counts the failed entries")
        refused += len(failed)
        # One shard: the refused entries are a suffix of the batch (the shard refuses in order).
        accepted = len(batch) - len(failed)
        check(all("ErrorCode" in e for e in out["Records"][accepted:]), "refusals are a suffix")
        pending = pending[accepted:]
        if failed:
            time.sleep(0.1)
        else:
            time.sleep(max(0.0, started + sent / 3000 - time.time()))
    return refused


def read_all(c):
    shard = c.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    it = c.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = []
    deadline = time.time() + 120
    while len(got) < TOTAL and time.time() < deadline:
        try:
            out = c.get_records(ShardIterator=it, Limit=1000)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ProvisionedThroughputExceededException":
                raise
            time.sleep(0.25)
            continue
        got.extend((r["PartitionKey"], r["Data"]) for r in out["Records"])
        it = out["NextShardIterator"]
    return got


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        proc, endpoint = start(binary, work)
        try:
            c = boto3.client(
                "kinesis", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                config=Config(retries={"total_max_attempts": 1}),
            )
            refused = produce(c)
            check(refused > 0, "three times the shard's rate is throttled")
            got = read_all(c)
            numbers = [int(d[:6]) for _, d in got]
            check(len(numbers) == TOTAL, f"{len(numbers)} records read, {TOTAL} sent")
            check(sorted(numbers) == list(range(TOTAL)), "every record exactly once")
            for key in KEYS:
                mine = [int(d[:6]) for k, d in got if k == key]
                check(mine == sorted(mine), f"{key}'s records in order")
            print(f"{refused} entries refused and sent again")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"throttle: {passed} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL {e}")
        print(f"throttle: {passed} passed, 1 failed")
        sys.exit(1)
