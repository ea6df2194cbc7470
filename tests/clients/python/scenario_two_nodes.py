#!/usr/bin/env python3
"""Two Tributary nodes on one NATS JetStream cluster, driven by boto3: one service.

Usage: scenario_two_nodes.py ENDPOINT_A ENDPOINT_B

Creates a stream on A and sees it ACTIVE on B; puts through both nodes and reads every record
back from both with the same sequence numbers; races CreateStream on both (exactly one
success, the other ResourceInUseException); splits on A and reads parent then children on B
with the links intact; subscribes (enhanced fan-out) on B to records put on A; deletes on B and
sees it gone on A. Last line: "two-nodes: N passed, M failed".
"""

import sys
import threading
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def client(endpoint):
    return boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )


def eventually(what, fn, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            if fn():
                return
        except ClientError:
            pass
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


def status(c, stream):
    return c.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]


def read_shard(c, stream, shard):
    """Every record of a shard from TRIM_HORIZON, until a closed shard's end or an empty read."""
    it = c.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    while it:
        r = c.get_records(ShardIterator=it, Limit=1000)
        out += [(x["SequenceNumber"], x["Data"]) for x in r["Records"]]
        if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
            break
        it = r.get("NextShardIterator")
    return out


def main(a_url, b_url):
    a, b = client(a_url), client(b_url)
    stream = f"two-{uuid.uuid4().hex[:8]}"

    a.create_stream(StreamName=stream, ShardCount=1)
    eventually("B sees the stream ACTIVE", lambda: status(b, stream) == "ACTIVE")
    check(True, "created on A, ACTIVE on B")

    put = {}
    for i in range(20):
        c = a if i % 2 == 0 else b
        r = c.put_record(StreamName=stream, Data=b"r%d" % i, PartitionKey=f"k{i}")
        put[r["SequenceNumber"]] = b"r%d" % i
    batch = b.put_records(StreamName=stream, Records=[{"Data": b"p%d" % i, "PartitionKey": f"p{i}"} for i in range(30)])
    check(batch["FailedRecordCount"] == 0, "PutRecords through B")
    for i, rec in enumerate(batch["Records"]):
        put[rec["SequenceNumber"]] = b"p%d" % i
    shard = "shardId-000000000000"
    for name, c in (("A", a), ("B", b)):
        got = read_shard(c, stream, shard)
        check(dict(got) == put, f"{name} reads every record with its sequence number")
        seqs = [int(s) for s, _ in got]
        check(seqs == sorted(seqs), f"{name} reads them in order")

    # Racing CreateStream: exactly one node wins.
    race = f"race-{uuid.uuid4().hex[:8]}"
    results = {}

    def create(name, c):
        try:
            c.create_stream(StreamName=race, ShardCount=1)
            results[name] = "ok"
        except ClientError as e:
            results[name] = e.response["Error"]["Code"]

    threads = [threading.Thread(target=create, args=(n, c)) for n, c in (("A", a), ("B", b))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    check(sorted(results.values()) == ["ResourceInUseException", "ok"], f"racing CreateStream: {results}")

    # Split on A, observed on B.
    desc = a.describe_stream(StreamName=stream)["StreamDescription"]
    lo, hi = int(desc["Shards"][0]["HashKeyRange"]["StartingHashKey"]), int(desc["Shards"][0]["HashKeyRange"]["EndingHashKey"])
    a.split_shard(StreamName=stream, ShardToSplit=shard, NewStartingHashKey=str((lo + hi) // 2 + 1))
    eventually("B sees the split", lambda: len(b.list_shards(StreamName=stream)["Shards"]) == 3 and status(b, stream) == "ACTIVE")
    shards = b.list_shards(StreamName=stream)["Shards"]
    children = [s for s in shards if s.get("ParentShardId") == shard]
    check(len(children) == 2, "B lists both children with their parent")
    check("EndingSequenceNumber" in shards[0]["SequenceNumberRange"], "B sees the parent closed")
    check(dict(read_shard(b, stream, shard)) == put, "B reads the closed parent whole")
    after = {}
    for i in range(10):
        r = b.put_record(StreamName=stream, Data=b"c%d" % i, PartitionKey=f"c{i}")
        check(r["ShardId"] != shard, "a put after the split lands in a child")
        after[r["SequenceNumber"]] = b"c%d" % i
    got = {}
    for ch in children:
        got.update(dict(read_shard(a, stream, ch["ShardId"])))
    check(got == after, "A reads the children's records put through B")

    # Enhanced fan-out on B to records put on A.
    arn = b.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    carn = a.register_stream_consumer(StreamARN=arn, ConsumerName="two-nodes")["Consumer"]["ConsumerARN"]
    eventually("the consumer is ACTIVE on B", lambda: b.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE")
    target = children[0]["ShardId"]
    lo = int(children[0]["HashKeyRange"]["StartingHashKey"])
    sub = b.subscribe_to_shard(ConsumerARN=carn, ShardId=target, StartingPosition={"Type": "LATEST"})
    writer = threading.Thread(target=lambda: [a.put_record(StreamName=stream, Data=b"e%d" % i, PartitionKey="x", ExplicitHashKey=str(lo)) for i in range(15)])
    writer.start()
    seen, deadline = [], time.time() + 20
    for event in sub["EventStream"]:
        seen += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
        if len(seen) >= 15 or time.time() > deadline:
            break
    sub["EventStream"].close()
    writer.join()
    check(seen == [b"e%d" % i for i in range(15)], f"B's subscription pushes A's records in order: {seen[:5]}...")

    b.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    b.delete_stream(StreamName=race)

    def gone():
        try:
            a.describe_stream_summary(StreamName=stream)
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    eventually("A sees the stream deleted on B gone", gone)
    check(True, "deleted on B, gone on A")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    failed = 0
    try:
        main(sys.argv[1], sys.argv[2])
    except Exception as e:  # noqa: BLE001 - any failure is the scenario's result
        failed = 1
        print(f"FAIL: {e!r}")
    print(f"two-nodes: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
