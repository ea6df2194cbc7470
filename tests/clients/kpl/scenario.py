"""KPL -> Tributary (TLS) -> KCL: aggregated records, de-aggregated, routed by hash key.

Started by run.sh (which starts Tributary with TLS and signature checks, and moto for the KCL's
lease table). The story:

1. boto3 (over https, trusting only `tributary cert`'s CA) creates a 4-shard stream.
2. The KPL app (KplApp, aggregation on, verifying the certificate against that CA) writes
   ROUNDS rounds of user records: one per plain partition key (the KPL routes it by MD5) and
   one per explicit-hash-key record (3 per shard: the shard's first, middle and last hash key,
   each with a partition key whose MD5 falls in another shard, so only the explicit hash key can
   put it where it belongs). Each round is flushed and acknowledged before the next.
3. A second KPL run without the CA must fail (the certificate is really verified).
4. boto3 GetRecords reads every shard: the stored Kinesis records must be KPL aggregates (magic
   F3 89 9A C2, protobuf, MD5 trailer) holding each user record exactly once, each in the shard
   whose range holds its hash key, under the sequence number the KPL reported.
5. A KCL 3.x worker (KclApp of tests/clients/kcl, over https with the same CA) reads the stream
   and must hand the processor every user record exactly once, de-aggregated (aggregated=true,
   subsequence numbers as stored), with its partition key, explicit hash key and data, in the
   shard the KPL reported, in send order per partition key.
6. Tributary's request log: every request answered 200.

Prints one line per check and ends with "kpl: N passed, N failed"; exits 1 on any failure.
"""

import argparse
import collections
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import boto3
from botocore.config import Config

MAGIC = b"\xf3\x89\x9a\xc2"

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {what}")
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return ok


def md5_hash_key(pk):
    return int.from_bytes(hashlib.md5(pk.encode()).digest(), "big")


def shard_of(ranges, h):
    for sid, (lo, hi) in ranges.items():
        if lo <= h <= hi:
            return sid
    return None


# ---- a minimal protobuf reader for the KPL's AggregatedRecord (messages.proto in the KPL jar) --
#   AggregatedRecord { repeated string partition_key_table = 1;
#                      repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
#   Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
#            required bytes data = 3; repeated Tag tags = 4; }


def varint(b, i):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i : i + n]
            i += n
        elif wt == 1:
            v = b[i : i + 8]
            i += 8
        elif wt == 5:
            v = b[i : i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, v


def deaggregate(data):
    """[(pk, ehk or None, data bytes)] of a KPL aggregate; raises if it is not a valid one."""
    body, trailer = data[4:-16], data[-16:]
    if hashlib.md5(body).digest() != trailer:
        raise ValueError("MD5 trailer does not match")
    pks, ehks, recs = [], [], []
    for num, v in fields(body):
        if num == 1:
            pks.append(v.decode())
        elif num == 2:
            ehks.append(v.decode())
        elif num == 3:
            r = dict(fields(v))
            recs.append(r)
    out = []
    for r in recs:
        ehk = ehks[r[2]] if 2 in r else None
        out.append((pks[r[1]], ehk, r.get(3, b"")))
    return out


def read_events(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split(" ") for line in f]


def java(main, args, log, classpath_dirs):
    cp = ":".join(
        [f"{d}/target/classes" for d in classpath_dirs]
        + [open(f"{d}/target/classpath.txt").read().strip() for d in classpath_dirs]
    )
    return subprocess.Popen(
        ["java", "-cp", cp, main, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kinesis", help="https://127.0.0.1:PORT")
    ap.add_argument("dynamodb", help="http://127.0.0.1:PORT (moto)")
    ap.add_argument("ca", help="the CA that signed Tributary's certificate")
    ap.add_argument("logs")
    ap.add_argument("--kcl-dir", required=True)
    ap.add_argument("--kpl-dir", required=True)
    ap.add_argument("--native-dir", required=True, help="where the KPL extracts its daemon")
    ap.add_argument("--mode", default="polling", choices=["polling", "efo"])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--keys", type=int, default=32, help="plain partition keys")
    ap.add_argument("--wait", type=int, default=180, help="seconds the KCL gets")
    ap.add_argument("--strategy-default", default="USER_PARTITION_KEY",
                    help="the KPL's RecordDistributionStrategyDefault (UNSET: the KPL's default)")
    a = ap.parse_args()
    t_start = time.monotonic()

    port = int(a.kinesis.rsplit(":", 1)[1])
    k = boto3.client(
        "kinesis",
        endpoint_url=a.kinesis,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        verify=a.ca,
        config=Config(retries={"max_attempts": 2}),
    )
    run = uuid.uuid4().hex[:6]
    stream = f"kpl-{run}"
    k.create_stream(StreamName=stream, ShardCount=a.shards)
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    shards = k.list_shards(StreamName=stream)["Shards"]
    ranges = {
        s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    }
    check(len(ranges) == a.shards, f"stream {stream} has {a.shards} shards (ListShards over https)")

    # ---- the plan --------------------------------------------------------------------------
    plain_keys = [f"pk-{i:02d}" for i in range(a.keys)]
    ehk_keys = []  # (pk, ehk, shard the ehk belongs to)
    for sid, (lo, hi) in ranges.items():
        for j, h in enumerate((lo, (lo + hi) // 2, hi)):
            n = 0
            while True:
                pk = f"ehk-{sid[-2:]}-{j}-{n}"
                if shard_of(ranges, md5_hash_key(pk)) != sid:
                    break
                n += 1
            ehk_keys.append((pk, str(h), sid))
    plan = []  # (round, pk, ehk or "-", data)
    for r in range(a.rounds):
        for pk in plain_keys:
            plan.append((r, pk, "-", f"{pk}:r{r}:{uuid.uuid4().hex[:8]}"))
        for pk, ehk, _ in ehk_keys:
            plan.append((r, pk, ehk, f"{pk}:r{r}:{uuid.uuid4().hex[:8]}"))
    planned = {d: (r, pk, ehk) for r, pk, ehk, d in plan}
    expected_shard = {}
    for r, pk, ehk, d in plan:
        h = int(ehk) if ehk != "-" else md5_hash_key(pk)
        expected_shard[d] = shard_of(ranges, h)
    plan_file = os.path.join(a.logs, "plan.txt")
    with open(plan_file, "w") as f:
        for r, pk, ehk, d in plan:
            f.write(f"{r} {pk} {ehk} {d}\n")
    print(f"plan: {len(plan)} user records, {a.rounds} rounds, {len(plain_keys)} plain keys, "
          f"{len(ehk_keys)} explicit-hash-key keys")

    host = "127.0.0.1"
    # ---- the KPL --------------------------------------------------------------------------
    kpl_events = os.path.join(a.logs, "kpl.events")
    t0 = time.monotonic()
    with open(os.path.join(a.logs, "kpl.log"), "w") as log:
        p = java("tributary.kpl.KplApp",
                 ["--host", host, "--port", str(port), "--ca", a.ca, "--stream", stream,
                  "--plan", plan_file, "--out", kpl_events, "--temp", a.native_dir,
                  "--strategy-default", a.strategy_default],
                 log, [a.kpl_dir])
        open(os.path.join(a.logs, "kpl.pid"), "w").write(str(p.pid))
        try:
            rc = p.wait(timeout=240)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "timeout"
    kpl_s = time.monotonic() - t0
    ev = read_events(kpl_events)
    sent = {}
    for e in ev:
        if e[0] == "SENT":
            _, r, pk, ehk, sid, seq, attempts, d = e
            sent[d] = (int(r), pk, ehk, sid, seq, int(attempts))
    fails = [" ".join(e) for e in ev if e[0] == "FAILED"]
    check(rc == 0, f"KPL app exited 0 ({kpl_s:.1f}s)", f"rc={rc}, see kpl.log")
    check(not fails and set(sent) == set(planned),
          f"KPL acknowledged all {len(planned)} user records, none failed",
          f"{len(sent)} acknowledged, {len(fails)} failed: {fails[:3]}")
    retried = [d for d, s in sent.items() if s[5] != 1]
    check(not retried, "every user record took 1 attempt (no retry, so no error from Tributary)",
          f"{len(retried)} needed more")
    wrong = [(d, s[3], expected_shard[d]) for d, s in sent.items() if s[3] != expected_shard[d]]
    check(not wrong, "KPL reports each user record in the shard whose range holds its hash key "
          "(MD5 of the partition key, or the explicit hash key)", str(wrong[:3]))
    for svc in ("cloudwatch", "sts"):
        n = [e[2] for e in ev if e[0] == "UNEXPECTED_CONNECTIONS" and e[1] == svc]
        check(n == ["0"], f"KPL made no connection to {svc} (metrics none, static credentials)", str(n))

    # ---- the same KPL without the CA: Tributary's certificate must be refused ---------------
    probe_stream = f"kpl-probe-{run}"
    k.create_stream(StreamName=probe_stream, ShardCount=1)
    k.get_waiter("stream_exists").wait(StreamName=probe_stream, WaiterConfig={"Delay": 0.2})
    probe_plan = os.path.join(a.logs, "probe-plan.txt")
    open(probe_plan, "w").write("0 probe - should-not-arrive\n")
    probe_events = os.path.join(a.logs, "probe.events")
    with open(os.path.join(a.logs, "probe.log"), "w") as log:
        p = java("tributary.kpl.KplApp",
                 ["--host", host, "--port", str(port), "--stream", probe_stream,
                  "--plan", probe_plan, "--out", probe_events, "--temp", a.native_dir,
                  "--ttl", "3000"], log, [a.kpl_dir])
        open(os.path.join(a.logs, "probe.pid"), "w").write(str(p.pid))
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
    pev = read_events(probe_events)
    failed_lines = [" ".join(e) for e in pev if e[0] == "FAILED"]
    cert_err = re.search(r"curlCode: 60[^\]]*", failed_lines[0]) if failed_lines else None
    check(cert_err is not None and not any(e[0] == "SENT" for e in pev),
          "KPL without the CA file: the record fails on the certificate (curl 60), so it is verified",
          str(pev[-3:])[:300])
    if cert_err:
        print(f"  probe: {cert_err.group(0)}")

    # ---- what Tributary stored (boto3 GetRecords) --------------------------------------------
    stored = {}  # data -> (shard, seq, subseq index, pk, ehk)
    kinesis_records = 0
    aggregated_records = 0
    plain_records = 0
    plain_rounds = collections.Counter()
    agg_pks = collections.Counter()
    bad = []
    for sid in ranges:
        it = k.get_shard_iterator(StreamName=stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            out = k.get_records(ShardIterator=it, Limit=1000)
            for rec in out["Records"]:
                kinesis_records += 1
                data = rec["Data"]
                if data[:4] == MAGIC:
                    aggregated_records += 1
                    agg_pks[rec["PartitionKey"]] += 1
                    try:
                        users = deaggregate(data)
                    except Exception as e:  # noqa: BLE001
                        bad.append(f"{sid} {rec['SequenceNumber']}: {e}")
                        continue
                    for i, (pk, ehk, d) in enumerate(users):
                        stored.setdefault(d.decode(), []).append((sid, rec["SequenceNumber"], i, pk, ehk))
                else:
                    plain_records += 1
                    plain_rounds[planned.get(data.decode(errors="replace"), ("?",))[0]] += 1
                    stored.setdefault(data.decode(errors="replace"), []).append(
                        (sid, rec["SequenceNumber"], None, rec["PartitionKey"], None))
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
            it = out.get("NextShardIterator")
    print(f"  partition keys of the aggregates as stored: {dict(agg_pks)}")
    print(f"stored: {kinesis_records} Kinesis records ({aggregated_records} KPL aggregates, "
          f"{plain_records} plain) for {len(planned)} user records")
    check(aggregated_records > 0 and aggregated_records * 2 <= len(planned),
          "the KPL aggregated: stored records start with F3 89 9A C2 and hold several user records each",
          f"{aggregated_records} aggregates")
    # Until its shard map is loaded (ListShards, on the stream's first record) the KPL cannot
    # predict shards and sends each record alone: round 0 may go out unaggregated.
    print(f"  plain (unaggregated) Kinesis records per round: {dict(sorted(plain_rounds.items()))}")
    # Later rounds: now and then one record misses its round's aggregate (flush timing) and
    # goes alone; that is the KPL's choice, not an error. Most must be aggregated.
    later = sum(1 for r, *_ in plan if r != 0)
    late = sum(n for r, n in plain_rounds.items() if r != 0)
    check(late * 10 <= later,
          f"from round 1 on, {later - late} of {later} user records travelled inside aggregates (>= 90%)",
          f"{late} went alone")
    check(not bad, "every aggregate decodes (protobuf AggregatedRecord, MD5 trailer matches)", str(bad[:3]))
    dup = {d: v for d, v in stored.items() if len(v) != 1}
    check(set(stored) == set(planned) and not dup,
          f"GetRecords: each of the {len(planned)} user records stored exactly once",
          f"missing {len(set(planned) - set(stored))}, extra {len(set(stored) - set(planned))}, dup {len(dup)}")
    mism = []
    for d, v in stored.items():
        if d not in planned or len(v) != 1:
            continue
        sid, seq, sub, pk, ehk = v[0]
        r, ppk, pehk = planned[d]
        if pk != ppk or (sub is not None and (ehk or "-") != pehk):
            mism.append(f"{d}: stored pk={pk} ehk={ehk}")
        if d in sent and (sid != sent[d][3] or seq != sent[d][4]):
            mism.append(f"{d}: stored {sid} {seq}, KPL said {sent[d][3]} {sent[d][4]}")
    check(not mism, "GetRecords: partition key, explicit hash key, shard and sequence number as the KPL sent and reported",
          str(mism[:3]))
    outside = [(d, v[0][0]) for d, v in stored.items()
               if d in planned and v[0][0] != expected_shard[d]]
    check(not outside, "GetRecords: every user record sits in the shard whose ListShards range holds its hash key",
          str(outside[:3]))
    ehk_stored = [(d, v[0][0]) for d, v in stored.items() if d in planned and planned[d][2] != "-"]
    check(len(ehk_stored) == len(ehk_keys) * a.rounds
          and all(sid == dict((pk, s) for pk, _, s in ehk_keys)[planned[d][1]] for d, sid in ehk_stored),
          f"GetRecords: the {len(ehk_stored)} explicit-hash-key user records are in their hash key's shard, "
          "not their partition key's")

    # ---- the KCL ----------------------------------------------------------------------------
    kcl_events = os.path.join(a.logs, "kcl.events")
    stop = os.path.join(a.logs, "kcl.stop")
    t0 = time.monotonic()
    with open(os.path.join(a.logs, "kcl.log"), "w") as log:
        p = java("tributary.kcl.KclApp",
                 ["--mode", a.mode, "--stream", stream, "--app", f"kpl-app-{run}",
                  "--kinesis", a.kinesis, "--ca", a.ca, "--dynamodb", a.dynamodb,
                  "--out", kcl_events, "--stop-file", stop, "--worker", "worker-1",
                  "--max-seconds", str(a.wait + 30), "--user-records"], log, [a.kcl_dir])
        open(os.path.join(a.logs, "worker1.pid"), "w").write(str(p.pid))
        first = None
        while time.monotonic() - t0 < a.wait:
            ur = [e for e in read_events(kcl_events) if e[0] == "UREC"]
            if ur and first is None:
                first = time.monotonic() - t0
            if len(ur) >= len(planned):
                break
            if p.poll() is not None:
                break
            time.sleep(1)
        time.sleep(3)  # anything past the expected count would be a duplicate
        open(stop, "w").close()
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
    kcl_s = time.monotonic() - t0
    kev = read_events(kcl_events)
    print(f"KCL: first user record {first and round(first, 1)}s after start, worker ran {kcl_s:.1f}s")
    urec = []
    for e in kev:
        if e[0] == "UREC":
            sid, seq, sub, pk, ehk, agg = e[1:7]
            urec.append((sid, seq, int(sub), pk, ehk, agg, " ".join(e[7:])))
    got = collections.Counter(u[6] for u in urec)
    check(set(got) == set(planned) and all(n == 1 for n in got.values()),
          f"KCL: each of the {len(planned)} user records processed exactly once",
          f"{len(got)} distinct, missing {len(set(planned) - set(got))}, "
          f"extra {len(set(got) - set(planned))}, dup {sum(1 for n in got.values() if n > 1)}")
    mism = []
    for sid, seq, sub, pk, ehk, agg, d in urec:
        if d not in planned:
            continue
        r, ppk, pehk = planned[d]
        if pk != ppk:
            mism.append(f"{d}: pk {pk}")
        st = stored.get(d, [None])[0]
        # A plain (not aggregated) Kinesis record carries no explicit hash key for readers.
        if pehk != "-" and st and st[2] is not None and ehk != pehk:
            mism.append(f"{d}: ehk {ehk} != {pehk}")
        if st and st[2] is not None and agg != "true":
            mism.append(f"{d}: aggregated={agg}")
        if st and (sid, seq) != (st[0], st[1]):
            mism.append(f"{d}: KCL {sid} {seq} stored {st[0]} {st[1]}")
        if st and st[2] is not None and sub != st[2]:
            mism.append(f"{d}: subsequence {sub} != index {st[2]}")
    check(not mism, "KCL: de-aggregated (aggregated=true), partition key, explicit hash key, shard, "
          "sequence and subsequence numbers as stored", str(mism[:3]))
    ehk_seen = collections.Counter((u[4] != "-") for u in urec if u[6] in planned and planned[u[6]][2] == "-")
    print(f"  KCL explicitHashKey of plain user records: {dict(ehk_seen)} (True = it reports one)")
    out_of_range = [(u[6], u[0]) for u in urec if u[6] in planned and u[0] != expected_shard[u[6]]]
    check(not out_of_range,
          "KCL: every user record came from the shard whose ListShards range holds its hash key "
          "(explicit hash key where given)", str(out_of_range[:3]))
    order_bad = []
    per_pk = collections.defaultdict(list)
    for u in urec:
        if u[6] in planned:
            per_pk[u[3]].append(planned[u[6]][0])
    for pk, rounds in per_pk.items():
        if rounds != sorted(rounds):
            order_bad.append(pk)
    check(not order_bad and len(per_pk) == len(plain_keys) + len(ehk_keys),
          f"KCL: per partition key ({len(per_pk)} keys) the user records arrive in send order",
          str(order_bad[:3]))
    # Order per shard: the KCL hands each shard's user records over in (sequence number,
    # subsequence number) order, which is the order GetRecords stored them in (checked above).
    per_shard = collections.defaultdict(list)
    for sid, seq, sub, *_ in urec:
        per_shard[sid].append((int(seq), sub))
    shard_bad = [sid for sid, keys in per_shard.items() if keys != sorted(keys)]
    check(not shard_bad, f"KCL: within each of its {len(per_shard)} shards the user records arrive "
          "in stored order (sequence, then subsequence number)", str(shard_bad[:3]))
    kfails = [" ".join(e) for e in kev if e[0] == "FAIL" and e[1] == "kinesis"
              and not (e[2] == "DescribeStreamConsumer" and "ResourceNotFound" in " ".join(e))]
    check(not kfails, "KCL: no failed Kinesis call", str(kfails[:3]))
    cw = [e for e in kev if e[0] == "CLOUDWATCH_CALLS"]
    check(cw and cw[-1][1] == "0", "KCL: 0 CloudWatch calls (metrics NONE)", str(cw))
    calls = collections.Counter((e[1], e[2], e[3]) for e in kev if e[0] == "CALL" and e[1] == "kinesis")
    print("  KCL Kinesis calls: " + ", ".join(f"{op} {n} {ct}" for (_, op, ct), n in sorted(calls.items())))
    # The read path: in fan-out mode every record must have come by SubscribeToShard (which the
    # SDK sends as JSON), all else in CBOR; a run that fell back to polling would fail here.
    cbor, json_ = "application/x-amz-cbor-1.1", "application/x-amz-json-1.1"
    reads = "SubscribeToShard" if a.mode == "efo" else "GetRecords"
    other = "GetRecords" if a.mode == "efo" else "SubscribeToShard"
    n_reads = sum(n for (_, op, _), n in calls.items() if op == reads)
    n_other = sum(n for (_, op, _), n in calls.items() if op == other)
    off = [op for (_, op, ct) in calls if ct != (json_ if op == "SubscribeToShard" else cbor)]
    check(n_reads > 0 and n_other == 0 and not off,
          f"KCL ({a.mode}): reads by {reads} ({n_reads} calls), none by {other}; every Kinesis "
          "call CBOR but SubscribeToShard (JSON)", f"{other} {n_other}, off {off}")

    # ---- Tributary's view -----------------------------------------------------------------
    log = open(os.path.join(a.logs, "tributary.log"), encoding="utf-8", errors="replace").read()
    reqs = re.findall(r'operation="(\w+)".*? status=(\d+)', log)
    by = collections.Counter(reqs)
    print("  Tributary requests: " + ", ".join(f"{op} {st} x{n}" for (op, st), n in sorted(by.items())))
    non200 = {k_: n for k_, n in by.items() if k_[1] != "200"
              and not (k_ == ("DescribeStreamConsumer", "400") and a.mode == "efo")}
    check(not non200, "Tributary answered every request 200 (signatures verified for every one)", str(non200))
    check("verifying SigV4 signatures" in log, "Tributary verified SigV4 signatures (users configured)")

    print(f"scenario {time.monotonic() - t_start:.0f}s (KPL {kpl_s:.0f}s, KCL {kcl_s:.0f}s)")
    print(f"kpl: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
