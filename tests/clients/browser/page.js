// The code that runs inside the browser page (bundled by run.mjs with esbuild
// for platform "browser", so the SDK takes its browser paths: fetch, Web Crypto,
// no user-agent header but x-amz-user-agent). Tributary is on another port than
// the page, so every call is a cross-origin fetch: it needs Tributary's answer
// to the CORS preflight, and the SDK can read x-amzn-RequestId only if the
// response exposes it (Access-Control-Expose-Headers).
//
// The page reads Tributary's URL from ?endpoint=, runs the story once, and
// leaves the outcome in window.__tributary = { done, ok, passed, steps, calls,
// error }
// for run.mjs, which asserts on it.

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from "@aws-sdk/client-kinesis";

const state = { done: false, ok: false, passed: 0, steps: [], calls: [], error: null };
window.__tributary = state;

class Failure extends Error {}

function check(cond, step, what) {
  if (!cond) throw new Failure(`[${step}] ${what}`);
  state.passed += 1;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every call goes through here so that run.mjs can match what the SDK could
// read from each response ($metadata) against what went over the wire.
async function call(client, command, label) {
  try {
    const out = await client.send(command);
    state.calls.push({ label, status: out.$metadata.httpStatusCode, ...ids(out.$metadata) });
    return out;
  } catch (err) {
    const meta = err.$metadata || {};
    state.calls.push({ label, status: meta.httpStatusCode, error: err.name, ...ids(meta) });
    throw err;
  }
}

function ids(meta) {
  return { requestId: meta.requestId ?? null, extendedRequestId: meta.extendedRequestId ?? null };
}

async function expectError(client, command, label, name) {
  try {
    await call(client, command, label);
  } catch (err) {
    check(err.name === name, label, `expected ${name}, got ${err.name}: ${err.message}`);
    return err;
  }
  throw new Failure(`[${label}] expected ${name}, the call succeeded`);
}

function bytes(text) {
  return new TextEncoder().encode(text);
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function story(endpoint) {
  const client = new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    // One attempt: a refused preflight must surface, not be retried away.
    maxAttempts: 1,
    requestHandler: { requestTimeout: 5000 },
  });
  const stream = `browser-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

  // An error answer must carry CORS headers too, or fetch sees only a
  // network error and the SDK cannot name the exception.
  await expectError(
    client,
    new DescribeStreamSummaryCommand({ StreamName: stream }),
    "describe-missing",
    "ResourceNotFoundException",
  );
  state.steps.push("describe-missing");

  await call(client, new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }), "create");
  state.steps.push("create");

  let status = "";
  for (let i = 0; i < 100 && status !== "ACTIVE"; i++) {
    if (i > 0) await sleep(100);
    const d = await call(client, new DescribeStreamSummaryCommand({ StreamName: stream }), "describe");
    status = d.StreamDescriptionSummary.StreamStatus;
  }
  check(status === "ACTIVE", "wait-active", `stream still ${status} after 10 s`);
  state.steps.push("active");

  // Every byte value, so that a text re-encoding anywhere would show.
  const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const put = [
    { PartitionKey: "pk-single", Data: bytes("hello from the browser") },
    { PartitionKey: "pk-all-bytes", Data: allBytes },
    { PartitionKey: "pk-batch-0", Data: bytes("batch record 0") },
    { PartitionKey: "pk-batch-1", Data: bytes("batch record 1 \u00e9\u4e2d") },
    { PartitionKey: "pk-batch-2", Data: bytes("batch record 2") },
  ];
  const sequenceNumbers = [];
  for (const r of put.slice(0, 2)) {
    const out = await call(client, new PutRecordCommand({ StreamName: stream, ...r }), "put-record");
    check(out.ShardId === "shardId-000000000000", "put-record", `ShardId ${out.ShardId}`);
    check(/^[0-9]+$/.test(out.SequenceNumber), "put-record", `SequenceNumber ${out.SequenceNumber}`);
    sequenceNumbers.push(out.SequenceNumber);
  }
  const batch = await call(
    client,
    new PutRecordsCommand({ StreamName: stream, Records: put.slice(2) }),
    "put-records",
  );
  check(batch.FailedRecordCount === 0, "put-records", `FailedRecordCount ${batch.FailedRecordCount}`);
  check(batch.Records.length === 3, "put-records", `${batch.Records.length} results for 3 records`);
  for (const r of batch.Records) {
    check(!r.ErrorCode, "put-records", `record failed: ${r.ErrorCode} ${r.ErrorMessage}`);
    sequenceNumbers.push(r.SequenceNumber);
  }
  state.steps.push("put");

  const it = await call(
    client,
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: "shardId-000000000000",
      ShardIteratorType: "TRIM_HORIZON",
    }),
    "get-shard-iterator",
  );
  check(typeof it.ShardIterator === "string" && it.ShardIterator.length > 0, "get-shard-iterator", "no ShardIterator");

  // Read until all five are back or the shard has nothing more for us.
  const got = [];
  let iterator = it.ShardIterator;
  for (let i = 0; i < 20 && got.length < put.length && iterator; i++) {
    const out = await call(client, new GetRecordsCommand({ ShardIterator: iterator }), "get-records");
    got.push(...out.Records);
    iterator = out.NextShardIterator;
    if (out.Records.length === 0) await sleep(50);
  }
  check(got.length === put.length, "get-records", `read ${got.length} records, put ${put.length}`);
  got.forEach((r, i) => {
    const want = put[i];
    check(r.PartitionKey === want.PartitionKey, "get-records", `record ${i}: PartitionKey ${r.PartitionKey}, put ${want.PartitionKey}`);
    check(r.SequenceNumber === sequenceNumbers[i], "get-records", `record ${i}: SequenceNumber ${r.SequenceNumber}, put returned ${sequenceNumbers[i]}`);
    check(r.Data instanceof Uint8Array, "get-records", `record ${i}: Data is not bytes`);
    check(sameBytes(r.Data, want.Data), "get-records", `record ${i}: Data ${hex(r.Data)}, put ${hex(want.Data)}`);
    check(r.ApproximateArrivalTimestamp instanceof Date, "get-records", `record ${i}: no ApproximateArrivalTimestamp`);
  });
  state.steps.push("read-back");

  await call(client, new DeleteStreamCommand({ StreamName: stream }), "delete");
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    if (i > 0) await sleep(100);
    try {
      await call(client, new DescribeStreamSummaryCommand({ StreamName: stream }), "describe-deleting");
    } catch (err) {
      check(err.name === "ResourceNotFoundException", "delete", `${err.name}: ${err.message}`);
      gone = true;
    }
  }
  check(gone, "delete", "stream still there 10 s after DeleteStream");
  state.steps.push("deleted");
}

const endpoint = new URLSearchParams(location.search).get("endpoint");
story(endpoint).then(
  () => {
    state.ok = true;
    state.done = true;
  },
  (err) => {
    // A CORS refusal reaches the SDK as fetch's TypeError ("Failed to fetch").
    state.error = `${err.name}: ${err.message}`;
    state.done = true;
  },
);
