#!/usr/bin/env python3
"""GET /metrics read by a real Prometheus text-format parser, around boto3 traffic.

Usage: scenario_metrics.py [ENDPOINT]   (default: $TRIBUTARY_ENDPOINT)

Scrapes /metrics with no credentials and parses it with
prometheus_client.parser.text_string_to_metric_families (which raises on text
that breaks the format), sends PutRecord, PutRecords and GetRecords with boto3,
scrapes again and checks that the stream's counters moved by exactly that
traffic; enables and disables enhanced monitoring and checks that the
shard-level series come and go; checks /health/live and /health/ready. The
last line is always "metrics: N passed, M failed".
"""

import os
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

NAME = "metrics"
STREAM = "metrics-scenario"


class ScenarioFailure(Exception):
    pass


class Scenario:
    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip("/")
        self.client = boto3.client(
            "kinesis",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": 1}),
        )
        self.passed = 0

    def check(self, cond, what):
        if not cond:
            raise ScenarioFailure(what)
        self.passed += 1

    def get(self, path):
        """(status, body) of an unsigned GET."""
        try:
            with urllib.request.urlopen(self.endpoint + path, timeout=10) as r:
                return r.status, r.read().decode(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers.get("Content-Type")

    def scrape(self):
        """Every sample, keyed by (sample name, frozenset of labels)."""
        status, text, ctype = self.get("/metrics")
        self.check(status == 200, f"GET /metrics answered {status}")
        self.check(
            ctype.startswith("text/plain; version=0.0.4"), f"content type {ctype}"
        )
        samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, frozenset(s.labels.items()))] = s.value
        return samples

    def stream_value(self, samples, name, **extra):
        labels = {
            "account": "000000000000",
            "region": "us-east-1",
            "stream": STREAM,
            **extra,
        }
        return samples.get((name, frozenset(labels.items())))

    def run(self):
        c = self.client
        c.create_stream(StreamName=STREAM, ShardCount=2)
        c.get_waiter("stream_exists").wait(
            StreamName=STREAM, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        before = self.scrape()
        zero = self.stream_value(before, "tributary_incoming_records_total")
        self.check(zero == 0, f"a new stream starts at 0 records, got {zero}")

        records = [
            {"Data": f"payload-{i}".encode(), "PartitionKey": f"key-{i}"}
            for i in range(50)
        ]
        size = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in records)
        out = c.put_records(StreamName=STREAM, Records=records)
        self.check(out["FailedRecordCount"] == 0, "PutRecords stored every record")
        c.put_record(StreamName=STREAM, Data=b"one", PartitionKey="single")
        size_one = len(b"one") + len("single")

        shards = c.list_shards(StreamName=STREAM)["Shards"]
        read = 0
        for sh in shards:
            it = c.get_shard_iterator(
                StreamName=STREAM,
                ShardId=sh["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            read += len(c.get_records(ShardIterator=it)["Records"])
        self.check(read == 51, f"read back 51 records, got {read}")

        after = self.scrape()

        def moved(name):
            a = self.stream_value(after, name)
            b = self.stream_value(before, name) or 0
            if a is None:
                raise ScenarioFailure(f"{name} is missing after the traffic")
            return a - b

        for name, want in [
            ("tributary_incoming_records_total", 51),
            ("tributary_incoming_bytes_total", size + size_one),
            ("tributary_put_records_total_records_total", 50),
            ("tributary_put_records_successful_records_total", 50),
            ("tributary_put_records_failed_records_total", 0),
            ("tributary_put_records_throttled_records_total", 0),
            ("tributary_put_records_success_total", 1),
            ("tributary_put_records_bytes_total", size),
            ("tributary_put_record_success_total", 1),
            ("tributary_put_record_bytes_total", size_one),
            ("tributary_get_records_records_total", 51),
            ("tributary_get_records_bytes_total", size + size_one),
            ("tributary_get_records_success_total", len(shards)),
            ("tributary_put_records_latency_seconds_count", 1),
        ]:
            got = moved(name)
            self.check(got == want, f"{name} moved by {got}, expected {want}")

        requests = after.get(
            (
                "tributary_request_duration_seconds_count",
                frozenset({"operation": "PutRecords", "outcome": "success"}.items()),
            )
        )
        self.check(requests == 1, f"one successful PutRecords request, got {requests}")

        def shard_families(samples):
            return {
                name
                for (name, labels) in samples
                if ("stream", STREAM) in labels and any(k == "shard" for k, _ in labels)
            }

        self.check(not shard_families(after), "no shard-level series before enabling")
        c.enable_enhanced_monitoring(StreamName=STREAM, ShardLevelMetrics=["ALL"])
        on = self.scrape()
        names = shard_families(on)
        self.check(len(names) == 7, f"seven shard-level families, got {sorted(names)}")
        per_shard = sum(
            self.stream_value(on, "tributary_shard_incoming_records_total", shard=sh["ShardId"])
            for sh in shards
        )
        self.check(per_shard == 51, f"shard counters add up to 51, got {per_shard}")
        c.disable_enhanced_monitoring(
            StreamName=STREAM, ShardLevelMetrics=["IncomingRecords"]
        )
        names = shard_families(self.scrape())
        self.check(
            "tributary_shard_incoming_records_total" not in names and len(names) == 6,
            f"IncomingRecords disabled alone, got {sorted(names)}",
        )
        c.disable_enhanced_monitoring(StreamName=STREAM, ShardLevelMetrics=["ALL"])
        self.check(not shard_families(self.scrape()), "no shard-level series after ALL off")

        status, body, _ = self.get("/health/live")
        self.check(status == 200, f"/health/live answered {status}")
        status, body, _ = self.get("/health/ready")
        self.check(status == 200, f"/health/ready answered {status}: {body}")

        c.delete_stream(StreamName=STREAM)
        gone = self.scrape()
        self.check(
            self.stream_value(gone, "tributary_incoming_records_total") is None,
            "a deleted stream leaves the export",
        )


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRIBUTARY_ENDPOINT")
    if not endpoint:
        print("usage: scenario_metrics.py ENDPOINT", file=sys.stderr)
        return 2
    s = Scenario(endpoint)
    failed = 0
    try:
        s.run()
    except ScenarioFailure as e:
        print(f"FAIL: {e}")
        failed = 1
    except Exception as e:  # an unexpected error is a failed check too
        print(f"FAIL: {type(e).__name__}: {e}")
        failed = 1
    print(f"{NAME}: {s.passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
