"""Drives a KCL 3.x worker (KclApp) against Tributary and checks what it processed.

Usage: scenario.py KINESIS_URL DYNAMODB_URL WORKDIR [--mode polling|efo] [--compat2x]
                   [--records N] [--wait S] [--reshard split|update] [--kill] [--soak S]

Story: a 2-shard stream; N records put; worker 1 starts (TRIM_HORIZON) and must process all of
them; shard 0 is split at its midpoint (or UpdateShardCount 2 -> 4) while the worker runs and N
more records are put; worker 1
must finish shard 0 (shardEnded) before any record of its children, and process every record;
worker 1 stops gracefully; N/2 more records are put; worker 2 (same application name) starts and
must process the new records, resuming after the checkpoints (reprocessed records are counted and
reported). Prints `PASS`/`FAIL` lines and exits non-zero on any failure.
"""

import argparse
import os
import subprocess
import sys
import time

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
FAILS = []


def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def read_events(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split(" ", 4) for line in f]


def wait_for(path, pred, timeout, proc, what):
    end = time.time() + timeout
    while time.time() < end:
        ev = read_events(path)
        if pred(ev):
            return True
        if proc.poll() is not None:
            print(f"worker exited ({proc.returncode}) while waiting for {what}", flush=True)
            return False
        time.sleep(0.5)
    print(f"timed out after {timeout}s waiting for {what}", flush=True)
    return False


def recs(ev):
    return [e for e in ev if e[0] == "REC"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kinesis")
    p.add_argument("dynamodb")
    p.add_argument("workdir")
    p.add_argument("--mode", default="polling", choices=("polling", "efo"))
    p.add_argument("--compat2x", action="store_true")
    p.add_argument("--records", type=int, default=200)
    p.add_argument("--wait", type=int, default=180)
    p.add_argument("--reshard", choices=("split", "update"), default="split",
                   help="SplitShard of shard 0, or UpdateShardCount 2 -> 4 (UNIFORM_SCALING)")
    p.add_argument("--kill", action="store_true",
                   help="SIGKILL worker 1 instead of stopping it gracefully")
    p.add_argument("--soak", type=int, default=0,
                   help="seconds of steady writes while worker 2 runs (10 records every 0.5 s)")
    args = p.parse_args()
    n = args.records
    stream = f"kcl-{args.mode}"
    app = f"kcl-app-{args.mode}"
    kin = boto3.client(
        "kinesis",
        endpoint_url=args.kinesis,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )
    cp = open(os.path.join(HERE, "target", "classpath.txt")).read().strip()
    java = [
        "java",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + os.environ.get("KCL_LOG", "info"),
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-cp",
        os.path.join(HERE, "target", "classes") + ":" + cp,
        "tributary.kcl.KclApp",
        "--mode", args.mode, "--stream", stream, "--app", app,
        "--kinesis", args.kinesis, "--dynamodb", args.dynamodb,
    ]
    if args.compat2x:
        java.append("--compat2x")

    def start_worker(i):
        out = os.path.join(args.workdir, f"worker{i}.events")
        stop = os.path.join(args.workdir, f"worker{i}.stop")
        log = open(os.path.join(args.workdir, f"worker{i}.log"), "w")
        proc = subprocess.Popen(
            ["nice", "-n", "19"] + java + ["--out", out, "--stop-file", stop,
                                           "--worker", f"worker-{i}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(os.path.join(args.workdir, f"worker{i}.pid"), "w") as f:
            f.write(str(proc.pid))  # run.sh ends it if this script is ended first
        print(f"worker {i} pid {proc.pid}, events {out}", flush=True)
        return proc, out, stop

    def stop_worker(proc, stop):
        open(stop, "w").close()
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print("worker did not stop within 90 s: killed", flush=True)

    def put(start, count):
        sent = {}
        for b in range(start, start + count, 250):
            entries = [
                {"PartitionKey": f"k{i}", "Data": f"r{i}".encode()}
                for i in range(b, min(b + 250, start + count))
            ]
            r = kin.put_records(StreamName=stream, Records=entries)
            assert r.get("FailedRecordCount", 0) == 0, r
            for e, res in zip(entries, r["Records"]):
                sent[e["Data"].decode()] = (res["ShardId"], res["SequenceNumber"],
                                            e["PartitionKey"])
        return sent

    kin.create_stream(StreamName=stream, ShardCount=2)
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    sent = put(0, n)
    t0 = time.time()
    proc, out1, stop1 = start_worker(1)
    ok = wait_for(out1, lambda ev: len({e[4] for e in recs(ev)}) >= n, args.wait, proc,
                  f"the first {n} records")
    check(ok, f"worker 1 processed the first {n} records ({time.time() - t0:.1f}s after start)")
    if not ok:
        stop_worker(proc, stop1)
        return finish()

    # Reshard while the worker consumes: split shard 0 at its midpoint, or (--reshard update)
    # UpdateShardCount 2 -> 4 with UNIFORM_SCALING.
    shards = kin.list_shards(StreamName=stream)["Shards"]
    if args.reshard == "split":
        parent = shards[0]
        lo = int(parent["HashKeyRange"]["StartingHashKey"])
        hi = int(parent["HashKeyRange"]["EndingHashKey"])
        kin.split_shard(StreamName=stream, ShardToSplit=parent["ShardId"],
                        NewStartingHashKey=str((lo + hi) // 2 + 1))
    else:
        kin.update_shard_count(StreamName=stream, TargetShardCount=4,
                               ScalingType="UNIFORM_SCALING")
    kin.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    after = kin.list_shards(StreamName=stream)["Shards"]
    # child -> parents, from ListShards
    lineage = {sh["ShardId"]: [p for p in (sh.get("ParentShardId"),
                                           sh.get("AdjacentParentShardId")) if p]
               for sh in after if sh.get("ParentShardId")}
    parents = sorted({p for ps in lineage.values() for p in ps})
    print(f"reshard ({args.reshard}): children -> parents {lineage}", flush=True)
    sent.update(put(n, n))
    ok = wait_for(out1, lambda ev: len({e[4] for e in recs(ev)}) >= 2 * n, args.wait, proc,
                  f"all {2 * n} records after the reshard")
    check(ok, f"worker 1 processed all {2 * n} records after resharding (parents {parents})")
    wait_for(out1, lambda ev: set(parents) <= {e[1] for e in ev if e[0] == "END"}, 30,
             proc, "shardEnded of every parent")
    if args.kill:
        proc.kill()
        proc.wait()
        print("worker 1 killed (SIGKILL)", flush=True)
    else:
        stop_worker(proc, stop1)
    ev1 = read_events(out1)
    verify_run(ev1, sent, lineage, "worker 1")

    # Restart: new records, a new worker with the same application.
    sent2 = put(2 * n, n // 2)
    proc, out2, stop2 = start_worker(2)
    ok = wait_for(out2, lambda ev: {k for k in sent2} <= {e[4] for e in recs(ev)}, args.wait,
                  proc, f"the {n // 2} records put while no worker ran")
    check(ok, f"worker 2 processed the {n // 2} records put while no worker ran")
    if args.soak:
        soak = {}
        nxt = 2 * n + n // 2
        end = time.time() + args.soak
        while time.time() < end:
            soak.update(put(nxt, 10))
            nxt += 10
            time.sleep(0.5)
        ok = wait_for(out2, lambda ev: set(soak) <= {e[4] for e in recs(ev)}, args.wait, proc,
                      f"the {len(soak)} records of the {args.soak} s soak")
        check(ok, f"worker 2 processed the {len(soak)} records written during {args.soak} s")
        sent2.update(soak)
    time.sleep(3)
    stop_worker(proc, stop2)
    ev2 = read_events(out2)
    again = [e for e in recs(ev2) if e[4] in sent]
    print(f"worker 2: INIT lines: {[e[1:3] for e in ev2 if e[0] == 'INIT']}", flush=True)
    last_ckpt = {}
    for e in ev1:
        if e[0] == "CKPT":
            last_ckpt[e[1]] = max(last_ckpt.get(e[1], 0), int(e[2]))
    beyond = [e for e in again if int(e[2]) <= last_ckpt.get(e[1], -1)]
    print(f"worker 2 reprocessed {len(again)} record(s) of worker 1"
          + (f": {[(e[1], e[4]) for e in again][:10]}" if again else ""), flush=True)
    if args.kill:
        check(not beyond, f"worker 2 reprocessed no record at or before worker 1's last "
              f"checkpoint of its shard ({len(beyond)} did)")
    else:
        check(len(again) == 0,
              f"worker 2 reprocessed {len(again)} record(s) worker 1 had processed before a "
              f"graceful stop")
    dup2 = len(recs(ev2)) - len({e[4] for e in recs(ev2)})
    check(dup2 == 0, f"worker 2 saw {dup2} duplicate deliveries")
    by_shard = {}
    for e in recs(ev2):
        by_shard.setdefault(e[1], []).append(int(e[2]))
    disorder = [s for s, seqs in by_shard.items() if seqs != sorted(seqs)]
    check(not disorder, f"worker 2: in order within each shard (out of order: {disorder})")
    wrong = [e for e in recs(ev2) if e[4] in sent2 and sent2[e[4]] != (e[1], e[2], e[3])]
    check(not wrong, f"worker 2: partition key as sent, shard and sequence number as PutRecords "
          f"answered "
          f"({len(wrong)} differ)")
    for i, ev in ((1, ev1), (2, ev2)):
        calls = {}
        for e in ev:
            if e[0] in ("CALL", "RESP"):
                key = " ".join(e)
                calls[key] = calls.get(key, 0) + 1
        print(f"worker {i} SDK calls (CALL svc op content-type, RESP svc op status content-type):",
              flush=True)
        for k in sorted(calls):
            print(f"  {k}: {calls[k]}", flush=True)
        # The wire: the KCL's SDK sends every Kinesis call as CBOR except SubscribeToShard,
        # which its generated client always sends as JSON (FINDINGS.md, section 3); a change
        # there would change which of Tributary's decoders the KCL exercises.
        cbor, json_ = "application/x-amz-cbor-1.1", "application/x-amz-json-1.1"
        kcalls = [e for e in ev if e[0] == "CALL" and e[1] == "kinesis"]
        off = [" ".join(e) for e in kcalls
               if e[3] != (json_ if e[2] == "SubscribeToShard" else cbor)]
        check(bool(kcalls) and not off,
              f"worker {i}: {len(kcalls)} Kinesis calls in CBOR, SubscribeToShard in JSON "
              f"(otherwise: {off[:5]})")
        # The retrieval mode decides which read operation carries the records: without this a
        # fan-out run that silently fell back to polling (or never subscribed) would still pass.
        ops = {}
        for e in kcalls:
            ops[e[2]] = ops.get(e[2], 0) + 1
        reads = "SubscribeToShard" if args.mode == "efo" else "GetRecords"
        other = "GetRecords" if args.mode == "efo" else "SubscribeToShard"
        ok200 = [e for e in ev if e[0] == "RESP" and e[1] == "kinesis" and e[2] == reads
                 and e[3] == "200"]
        check(ops.get(reads, 0) > 0 and ok200 and ops.get(other, 0) == 0,
              f"worker {i} ({args.mode}): reads by {reads} ({ops.get(reads, 0)} calls, "
              f"{len(ok200)} answered 200), no {other} ({ops.get(other, 0)})")
        starts = [" ".join(e) for e in ev if e[0] in ("SUB", "ITER")]
        print(f"worker {i}: {len(starts)} read start(s) (SUB: SubscribeToShard, ITER: "
              f"GetShardIterator)", flush=True)
        for line in starts[:60]:
            print("  " + line, flush=True)
        fails = [" ".join(e) for e in ev if e[0] in ("FAIL", "CKPTFAIL", "ENDFAIL",
                                                      "SHUTDOWNFAIL", "GRACEFULFAIL")]
        print(f"worker {i}: {len(fails)} failed call(s)", flush=True)
        for f in fails[:40]:
            print("  " + f, flush=True)
        cw = [e for e in ev if e[0] == "CLOUDWATCH_CALLS"]
        if i == 1 and args.kill:
            continue  # killed: no count printed
        check(bool(cw) and cw[-1][1] == "0",
              f"worker {i}: no CloudWatch call with metrics off ({cw[-1][1] if cw else '?'})")
    describe_dynamodb(args.dynamodb)
    return finish()


def describe_dynamodb(url):
    """What the KCL left in the DynamoDB server: tables, their indexes and the kinds of items."""
    ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    for t in ddb.list_tables()["TableNames"]:
        d = ddb.describe_table(TableName=t)["Table"]
        gsis = [(g["IndexName"], [k["AttributeName"] for k in g["KeySchema"]],
                 g.get("IndexStatus")) for g in d.get("GlobalSecondaryIndexes", [])]
        items = ddb.scan(TableName=t)["Items"]
        keys = sorted(next(iter(i[k].values())) for i in items
                      for k in (d["KeySchema"][0]["AttributeName"],) if k in i)
        print(f"dynamodb table {t}: status {d['TableStatus']}, key "
              f"{[k['AttributeName'] for k in d['KeySchema']]}, GSIs {gsis}, "
              f"{len(items)} items: {keys}", flush=True)
        for i in items:
            if "checkpoint" in i:
                print(f"  lease {i['leaseKey']['S']}: checkpoint {i['checkpoint']['S']}, owner "
                      f"{i.get('leaseOwner', {}).get('S')}, counter "
                      f"{i.get('leaseCounter', {}).get('N')}", flush=True)


def verify_run(ev, sent, lineage, who):
    rs = recs(ev)
    seen = [e[4] for e in rs]
    dups = len(seen) - len(set(seen))
    check(dups == 0, f"{who}: every record delivered exactly once ({dups} duplicate deliveries)")
    missing = set(sent) - set(seen)
    check(not missing, f"{who}: no record missing ({len(missing)} missing)")
    wrong = [e for e in rs if e[4] in sent and sent[e[4]] != (e[1], e[2], e[3])]
    check(not wrong, f"{who}: each record has the partition key it was sent with and came from "
          f"the shard and sequence number PutRecords answered ({len(wrong)} differ)")
    by_shard = {}
    for e in rs:
        by_shard.setdefault(e[1], []).append(int(e[2]))
    disorder = [s for s, seqs in by_shard.items() if seqs != sorted(seqs)]
    check(not disorder, f"{who}: in order within each shard (out of order: {disorder})")
    idx = {i: e for i, e in enumerate(ev)}
    for child, ps in sorted(lineage.items()):
        first_child = next((i for i, e in idx.items() if e[0] == "REC" and e[1] == child), None)
        for parent in ps:
            end_at = next((i for i, e in idx.items() if e[0] == "END" and e[1] == parent), None)
            last_parent = max((i for i, e in idx.items() if e[0] == "REC" and e[1] == parent),
                              default=None)
            check(end_at is not None and (first_child is None or end_at < first_child)
                  and (last_parent is None or first_child is None or last_parent < first_child),
                  f"{who}: parent {parent} fully processed (last record at event {last_parent}, "
                  f"shardEnded at {end_at}) before child {child} (first record at {first_child})")
    print(f"{who}: records per shard: { {s: len(v) for s, v in sorted(by_shard.items())} }",
          flush=True)


def finish():
    print(f"kcl: {'FAILED ' + str(len(FAILS)) if FAILS else 'all checks passed'}", flush=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
