#!/usr/bin/env python3
"""Enhanced fan-out with boto3: SubscribeToShard over HTTP/1.1 (chunked event stream).

Usage: scenario_efo.py ENDPOINT

Registers a consumer, subscribes from LATEST, writes records from another thread and
checks they arrive in order; resubscribes from the last ContinuationSequenceNumber with no
gap or repeat; splits the shard during a subscription and checks the subscription ends
with ChildShards, then reads the children. Last line: "efo: N passed, M failed".
"""

import sys
import threading
import time
import uuid

import boto3
from botocore.config import Config

passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def main(endpoint):
    c = boto3.client(
        "kinesis", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )
    stream = f"efo-{uuid.uuid4().hex[:8]}"
    c.create_stream(StreamName=stream, ShardCount=1)
    c.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    arn = c.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer = c.register_stream_consumer(StreamARN=arn, ConsumerName="boto3-reader")["Consumer"]
    carn = consumer["ConsumerARN"]
    for _ in range(100):
        if c.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    check(True, "consumer ACTIVE")

    shard = "shardId-000000000000"
    sub = c.subscribe_to_shard(ConsumerARN=carn, ShardId=shard, StartingPosition={"Type": "LATEST"})
    writer = threading.Thread(target=lambda: [c.put_record(StreamName=stream, Data=b"m%d" % i, PartitionKey="k") for i in range(30)])
    writer.start()
    got, cont = [], None
    deadline = time.time() + 20
    for event in sub["EventStream"]:
        e = event["SubscribeToShardEvent"]
        got += [r["Data"] for r in e["Records"]]
        cont = e["ContinuationSequenceNumber"]
        if len(got) >= 30 or time.time() > deadline:
            break
    sub["EventStream"].close()
    writer.join()
    check(got == [b"m%d" % i for i in range(30)], f"30 records pushed in order, got {len(got)}")

    c.put_record(StreamName=stream, Data=b"after", PartitionKey="k")
    for attempt in range(50):
        try:
            sub = c.subscribe_to_shard(ConsumerARN=carn, ShardId=shard,
                                       StartingPosition={"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": cont})
            break
        except c.exceptions.ResourceInUseException:
            time.sleep(0.1)  # the closed subscription is released when the server notices
    nxt = []
    for event in sub["EventStream"]:
        nxt += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
        if nxt:
            break
    check(nxt == [b"after"], f"resubscribe continues with no gap or repeat: {nxt}")

    # A split while subscribed ends the subscription with the children.
    children = None
    splitter = threading.Timer(0.5, lambda: c.split_shard(StreamName=stream, ShardToSplit=shard,
                                                           NewStartingHashKey=str(2**127)))
    splitter.start()
    for event in sub["EventStream"]:
        e = event["SubscribeToShardEvent"]
        if e.get("ChildShards"):
            children = sorted(ch["ShardId"] for ch in e["ChildShards"])
    splitter.join()
    check(children == ["shardId-000000000001", "shardId-000000000002"], f"ChildShards at the end: {children}")
    for _ in range(100):
        if c.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    c.put_record(StreamName=stream, Data=b"child", PartitionKey="k", ExplicitHashKey="1")
    sub = c.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000001", StartingPosition={"Type": "TRIM_HORIZON"})
    for event in sub["EventStream"]:
        recs = [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
        if recs:
            check(recs == [b"child"], f"the child shard's records: {recs}")
            break
    sub["EventStream"].close()
    c.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    print(f"efo: {passed} passed, 0 failed")


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except AssertionError as e:
        print(f"FAIL {e}")
        print(f"efo: {passed} passed, 1 failed")
        sys.exit(1)
