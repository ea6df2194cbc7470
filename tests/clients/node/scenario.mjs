#!/usr/bin/env node
// End-to-end scenario against a running Tributary with the AWS SDK for
// JavaScript v3, every call over HTTP/2 cleartext (h2c with prior knowledge:
// NodeHttp2Handler on an http:// endpoint). The same story as
// python/scenario_boto3.py: create, 1,000 writes, reads by every iterator
// type, split, merge, retention, tags, paginated listings, delete.
//
// Usage: node scenario.mjs [ENDPOINT]   (default: $TRIBUTARY_ENDPOINT)
// The first failed check stops the run with "FAIL [step] ..."; the last line
// is always "node-h2: N passed, M failed".

import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RemoveTagsFromStreamCommand,
  ResourceNotFoundException,
  SplitShardCommand,
  TagResourceCommand,
  UntagResourceCommand,
  paginateListStreams,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

const NAME = "node-h2";
const MAX_HASH_KEY = 2n ** 128n - 1n;
// Real Kinesis throttles per shard and clients back off on these; the SDK's
// own retries are off (maxAttempts: 1) so that every other error surfaces.
const THROTTLE_CODES = new Set(["ProvisionedThroughputExceededException", "LimitExceededException"]);

class ScenarioFailure extends Error {}

// Counts the requests that went through the HTTP/2 handler, to show at the
// end that every call of the scenario used it.
class CountingHttp2Handler extends NodeHttp2Handler {
  requests = 0;
  handle(request, options) {
    this.requests += 1;
    return super.handle(request, options);
  }
}

// The pinned SDK warns at client creation that later releases will need
// Node 22; this machine has Node 20 and the pinned release supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const endpoint = process.argv[2] || process.env.TRIBUTARY_ENDPOINT;
if (!endpoint) {
  console.error("usage: node scenario.mjs ENDPOINT (or set TRIBUTARY_ENDPOINT)");
  process.exit(2);
}
if (!endpoint.startsWith("http://")) {
  console.error("the endpoint must be http:// so that the h2c (prior knowledge) path is tested");
  process.exit(2);
}

const handler = new CountingHttp2Handler({ requestTimeout: 60_000, sessionTimeout: 120_000 });
const client = new KinesisClient({
  endpoint,
  region: "us-east-1",
  // Signatures are not verified by default, but a SigV4 header must be
  // present and its scope carries the region.
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  requestHandler: handler,
  maxAttempts: 1,
});

let passed = 0;
let throttled = 0;
let sdkCalls = 0;
let currentStep = "setup";
const stream = `tributary-node-${randomUUID().slice(0, 10)}`;
const createdStreams = [];

// ---- checks ------------------------------------------------------------

function step(title) {
  currentStep = title;
  console.log(`-- ${title}`);
}

function ok(condition, message) {
  if (!condition) throw new ScenarioFailure(`[${currentStep}] ${message}`);
  passed += 1;
}

const show = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

function eq(actual, expected, what) {
  ok(show(actual) === show(expected), `${what}: expected ${show(expected)}, got ${show(actual)}`);
}

// Records read back must equal the ones written, in order.
function sameRecords(got, expected, what) {
  const n = Math.max(got.length, expected.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const e = expected[i];
    if (!g || !e) {
      throw new ScenarioFailure(`[${currentStep}] ${what}: got ${got.length} records, expected ${expected.length}`);
    }
    if (g.SequenceNumber !== e.seq || g.PartitionKey !== e.pk || Buffer.compare(Buffer.from(g.Data), e.data) !== 0) {
      throw new ScenarioFailure(
        `[${currentStep}] ${what}: record ${i} differs: got (seq=${g.SequenceNumber}, pk=${g.PartitionKey}, ` +
          `${g.Data.length} bytes), expected (seq=${e.seq}, pk=${e.pk}, ${e.data.length} bytes)`,
      );
    }
  }
  passed += 1;
}

// ---- calls -------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(command) {
  for (let attempt = 0; ; attempt++) {
    try {
      sdkCalls += 1;
      return await client.send(command);
    } catch (e) {
      if (THROTTLE_CODES.has(e.name) && attempt < 7) {
        throttled += 1;
        await sleep(100 * 2 ** attempt);
        continue;
      }
      throw e;
    }
  }
}

async function waitFor(waiter, streamName) {
  await waiter({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { StreamName: streamName });
}

async function listShards(streamName) {
  return (await call(new ListShardsCommand({ StreamName: streamName }))).Shards;
}

async function iterator(shardId, type, extra = {}) {
  const resp = await call(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: type, ...extra }),
  );
  return resp.ShardIterator;
}

// GetRecords until the tip of an open shard (an empty page with
// MillisBehindLatest 0) or, with untilClosed, until the shard ends (no
// NextShardIterator). Returns { records, last }.
async function read(it, { untilClosed = false, limit } = {}) {
  const records = [];
  for (let i = 0; i < 500; i++) {
    const resp = await call(new GetRecordsCommand({ ShardIterator: it, ...(limit ? { Limit: limit } : {}) }));
    records.push(...resp.Records);
    if (!resp.NextShardIterator) return { records, last: resp };
    if (!untilClosed && resp.Records.length === 0 && (resp.MillisBehindLatest ?? 0) === 0) {
      return { records, last: resp };
    }
    it = resp.NextShardIterator;
  }
  throw new ScenarioFailure(`[${currentStep}] shard did not reach its end in 500 GetRecords calls`);
}

// The first non-empty page (at most n records) from an iterator.
async function firstRecords(it, n) {
  for (let i = 0; i < 20 && it; i++) {
    const resp = await call(new GetRecordsCommand({ ShardIterator: it, Limit: n }));
    if (resp.Records.length) return resp.Records;
    it = resp.NextShardIterator;
  }
  return [];
}

// ---- keys and records --------------------------------------------------

const hashOf = (pk) => BigInt("0x" + createHash("md5").update(pk, "utf8").digest("hex"));
const hashRange = (s) => [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)];
const isOpen = (s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined;
const payload = () => randomBytes(1 + Math.floor(Math.random() * 256));
const randomKey = (prefix) => `${prefix}-${randomBytes(8).toString("hex")}`;

// A random partition key whose MD5 falls in [lo, hi].
function keyInRange(lo, hi) {
  for (;;) {
    const pk = randomKey("pk");
    const h = hashOf(pk);
    if (lo <= h && h <= hi) return pk;
  }
}

function shardForHash(shards, h) {
  const s = shards.find((s) => isOpen(s) && hashRange(s)[0] <= h && h <= hashRange(s)[1]);
  return s?.ShardId;
}

// PutRecords, resubmitting only throttled entries; accepted records are
// appended to `written` in the order they were accepted.
async function putRecords(entries, written) {
  let pending = entries;
  for (let attempt = 0; attempt < 8; attempt++) {
    const resp = await call(
      new PutRecordsCommand({
        StreamName: stream,
        Records: pending.map((e) => ({
          Data: e.data,
          PartitionKey: e.pk,
          ...(e.ehk ? { ExplicitHashKey: e.ehk } : {}),
        })),
      }),
    );
    eq(resp.Records.length, pending.length, "PutRecords result count");
    const retry = [];
    resp.Records.forEach((r, i) => {
      if (r.SequenceNumber && !r.ErrorCode) {
        written.push({ ...pending[i], seq: r.SequenceNumber, shard: r.ShardId });
      } else if (r.ErrorCode === "ProvisionedThroughputExceededException") {
        retry.push(pending[i]);
      } else {
        throw new ScenarioFailure(`[${currentStep}] PutRecords entry ${i} failed: ${show(r)}`);
      }
    });
    eq(resp.FailedRecordCount ?? 0, retry.length, "PutRecords FailedRecordCount");
    if (!retry.length) return;
    throttled += retry.length;
    pending = retry;
    await sleep(200 * 2 ** attempt);
  }
  throw new ScenarioFailure(`[${currentStep}] PutRecords still throttled after 8 attempts`);
}

async function putRecord(pk, data, written, extra = {}) {
  const resp = await call(new PutRecordCommand({ StreamName: stream, PartitionKey: pk, Data: data, ...extra }));
  ok(resp.SequenceNumber && resp.ShardId, `PutRecord answer ${show(resp)}`);
  const rec = { pk, data, seq: resp.SequenceNumber, shard: resp.ShardId };
  written.push(rec);
  return rec;
}

function checkIncreasing(recs, what) {
  const seqs = recs.map((r) => BigInt(r.seq));
  ok(
    seqs.every((s, i) => i === 0 || seqs[i - 1] < s),
    `${what}: sequence numbers are not strictly increasing in write order`,
  );
}

const tagMap = (tags) => Object.fromEntries(tags.map((t) => [t.Key, t.Value]).sort());

// ---- the scenario ------------------------------------------------------

async function run() {
  step("DescribeStream on a missing stream");
  try {
    await client.send(new DescribeStreamCommand({ StreamName: `tributary-missing-${randomUUID().slice(0, 8)}` }));
    throw new ScenarioFailure(`[${currentStep}] DescribeStream of a missing stream succeeded`);
  } catch (e) {
    if (e instanceof ScenarioFailure) throw e;
    eq(e.name, "ResourceNotFoundException", `error name (message: ${e.message})`);
    ok(e instanceof ResourceNotFoundException, "the SDK maps the error to its modeled ResourceNotFoundException");
    eq(e.$metadata?.httpStatusCode, 400, "HTTP status");
  }

  step(`CreateStream ${stream} with 2 shards, waitUntilStreamExists`);
  await call(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  createdStreams.push(stream);
  await waitFor(waitUntilStreamExists, stream);
  const desc = (await call(new DescribeStreamCommand({ StreamName: stream }))).StreamDescription;
  eq(desc.StreamStatus, "ACTIVE", "StreamStatus");
  ok(
    desc.StreamARN.startsWith("arn:aws:kinesis:us-east-1:") && desc.StreamARN.endsWith(`:stream/${stream}`),
    `StreamARN carries the region of the request: ${desc.StreamARN}`,
  );
  let shards = [...desc.Shards].sort((a, b) => (hashRange(a)[0] < hashRange(b)[0] ? -1 : 1));
  eq(shards.length, 2, "shard count");
  const ranges = shards.map(hashRange);
  ok(
    ranges[0][0] === 0n && ranges[1][1] === MAX_HASH_KEY && ranges[0][1] + 1n === ranges[1][0],
    `hash ranges cover 0..2^128-1 without gaps: ${show(ranges)}`,
  );
  const [shardA, shardB] = shards.map((s) => s.ShardId);

  step("Put 1,000 records (5 PutRecord + PutRecords batches of 500 and 495)");
  const written = [];
  const tBeforePuts = new Date(Date.now() - 1000);
  for (let i = 0; i < 5; i++) await putRecord(randomKey("single"), payload(), written);
  for (const size of [500, 495]) {
    await putRecords(Array.from({ length: size }, () => ({ pk: randomKey("key"), data: payload() })), written);
  }
  const tAfterPuts = new Date();
  eq(written.length, 1000, "records written");
  eq(new Set(written.map((r) => `${r.shard}/${r.seq}`)).size, 1000, "distinct sequence numbers per shard");
  const misrouted = written.filter((r) => r.shard !== shardForHash(shards, hashOf(r.pk)));
  ok(!misrouted.length, `${misrouted.length} records landed outside the shard owning MD5(key)`);
  const byShard = { [shardA]: [], [shardB]: [] };
  for (const r of written) byShard[r.shard].push(r);
  for (const sid of [shardA, shardB]) {
    ok(byShard[sid].length > 0, `${sid} received records`);
    checkIncreasing(byShard[sid], sid);
  }

  step("Read back with TRIM_HORIZON");
  for (const [sid, limit] of [[shardA, 100], [shardB, undefined]]) {
    const { records } = await read(await iterator(sid, "TRIM_HORIZON"), { limit });
    sameRecords(records, byShard[sid], `${sid} from TRIM_HORIZON (Limit=${limit})`);
    const slack = 5000;
    ok(
      records.every(
        (r) =>
          r.ApproximateArrivalTimestamp >= tBeforePuts.getTime() - slack &&
          r.ApproximateArrivalTimestamp <= tAfterPuts.getTime() + slack,
      ),
      `${sid} ApproximateArrivalTimestamp within the write window`,
    );
  }

  step("AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER");
  const recsA = byShard[shardA];
  const k = Math.floor(recsA.length / 2);
  let got = await firstRecords(await iterator(shardA, "AT_SEQUENCE_NUMBER", { StartingSequenceNumber: recsA[k].seq }), 5);
  sameRecords(got.slice(0, 1), recsA.slice(k, k + 1), "first record AT_SEQUENCE_NUMBER");
  got = await firstRecords(await iterator(shardA, "AFTER_SEQUENCE_NUMBER", { StartingSequenceNumber: recsA[k].seq }), 5);
  sameRecords(got.slice(0, 1), recsA.slice(k + 1, k + 2), "first record AFTER_SEQUENCE_NUMBER");

  step("AT_TIMESTAMP");
  for (const sid of [shardA, shardB]) {
    const { records } = await read(await iterator(sid, "AT_TIMESTAMP", { Timestamp: tBeforePuts }));
    sameRecords(records, byShard[sid], `${sid} AT_TIMESTAMP before the first put`);
    // A timestamp in the future yields nothing. AWS itself refuses it in
    // GetShardIterator (InvalidArgumentException, "timestampInMillis parameter
    // cannot be greater than the currentTimestampInMillis"); an iterator that
    // then reads no records is accepted as well.
    const future = new Date(Date.now() + 3600_000);
    let futureIt;
    try {
      futureIt = await iterator(sid, "AT_TIMESTAMP", { Timestamp: future });
    } catch (e) {
      if (e instanceof ScenarioFailure) throw e;
      eq(e.name, "InvalidArgumentException", `${sid} error for AT_TIMESTAMP one hour ahead (${e.message})`);
    }
    if (futureIt) {
      const resp = await call(new GetRecordsCommand({ ShardIterator: futureIt }));
      eq(resp.Records.length, 0, `${sid} records AT_TIMESTAMP one hour ahead`);
    }
  }

  step("LATEST");
  const latest = await call(new GetRecordsCommand({ ShardIterator: await iterator(shardB, "LATEST") }));
  eq(latest.Records.length, 0, "records at LATEST before a new put");
  const rec = await putRecord(keyInRange(...ranges[1]), payload(), byShard[shardB]);
  eq(rec.shard, shardB, "shard of the new record");
  sameRecords(await firstRecords(latest.NextShardIterator, 10), [rec], "record put after taking the LATEST iterator");

  step(`SplitShard ${shardA} at the midpoint of its hash range`);
  const [lo, hi] = ranges[0];
  const mid = (lo + hi + 1n) / 2n;
  await call(new SplitShardCommand({ StreamName: stream, ShardToSplit: shardA, NewStartingHashKey: mid.toString() }));
  await waitFor(waitUntilStreamExists, stream); // waits for ACTIVE again
  const summary = (await call(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary;
  eq(summary.StreamStatus, "ACTIVE", "StreamStatus after split");
  eq(summary.OpenShardCount, 3, "OpenShardCount after split");
  shards = await listShards(stream);
  eq(shards.length, 4, "shards listed after split");
  const parent = shards.find((s) => s.ShardId === shardA);
  ok(!isOpen(parent), "parent shard is closed");
  ok(
    BigInt(parent.SequenceNumberRange.EndingSequenceNumber) >= BigInt(recsA[recsA.length - 1].seq),
    "parent EndingSequenceNumber covers its last record",
  );
  const children = shards
    .filter((s) => s.ParentShardId === shardA)
    .sort((a, b) => (hashRange(a)[0] < hashRange(b)[0] ? -1 : 1));
  eq(children.map(hashRange), [[lo, mid - 1n], [mid, hi]], "children hash ranges");
  const [childLo, childHi] = children.map((c) => c.ShardId);

  step("Put records to the children");
  const afterSplit = [];
  const entries = [
    ...Array.from({ length: 10 }, () => ({ pk: keyInRange(lo, mid - 1n), data: payload() })),
    ...Array.from({ length: 10 }, () => ({ pk: keyInRange(mid, hi), data: payload() })),
  ];
  await putRecords(entries, afterSplit);
  // ExplicitHashKey overrides the key's MD5: this key hashes to the lower
  // child, the explicit hash is the first key of the upper child.
  await putRecord(keyInRange(lo, mid - 1n), payload(), afterSplit, { ExplicitHashKey: mid.toString() });
  eq(afterSplit.map((r) => r.shard), [...Array(10).fill(childLo), ...Array(11).fill(childHi)], "children receiving the writes");

  step("Read the closed parent to its end");
  let { records, last } = await read(await iterator(shardA, "TRIM_HORIZON"), { untilClosed: true });
  sameRecords(records, recsA, "parent records");
  ok(!last.NextShardIterator, "no NextShardIterator at the end of the parent");
  const childShards = [...(last.ChildShards ?? [])].sort((a, b) => (a.ShardId < b.ShardId ? -1 : 1));
  eq(childShards.map((c) => c.ShardId), [childLo, childHi].sort(), "ChildShards of the parent");
  ok(childShards.every((c) => show(c.ParentShards) === show([shardA])), `ChildShards name their parent: ${show(childShards)}`);

  step("Read the children");
  for (const sid of [childLo, childHi]) {
    ({ records } = await read(await iterator(sid, "TRIM_HORIZON")));
    sameRecords(records, afterSplit.filter((r) => r.shard === sid), `${sid} records`);
  }

  step(`MergeShards ${childLo} + ${childHi}`);
  await call(new MergeShardsCommand({ StreamName: stream, ShardToMerge: childLo, AdjacentShardToMerge: childHi }));
  await waitFor(waitUntilStreamExists, stream);
  shards = await listShards(stream);
  eq(shards.length, 5, "shards listed after merge");
  const mergedList = shards.filter((s) => s.ParentShardId === childLo);
  eq(mergedList.length, 1, "shards whose parent is the lower child");
  const merged = mergedList[0];
  eq(merged.AdjacentParentShardId, childHi, "AdjacentParentShardId of the merged shard");
  eq(hashRange(merged), [lo, hi], "merged hash range");
  for (const sid of [childLo, childHi]) {
    ok(!isOpen(shards.find((s) => s.ShardId === sid)), `${sid} is closed after the merge`);
    ({ records, last } = await read(await iterator(sid, "TRIM_HORIZON"), { untilClosed: true }));
    eq(records.length, afterSplit.filter((r) => r.shard === sid).length, `${sid} record count to its end`);
    eq((last.ChildShards ?? []).map((c) => c.ShardId), [merged.ShardId], `ChildShards at the end of ${sid}`);
  }
  const mergedRecs = [];
  const mrec = await putRecord(keyInRange(lo, hi), payload(), mergedRecs);
  eq(mrec.shard, merged.ShardId, "shard receiving a write after the merge");
  ({ records } = await read(await iterator(merged.ShardId, "TRIM_HORIZON")));
  sameRecords(records, mergedRecs, "merged shard records");

  step("Retention 24 -> 48 -> 24");
  const retention = async () =>
    (await call(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary.RetentionPeriodHours;
  eq(await retention(), 24, "default RetentionPeriodHours");
  await call(new IncreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 48 }));
  eq(await retention(), 48, "RetentionPeriodHours after increase");
  await call(new DecreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 24 }));
  eq(await retention(), 24, "RetentionPeriodHours after decrease");

  step("Tags by stream name and by ARN");
  const arn = (await call(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary.StreamARN;
  const tagsByName = async () => {
    const resp = await call(new ListTagsForStreamCommand({ StreamName: stream }));
    eq(resp.HasMoreTags, false, "HasMoreTags");
    return tagMap(resp.Tags);
  };
  const tagsByArn = async () => tagMap((await call(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags);
  eq(await tagsByName(), {}, "tags of a new stream");
  await call(new AddTagsToStreamCommand({ StreamName: stream, Tags: { env: "test", team: "data" } }));
  eq(await tagsByName(), { env: "test", team: "data" }, "tags after AddTagsToStream");
  await call(new RemoveTagsFromStreamCommand({ StreamName: stream, TagKeys: ["team"] }));
  eq(await tagsByName(), { env: "test" }, "tags after RemoveTagsFromStream");
  await call(new TagResourceCommand({ ResourceARN: arn, Tags: { owner: "tributary" } }));
  eq(await tagsByArn(), { env: "test", owner: "tributary" }, "ListTagsForResource after TagResource");
  eq(await tagsByName(), { env: "test", owner: "tributary" }, "ListTagsForStream after TagResource");
  await call(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ["owner"] }));
  eq(await tagsByArn(), { env: "test" }, "ListTagsForResource after UntagResource");

  step("ListStreams with Limit=1 and NextToken, and paginateListStreams");
  for (let i = 0; i < 3; i++) {
    await call(new CreateStreamCommand({ StreamName: `${stream}-list-${i}`, ShardCount: 1 }));
    createdStreams.push(`${stream}-list-${i}`);
  }
  for (const extra of createdStreams.slice(1)) await waitFor(waitUntilStreamExists, extra);
  const seen = [];
  let params = { Limit: 1 };
  for (let i = 0; i < 100; i++) {
    const resp = await call(new ListStreamsCommand(params));
    ok(resp.StreamNames.length <= 1, `ListStreams Limit=1 returned ${show(resp.StreamNames)}`);
    if (resp.StreamSummaries) {
      eq(resp.StreamSummaries.map((s) => s.StreamName), resp.StreamNames, "StreamSummaries match StreamNames");
    }
    seen.push(...resp.StreamNames);
    if (!resp.HasMoreStreams) break;
    ok(resp.NextToken, "HasMoreStreams is true, so NextToken is present");
    params = { Limit: 1, NextToken: resp.NextToken };
  }
  eq(new Set(seen).size, seen.length, "no stream listed twice");
  ok(createdStreams.every((n) => seen.includes(n)), `all created streams listed: ${show(seen)}`);
  const paged = [];
  for await (const page of paginateListStreams({ client, pageSize: 1 }, {})) paged.push(...page.StreamNames);
  eq([...paged].sort(), [...seen].sort(), "streams from paginateListStreams");

  step("ListShards with MaxResults=1 and NextToken");
  const allIds = (await listShards(stream)).map((s) => s.ShardId);
  const ids = [];
  params = { StreamName: stream, MaxResults: 1 };
  for (let i = 0; i < 100; i++) {
    const resp = await call(new ListShardsCommand(params));
    ok(resp.Shards.length <= 1, "ListShards MaxResults=1 returned at most one shard");
    ids.push(...resp.Shards.map((s) => s.ShardId));
    if (!resp.NextToken) break;
    // NextToken identifies the stream; AWS rejects StreamName beside it.
    params = { NextToken: resp.NextToken, MaxResults: 1 };
  }
  eq(ids, allIds, "shards seen one page at a time");

  step("DeleteStream and waitUntilStreamNotExists");
  for (const name of createdStreams) await call(new DeleteStreamCommand({ StreamName: name }));
  for (const name of createdStreams) await waitFor(waitUntilStreamNotExists, name);
  const left = (await call(new ListStreamsCommand({}))).StreamNames.filter((n) => createdStreams.includes(n));
  eq(left, [], "deleted streams still listed");

  step("Every call went over HTTP/2");
  ok(handler.requests >= sdkCalls, `${handler.requests} requests through NodeHttp2Handler for ${sdkCalls} SDK calls`);
}

const started = Date.now();
let failed = 0;
console.log(`${NAME}: endpoint ${endpoint} (h2c), node ${process.version}`);
try {
  await run();
} catch (e) {
  failed = 1;
  if (e instanceof ScenarioFailure) console.log(`FAIL ${e.message}`);
  else console.log(`FAIL [${currentStep}] ${e.name}: ${e.message}${e.$metadata ? ` (HTTP ${e.$metadata.httpStatusCode})` : ""}`);
} finally {
  client.destroy(); // closes the HTTP/2 sessions so the process can exit
}
console.log(`   (${((Date.now() - started) / 1000).toFixed(1)}s, ${throttled} throttled calls retried)`);
console.log(`${NAME}: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
