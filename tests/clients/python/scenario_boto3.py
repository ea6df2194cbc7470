#!/usr/bin/env python3
"""End-to-end scenario against a running Tributary with boto3 (HTTP/1.1, JSON 1.1).

Usage: scenario_boto3.py [ENDPOINT]   (default: $TRIBUTARY_ENDPOINT)

Walks one stream through its whole life: create, 1,000 writes, reads by every
iterator type, split, merge, retention, tags, paginated listings, delete. Every
check counts; the first failed check stops the run with a message naming the
step, and the last line is always "boto3: N passed, M failed".

Set SCENARIO_SEED to replay the same partition keys and payloads, and
SCENARIO_DEBUG=1 to log every request and response (botocore debug log).
"""

import datetime
import hashlib
import os
import random
import sys
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

NAME = "boto3"
MAX_HASH_KEY = 2**128 - 1
# Real Kinesis throttles per shard; a client is expected to back off and retry
# these. Everything else (including 5xx) must surface, so botocore's own
# retries are turned off and only these codes are retried here.
THROTTLE_CODES = {"ProvisionedThroughputExceededException", "LimitExceededException"}


class ScenarioFailure(Exception):
    pass


class Scenario:
    def __init__(self, endpoint, seed):
        self.client = boto3.client(
            "kinesis",
            endpoint_url=endpoint,
            region_name="us-east-1",
            # Signatures are not verified by default, but a SigV4 header must be
            # present and its scope carries the region.
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(
                retries={"total_max_attempts": 1},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        self.rng = random.Random(seed)
        self.passed = 0
        self.throttled = 0
        self.current_step = "setup"
        self.stream = f"tributary-boto3-{uuid.uuid4().hex[:10]}"
        self.created_streams = []

    # ---- checks ---------------------------------------------------------

    def step(self, title):
        self.current_step = title
        print(f"-- {title}", flush=True)

    def ok(self, condition, message):
        if not condition:
            raise ScenarioFailure(f"[{self.current_step}] {message}")
        self.passed += 1

    def eq(self, actual, expected, what):
        self.ok(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def same_records(self, got, expected, what):
        """Compare records read back with the ones written, in order."""
        got_t = [(r["SequenceNumber"], r["PartitionKey"], bytes(r["Data"])) for r in got]
        exp_t = [(r["seq"], r["pk"], r["data"]) for r in expected]
        if got_t != exp_t:
            for i, (g, e) in enumerate(zip(got_t, exp_t)):
                if g != e:
                    raise ScenarioFailure(
                        f"[{self.current_step}] {what}: record {i} differs: "
                        f"got (seq={g[0]}, pk={g[1]}, {len(g[2])} bytes), "
                        f"expected (seq={e[0]}, pk={e[1]}, {len(e[2])} bytes)"
                    )
            raise ScenarioFailure(
                f"[{self.current_step}] {what}: got {len(got_t)} records, expected {len(exp_t)}"
            )
        self.passed += 1

    # ---- calls ----------------------------------------------------------

    def call(self, op, **params):
        """Call an operation, backing off only on throttling errors."""
        for attempt in range(8):
            try:
                return getattr(self.client, op)(**params)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code")
                if code in THROTTLE_CODES and attempt < 7:
                    self.throttled += 1
                    time.sleep(0.1 * 2**attempt)
                    continue
                raise

    def expect_error(self, code, op, **params):
        try:
            getattr(self.client, op)(**params)
        except ClientError as e:
            got = e.response.get("Error", {}).get("Code")
            self.eq(got, code, f"{op} error code")
            return e
        raise ScenarioFailure(f"[{self.current_step}] {op} succeeded; expected {code}")

    def wait(self, waiter_name, stream):
        self.client.get_waiter(waiter_name).wait(
            StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )

    def list_shards(self, stream):
        return self.call("list_shards", StreamName=stream)["Shards"]

    def iterator(self, shard_id, kind, **extra):
        return self.call(
            "get_shard_iterator",
            StreamName=self.stream,
            ShardId=shard_id,
            ShardIteratorType=kind,
            **extra,
        )["ShardIterator"]

    def read(self, iterator, until_closed=False, limit=None):
        """GetRecords from `iterator` until the tip of an open shard (an empty
        page with MillisBehindLatest 0) or, with until_closed, until the shard
        ends (no NextShardIterator). Returns (records, last response)."""
        records = []
        for _ in range(500):
            params = {"ShardIterator": iterator}
            if limit:
                params["Limit"] = limit
            resp = self.call("get_records", **params)
            records.extend(resp["Records"])
            nxt = resp.get("NextShardIterator")
            if not nxt:
                return records, resp
            if not until_closed and not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                return records, resp
            iterator = nxt
        raise ScenarioFailure(f"[{self.current_step}] shard did not reach its end in 500 GetRecords calls")

    def first_records(self, iterator, n):
        """The first non-empty page (at most n records) from an iterator."""
        for _ in range(20):
            resp = self.call("get_records", ShardIterator=iterator, Limit=n)
            if resp["Records"]:
                return resp["Records"]
            iterator = resp.get("NextShardIterator")
            if not iterator:
                break
        return []

    # ---- helpers about keys and records ---------------------------------

    @staticmethod
    def hash_of(partition_key):
        return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")

    def key_in_range(self, lo, hi):
        """A random partition key whose MD5 falls in [lo, hi]."""
        while True:
            pk = f"pk-{self.rng.getrandbits(64):016x}"
            if lo <= self.hash_of(pk) <= hi:
                return pk

    def payload(self):
        return self.rng.randbytes(self.rng.randint(1, 256))

    @staticmethod
    def hash_range(shard):
        r = shard["HashKeyRange"]
        return int(r["StartingHashKey"]), int(r["EndingHashKey"])

    def shard_for_hash(self, shards, h):
        for s in shards:
            lo, hi = self.hash_range(s)
            if lo <= h <= hi and "EndingSequenceNumber" not in s.get("SequenceNumberRange", {}):
                return s["ShardId"]
        return None

    def put_records(self, entries, written):
        """PutRecords, resubmitting only throttled entries; appends the
        accepted records to `written` in the order they were accepted."""
        pending = list(range(len(entries)))
        results = [None] * len(entries)
        for attempt in range(8):
            resp = self.call(
                "put_records",
                StreamName=self.stream,
                Records=[{"Data": entries[i]["data"], "PartitionKey": entries[i]["pk"],
                          **({"ExplicitHashKey": entries[i]["ehk"]} if "ehk" in entries[i] else {})}
                         for i in pending],
            )
            self.eq(len(resp["Records"]), len(pending), "PutRecords result count")
            retry = []
            for i, r in zip(pending, resp["Records"]):
                if "SequenceNumber" in r and not r.get("ErrorCode"):
                    rec = dict(entries[i], seq=r["SequenceNumber"], shard=r["ShardId"])
                    results[i] = rec
                    written.append(rec)
                elif r.get("ErrorCode") == "ProvisionedThroughputExceededException":
                    retry.append(i)
                else:
                    raise ScenarioFailure(f"[{self.current_step}] PutRecords entry {i} failed: {r}")
            self.eq(resp.get("FailedRecordCount", 0), len(retry), "PutRecords FailedRecordCount")
            if not retry:
                return results
            self.throttled += len(retry)
            pending = retry
            time.sleep(0.2 * 2**attempt)
        raise ScenarioFailure(f"[{self.current_step}] PutRecords still throttled after 8 attempts")

    def put_record(self, pk, data, written, **extra):
        resp = self.call("put_record", StreamName=self.stream, PartitionKey=pk, Data=data, **extra)
        self.ok(resp.get("SequenceNumber") and resp.get("ShardId"), f"PutRecord answer {resp}")
        rec = {"pk": pk, "data": data, "seq": resp["SequenceNumber"], "shard": resp["ShardId"]}
        written.append(rec)
        return rec

    def check_increasing(self, recs, what):
        seqs = [int(r["seq"]) for r in recs]
        self.ok(all(a < b for a, b in zip(seqs, seqs[1:])),
                f"{what}: sequence numbers are not strictly increasing in write order")

    def knows_child_shards(self):
        output = self.client.meta.service_model.operation_model("GetRecords").output_shape
        return "ChildShards" in output.members

    # ---- the scenario ---------------------------------------------------

    def run(self):
        self.step("DescribeStream on a missing stream")
        err = self.expect_error("ResourceNotFoundException", "describe_stream",
                                StreamName=f"tributary-missing-{uuid.uuid4().hex[:8]}")
        self.eq(err.response["ResponseMetadata"]["HTTPStatusCode"], 400, "HTTP status")
        self.ok(isinstance(err, self.client.exceptions.ResourceNotFoundException),
                "botocore maps the error to its modeled ResourceNotFoundException")

        self.step(f"CreateStream {self.stream} with 2 shards, StreamExists waiter")
        self.call("create_stream", StreamName=self.stream, ShardCount=2)
        self.created_streams.append(self.stream)
        self.wait("stream_exists", self.stream)
        desc = self.call("describe_stream", StreamName=self.stream)["StreamDescription"]
        self.eq(desc["StreamStatus"], "ACTIVE", "StreamStatus")
        self.eq(desc["StreamName"], self.stream, "StreamName")
        self.ok(desc["StreamARN"].startswith("arn:aws:kinesis:us-east-1:")
                and desc["StreamARN"].endswith(f":stream/{self.stream}"),
                f"StreamARN carries the region of the request: {desc['StreamARN']}")
        shards = sorted(desc["Shards"], key=lambda s: self.hash_range(s)[0])
        self.eq(len(shards), 2, "shard count")
        ranges = [self.hash_range(s) for s in shards]
        self.ok(ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY and ranges[0][1] + 1 == ranges[1][0],
                f"hash ranges cover 0..2^128-1 without gaps: {ranges}")
        shard_a, shard_b = shards[0]["ShardId"], shards[1]["ShardId"]

        self.step("Put 1,000 records (5 PutRecord + PutRecords batches of 500 and 495)")
        written = []
        t_before_puts = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        for _ in range(5):
            self.put_record(f"single-{self.rng.getrandbits(48):x}", self.payload(), written)
        for size in (500, 495):
            entries = [{"pk": f"key-{self.rng.getrandbits(64):x}", "data": self.payload()} for _ in range(size)]
            self.put_records(entries, written)
        t_after_puts = datetime.datetime.now(datetime.timezone.utc)
        self.eq(len(written), 1000, "records written")
        self.eq(len({(r["shard"], r["seq"]) for r in written}), 1000, "distinct sequence numbers per shard")
        misrouted = [r for r in written if r["shard"] != self.shard_for_hash(shards, self.hash_of(r["pk"]))]
        self.ok(not misrouted, f"{len(misrouted)} records landed outside the shard owning MD5(key), e.g. {misrouted[:1]}")
        by_shard = {sid: [r for r in written if r["shard"] == sid] for sid in (shard_a, shard_b)}
        for sid, recs in by_shard.items():
            self.ok(recs, f"{sid} received records")
            self.check_increasing(recs, sid)

        self.step("Read back with TRIM_HORIZON")
        for sid, limit in ((shard_a, 100), (shard_b, None)):
            got, _ = self.read(self.iterator(sid, "TRIM_HORIZON"), limit=limit)
            self.same_records(got, by_shard[sid], f"{sid} from TRIM_HORIZON (Limit={limit})")
            stamps = [r["ApproximateArrivalTimestamp"] for r in got]
            self.ok(all(t_before_puts - datetime.timedelta(seconds=5) <= t
                        <= t_after_puts + datetime.timedelta(seconds=5) for t in stamps),
                    f"{sid} ApproximateArrivalTimestamp within the write window")

        self.step("AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER")
        recs = by_shard[shard_a]
        k = len(recs) // 2
        got = self.first_records(self.iterator(shard_a, "AT_SEQUENCE_NUMBER",
                                               StartingSequenceNumber=recs[k]["seq"]), 5)
        self.same_records(got[:1], recs[k:k + 1], "first record AT_SEQUENCE_NUMBER")
        got = self.first_records(self.iterator(shard_a, "AFTER_SEQUENCE_NUMBER",
                                               StartingSequenceNumber=recs[k]["seq"]), 5)
        self.same_records(got[:1], recs[k + 1:k + 2], "first record AFTER_SEQUENCE_NUMBER")

        self.step("AT_TIMESTAMP")
        for sid in (shard_a, shard_b):
            got, _ = self.read(self.iterator(sid, "AT_TIMESTAMP", Timestamp=t_before_puts))
            self.same_records(got, by_shard[sid], f"{sid} AT_TIMESTAMP before the first put")
            # A timestamp in the future yields nothing. AWS itself refuses it
            # in GetShardIterator (InvalidArgumentException, "timestampInMillis
            # parameter cannot be greater than the currentTimestampInMillis");
            # an iterator that then reads no records is accepted as well.
            future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            try:
                it = self.iterator(sid, "AT_TIMESTAMP", Timestamp=future)
            except ClientError as e:
                self.eq(e.response["Error"]["Code"], "InvalidArgumentException",
                        f"{sid} error for AT_TIMESTAMP one hour ahead")
            else:
                resp = self.call("get_records", ShardIterator=it)
                self.eq(len(resp["Records"]), 0, f"{sid} records AT_TIMESTAMP one hour ahead")

        self.step("LATEST")
        it = self.iterator(shard_b, "LATEST")
        resp = self.call("get_records", ShardIterator=it)
        self.eq(len(resp["Records"]), 0, "records at LATEST before a new put")
        lo_b, hi_b = ranges[1]
        rec = self.put_record(self.key_in_range(lo_b, hi_b), self.payload(), by_shard[shard_b])
        self.eq(rec["shard"], shard_b, "shard of the new record")
        got = self.first_records(resp["NextShardIterator"], 10)
        self.same_records(got, [rec], "record put after taking the LATEST iterator")

        self.step(f"SplitShard {shard_a} at the midpoint of its hash range")
        lo, hi = ranges[0]
        mid = (lo + hi + 1) // 2
        self.call("split_shard", StreamName=self.stream, ShardToSplit=shard_a, NewStartingHashKey=str(mid))
        self.wait("stream_exists", self.stream)  # waits for ACTIVE again
        summary = self.call("describe_stream_summary", StreamName=self.stream)["StreamDescriptionSummary"]
        self.eq(summary["StreamStatus"], "ACTIVE", "StreamStatus after split")
        self.eq(summary["OpenShardCount"], 3, "OpenShardCount after split")
        shards = self.list_shards(self.stream)
        self.eq(len(shards), 4, "shards listed after split")
        parent = next(s for s in shards if s["ShardId"] == shard_a)
        self.ok("EndingSequenceNumber" in parent["SequenceNumberRange"], "parent shard is closed")
        self.ok(int(parent["SequenceNumberRange"]["EndingSequenceNumber"]) >= int(by_shard[shard_a][-1]["seq"]),
                "parent EndingSequenceNumber covers its last record")
        children = sorted((s for s in shards if s.get("ParentShardId") == shard_a),
                          key=lambda s: self.hash_range(s)[0])
        self.eq([self.hash_range(c) for c in children], [(lo, mid - 1), (mid, hi)], "children hash ranges")
        child_lo, child_hi = children[0]["ShardId"], children[1]["ShardId"]

        self.step("Put records to the children")
        entries = [{"pk": self.key_in_range(lo, mid - 1), "data": self.payload()} for _ in range(10)]
        entries += [{"pk": self.key_in_range(mid, hi), "data": self.payload()} for _ in range(10)]
        after_split = []
        self.put_records(entries, after_split)
        # ExplicitHashKey overrides the key's MD5: this key hashes to the lower
        # child but the explicit hash names the first key of the upper child.
        self.put_record(self.key_in_range(lo, mid - 1), self.payload(), after_split, ExplicitHashKey=str(mid))
        self.eq([r["shard"] for r in after_split], [child_lo] * 10 + [child_hi] * 11, "children receiving the writes")

        self.step("Read the closed parent to its end")
        got, last = self.read(self.iterator(shard_a, "TRIM_HORIZON"), until_closed=True)
        self.same_records(got, by_shard[shard_a], "parent records")
        self.ok(not last.get("NextShardIterator"), "no NextShardIterator at the end of the parent")
        if self.knows_child_shards():
            listed = sorted(last.get("ChildShards", []), key=lambda c: c["ShardId"])
            self.eq([c["ShardId"] for c in listed], sorted([child_lo, child_hi]), "ChildShards of the parent")
            self.ok(all(c["ParentShards"] == [shard_a] for c in listed), f"ChildShards name their parent: {listed}")
        else:
            print("   (this botocore does not know ChildShards; skipped)")

        self.step("Read the children")
        for sid in (child_lo, child_hi):
            got, _ = self.read(self.iterator(sid, "TRIM_HORIZON"))
            self.same_records(got, [r for r in after_split if r["shard"] == sid], f"{sid} records")

        self.step(f"MergeShards {child_lo} + {child_hi}")
        self.call("merge_shards", StreamName=self.stream, ShardToMerge=child_lo, AdjacentShardToMerge=child_hi)
        self.wait("stream_exists", self.stream)
        shards = self.list_shards(self.stream)
        self.eq(len(shards), 5, "shards listed after merge")
        merged = [s for s in shards if s.get("ParentShardId") == child_lo]
        self.eq(len(merged), 1, "shards whose parent is the lower child")
        merged = merged[0]
        self.eq(merged.get("AdjacentParentShardId"), child_hi, "AdjacentParentShardId of the merged shard")
        self.eq(self.hash_range(merged), (lo, hi), "merged hash range")
        for sid in (child_lo, child_hi):
            closed = next(s for s in shards if s["ShardId"] == sid)
            self.ok("EndingSequenceNumber" in closed["SequenceNumberRange"], f"{sid} is closed after the merge")
            got, last = self.read(self.iterator(sid, "TRIM_HORIZON"), until_closed=True)
            self.eq(len(got), len([r for r in after_split if r["shard"] == sid]), f"{sid} record count to its end")
            if self.knows_child_shards():
                self.eq([c["ShardId"] for c in last.get("ChildShards", [])], [merged["ShardId"]],
                        f"ChildShards at the end of {sid}")
        merged_recs = []
        rec = self.put_record(self.key_in_range(lo, hi), self.payload(), merged_recs)
        self.eq(rec["shard"], merged["ShardId"], "shard receiving a write after the merge")
        got, _ = self.read(self.iterator(merged["ShardId"], "TRIM_HORIZON"))
        self.same_records(got, merged_recs, "merged shard records")

        self.step("Retention 24 -> 48 -> 24")
        def retention():
            return self.call("describe_stream_summary", StreamName=self.stream)[
                "StreamDescriptionSummary"]["RetentionPeriodHours"]
        self.eq(retention(), 24, "default RetentionPeriodHours")
        self.call("increase_stream_retention_period", StreamName=self.stream, RetentionPeriodHours=48)
        self.eq(retention(), 48, "RetentionPeriodHours after increase")
        self.call("decrease_stream_retention_period", StreamName=self.stream, RetentionPeriodHours=24)
        self.eq(retention(), 24, "RetentionPeriodHours after decrease")

        self.step("Tags by stream name and by ARN")
        arn = self.call("describe_stream_summary", StreamName=self.stream)["StreamDescriptionSummary"]["StreamARN"]
        def tags_by_name():
            resp = self.call("list_tags_for_stream", StreamName=self.stream)
            self.eq(resp["HasMoreTags"], False, "HasMoreTags")
            return {t["Key"]: t["Value"] for t in resp["Tags"]}
        def tags_by_arn():
            return {t["Key"]: t["Value"] for t in self.call("list_tags_for_resource", ResourceARN=arn)["Tags"]}
        self.eq(tags_by_name(), {}, "tags of a new stream")
        self.call("add_tags_to_stream", StreamName=self.stream, Tags={"env": "test", "team": "data"})
        self.eq(tags_by_name(), {"env": "test", "team": "data"}, "tags after AddTagsToStream")
        self.call("remove_tags_from_stream", StreamName=self.stream, TagKeys=["team"])
        self.eq(tags_by_name(), {"env": "test"}, "tags after RemoveTagsFromStream")
        self.call("tag_resource", ResourceARN=arn, Tags={"owner": "tributary"})
        self.eq(tags_by_arn(), {"env": "test", "owner": "tributary"}, "ListTagsForResource after TagResource")
        self.eq(tags_by_name(), {"env": "test", "owner": "tributary"}, "ListTagsForStream after TagResource")
        self.call("untag_resource", ResourceARN=arn, TagKeys=["owner"])
        self.eq(tags_by_arn(), {"env": "test"}, "ListTagsForResource after UntagResource")

        self.step("ListStreams with Limit=1 and NextToken, and the paginator")
        for i in range(3):
            extra = f"{self.stream}-list-{i}"
            self.call("create_stream", StreamName=extra, ShardCount=1)
            self.created_streams.append(extra)
        for extra in self.created_streams[1:]:
            self.wait("stream_exists", extra)
        seen, params = [], {"Limit": 1}
        for _ in range(100):
            resp = self.call("list_streams", **params)
            self.ok(len(resp["StreamNames"]) <= 1, f"ListStreams Limit=1 returned {resp['StreamNames']}")
            if "StreamSummaries" in resp:
                self.eq([s["StreamName"] for s in resp["StreamSummaries"]], resp["StreamNames"],
                        "StreamSummaries match StreamNames")
            seen += resp["StreamNames"]
            if not resp["HasMoreStreams"]:
                break
            self.ok(resp.get("NextToken"), "HasMoreStreams is true, so NextToken is present")
            params = {"Limit": 1, "NextToken": resp["NextToken"]}
        self.eq(len(seen), len(set(seen)), "no stream listed twice")
        self.ok(set(self.created_streams) <= set(seen), f"all created streams listed: {seen}")
        paged = [n for page in self.client.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 1})
                 for n in page["StreamNames"]]
        self.eq(sorted(paged), sorted(seen), "streams from the list_streams paginator")

        self.step("ListShards with MaxResults=1 and NextToken")
        all_ids = [s["ShardId"] for s in self.list_shards(self.stream)]
        ids, params = [], {"StreamName": self.stream, "MaxResults": 1}
        for _ in range(100):
            resp = self.call("list_shards", **params)
            self.ok(len(resp["Shards"]) <= 1, "ListShards MaxResults=1 returned at most one shard")
            ids += [s["ShardId"] for s in resp["Shards"]]
            if not resp.get("NextToken"):
                break
            # NextToken identifies the stream; AWS rejects StreamName beside it.
            params = {"NextToken": resp["NextToken"], "MaxResults": 1}
        self.eq(ids, all_ids, "shards seen one page at a time")

        self.step("DeleteStream and the StreamNotExists waiter")
        for name in self.created_streams:
            self.call("delete_stream", StreamName=name)
        for name in self.created_streams:
            self.wait("stream_not_exists", name)
        left = set(self.call("list_streams")["StreamNames"]) & set(self.created_streams)
        self.eq(left, set(), "deleted streams still listed")
        self.created_streams = []


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRIBUTARY_ENDPOINT")
    if not endpoint:
        print(f"usage: {sys.argv[0]} ENDPOINT (or set TRIBUTARY_ENDPOINT)", file=sys.stderr)
        return 2
    if os.environ.get("SCENARIO_DEBUG"):
        boto3.set_stream_logger("botocore", 10)
    seed = int(os.environ.get("SCENARIO_SEED", time.time_ns() % 2**32))
    print(f"{NAME}: endpoint {endpoint}, boto3 {boto3.__version__}, seed {seed}", flush=True)
    scenario = Scenario(endpoint, seed)
    started = time.monotonic()
    failed = 0
    try:
        scenario.run()
    except ScenarioFailure as e:
        failed = 1
        print(f"FAIL {e}", flush=True)
    except ClientError as e:
        failed = 1
        print(f"FAIL [{scenario.current_step}] unexpected error: {e}", flush=True)
    except Exception as e:  # a crash is a failure too, with its type for the report
        failed = 1
        print(f"FAIL [{scenario.current_step}] {type(e).__name__}: {e}", flush=True)
    print(f"   ({time.monotonic() - started:.1f}s, {scenario.throttled} throttled calls retried)")
    print(f"{NAME}: {scenario.passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
