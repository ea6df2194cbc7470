#!/usr/bin/env node
// Enhanced fan-out with the AWS SDK for JavaScript v3 over HTTP/2 cleartext: register a
// consumer, SubscribeToShard from LATEST, write records and check they are pushed in order,
// then resubscribe after the last ContinuationSequenceNumber with no gap or repeat.
// Usage: node efo.mjs ENDPOINT. Last line: "node-efo: N passed, M failed".

import { randomUUID } from "node:crypto";
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

// The pinned SDK warns at client creation that later releases will need Node 22 (the same
// variable as scenario.mjs: @aws-sdk/core reads it, and only the value "true" counts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
let passed = 0;
function check(cond, what) {
  if (!cond) throw new Error(what);
  passed += 1;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main(endpoint) {
  const client = new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    requestHandler: new NodeHttp2Handler({ sessionTimeout: 30000 }),
    maxAttempts: 1,
  });
  const stream = `node-efo-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  const arn = summary.StreamDescriptionSummary.StreamARN;
  const { Consumer } = await client.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: "js-reader" }));
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: Consumer.ConsumerARN }));
    if (d.ConsumerDescription.ConsumerStatus === "ACTIVE") break;
    await sleep(100);
  }
  const shard = "shardId-000000000000";
  const sub = await client.send(
    new SubscribeToShardCommand({ ConsumerARN: Consumer.ConsumerARN, ShardId: shard, StartingPosition: { Type: "LATEST" } }),
  );
  const writer = (async () => {
    for (let i = 0; i < 25; i++) {
      await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "k", Data: Buffer.from(`m${i}`) }));
    }
  })();
  const got = [];
  let cont;
  for await (const ev of sub.EventStream) {
    if (!ev.SubscribeToShardEvent) throw new Error(`unexpected event ${JSON.stringify(ev)}`);
    for (const r of ev.SubscribeToShardEvent.Records) got.push(Buffer.from(r.Data).toString());
    cont = ev.SubscribeToShardEvent.ContinuationSequenceNumber;
    if (got.length >= 25) break;
  }
  await writer;
  check(got.join(",") === Array.from({ length: 25 }, (_, i) => `m${i}`).join(","), `pushed in order: ${got}`);

  await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "k", Data: Buffer.from("after") }));
  let again;
  for (let i = 0; i < 50 && !again; i++) {
    try {
      again = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: Consumer.ConsumerARN,
          ShardId: shard,
          StartingPosition: { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: cont },
        }),
      );
    } catch (e) {
      if (e.name !== "ResourceInUseException") throw e;
      await sleep(100);
    }
  }
  const next = [];
  for await (const ev of again.EventStream) {
    for (const r of ev.SubscribeToShardEvent?.Records ?? []) next.push(Buffer.from(r.Data).toString());
    if (next.length) break;
  }
  check(next.join(",") === "after", `resubscribe continues with no gap or repeat: ${next}`);
  await client.send(new DeleteStreamCommand({ StreamName: stream, EnforceConsumerDeletion: true }));
  client.destroy();
  console.log(`node-efo: ${passed} passed, 0 failed`);
}

main(process.argv[2] ?? process.env.TRIBUTARY_ENDPOINT).catch((e) => {
  console.log(`FAIL ${e.message}`);
  console.log(`node-efo: ${passed} passed, 1 failed`);
  process.exit(1);
});
