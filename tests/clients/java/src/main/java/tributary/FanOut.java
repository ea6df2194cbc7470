package tributary;

import static tributary.Common.*;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.*;

/**
 * Enhanced fan-out, parts 2 and 3 (the async client): SubscribeToShard refused, taken over,
 * and ended by a SplitShard.
 */
final class FanOut {
  private FanOut() {}

  /** One SubscribeToShard call: its events, the records they carried, how it ended. */
  static final class Sub {
    final List<SubscribeToShardEvent> events = new CopyOnWriteArrayList<>();
    final List<String> others = new CopyOnWriteArrayList<>();
    final List<Rec> got = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done;

    static Sub start(KinesisAsyncClient c, String consumerArn, String shard,
        java.util.function.Consumer<StartingPosition.Builder> position) {
      Sub s = new Sub();
      var handler = SubscribeToShardResponseHandler.builder()
          .subscriber(SubscribeToShardResponseHandler.Visitor.builder()
              .onSubscribeToShardEvent(e -> {
                s.events.add(e);
                for (var r : e.records()) {
                  s.got.add(new Rec(shard, r.sequenceNumber(), r.partitionKey(), r.data().asByteArray()));
                }
              })
              .onDefault(e -> s.others.add(String.valueOf(e)))
              .build())
          .build();
      s.done = c.subscribeToShard(b -> b.consumerARN(consumerArn).shardId(shard).startingPosition(position), handler);
      return s;
    }

    /** "completed", "failed: STATUS CODE" for a service error, "failed: ..." else. */
    String end(int seconds) {
      try {
        done.get(seconds, TimeUnit.SECONDS);
        return "completed";
      } catch (ExecutionException e) {
        Throwable u = unwrap(e);
        if (u instanceof AwsServiceException a && a.awsErrorDetails() != null) {
          return "failed: " + a.statusCode() + " " + a.awsErrorDetails().errorCode();
        }
        return "failed: " + u;
      } catch (java.util.concurrent.TimeoutException e) {
        return "still running after " + seconds + " s";
      } catch (InterruptedException e) {
        throw new RuntimeException(e);
      }
    }
  }

  /**
   * A one-shard stream and a consumer; records written before and while subscribed from
   * TRIM_HORIZON are pushed exactly as sent; a second subscription at once is refused, one 5 s
   * later takes over from the last ContinuationSequenceNumber; then SplitShard: the last
   * event names the two children, and GetRecords on the parent ends with them too.
   */
  static void fanOut(Api api) throws Exception {
    String p = "[" + api.label + "] ";
    KinesisAsyncClient c = api.async;
    String stream = name("efo");
    api.createStream(CreateStreamRequest.builder().streamName(stream).shardCount(1).build());
    waitActive(api, stream);
    String arn = api.describeStreamSummary(stream).streamDescriptionSummary().streamARN();
    var consumer = c.registerStreamConsumer(b -> b.streamARN(arn).consumerName("java-reader")).get(30, TimeUnit.SECONDS).consumer();
    String consumerArn = consumer.consumerARN();
    check(consumerArn.startsWith(arn + "/consumer/java-reader:"), p + "RegisterStreamConsumer: " + consumerArn);
    for (int i = 0; i < 300; i++) {
      var d = c.describeStreamConsumer(b -> b.consumerARN(consumerArn)).get(30, TimeUnit.SECONDS).consumerDescription();
      if (d.consumerStatus() == ConsumerStatus.ACTIVE) {
        break;
      }
      sleep(100);
    }

    var listed = c.listStreamConsumers(b -> b.streamARN(arn)).get(30, TimeUnit.SECONDS).consumers();
    var described = c.describeStreamConsumer(b -> b.streamARN(arn).consumerName("java-reader")).get(30, TimeUnit.SECONDS).consumerDescription();
    check(listed.size() == 1 && listed.get(0).consumerARN().equals(consumerArn) && listed.get(0).consumerStatus() == ConsumerStatus.ACTIVE
        && Math.abs(Duration.between(listed.get(0).consumerCreationTimestamp(), Instant.now()).toSeconds()) < 300
        && described.consumerARN().equals(consumerArn) && described.streamARN().equals(arn)
        && described.consumerCreationTimestamp().equals(listed.get(0).consumerCreationTimestamp()),
        p + "ListStreamConsumers and DescribeStreamConsumer (by name): ACTIVE, created " + described.consumerCreationTimestamp());

    String shard = "shardId-000000000000";
    List<Rec> want = new ArrayList<>();
    int n = 0;
    for (int i = 0; i < 10; i++, n++) {
      String key = "efo-" + i;
      byte[] data = payload(n);
      var out = api.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
      want.add(new Rec(out.shardId(), out.sequenceNumber(), key, data));
    }

    long t0 = System.nanoTime();
    Sub sub = Sub.start(c, consumerArn, shard, sp -> sp.type(ShardIteratorType.TRIM_HORIZON));
    for (int i = 0; i < 300 && sub.events.isEmpty() && !sub.done.isDone(); i++) {
      sleep(20);
    }
    // A second subscription of the same consumer to the same shard within 5 s of the first
    // is refused (ResourceInUseException, in the HTTP answer before any event). AWS: "If you
    // call SubscribeToShard again with the same ConsumerARN and ShardId within 5 seconds of a
    // successful call, you'll get a ResourceInUseException" (SubscribeToShard, API reference).
    double early = (System.nanoTime() - t0) / 1e9;
    Sub refused = Sub.start(c, consumerArn, shard, sp -> sp.type(ShardIteratorType.LATEST));
    String second = refused.end(30);
    if (early < 4) {
      check(second.equals("failed: 400 ResourceInUseException") && !sub.done.isDone(),
          p + String.format("a second SubscribeToShard %.1f s after the first: %s", early, second));
    } else {
      System.out.printf("(the machine is slow: the first event took %.1f s, the second subscription may take over)%n", early);
    }

    // Ten more while subscribed: pushed as they arrive.
    for (int i = 10; i < 20; i++, n++) {
      String key = "efo-" + i;
      byte[] data = payload(n);
      var out = api.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
      want.add(new Rec(out.shardId(), out.sequenceNumber(), key, data));
    }
    // And three of 1 MiB: each pushed event then carries megabytes (base64 in JSON).
    for (int i = 20; i < 23; i++) {
      String key = "efo-big-" + i;
      byte[] data = new byte[1024 * 1024 - key.length()];
      RNG.nextBytes(data);
      var out = api.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
      want.add(new Rec(out.shardId(), out.sequenceNumber(), key, data));
    }
    for (int i = 0; i < 300 && sub.got.size() < want.size() && !sub.done.isDone(); i++) {
      sleep(100);
    }
    checkExpected(Map.of(shard, want), Map.of(shard, new ArrayList<>(sub.got)), p + "SubscribeToShard");

    // 5 s after the first, a new subscription takes over from after the last pushed
    // record; the first one ends (AWS: "the second call takes over the subscription and the
    // previous connection expires or fails with a ResourceInUseException").
    long wait = 5500 - (System.nanoTime() - t0) / 1_000_000;
    if (wait > 0) {
      sleep(wait);
    }
    String cont = sub.events.get(sub.events.size() - 1).continuationSequenceNumber();
    Sub next = Sub.start(c, consumerArn, shard, sp -> sp.type(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(cont));
    String firstEnd = sub.end(30);
    check(firstEnd.equals("completed") || firstEnd.equals("failed: 400 ResourceInUseException"),
        p + "a SubscribeToShard 5 s later takes over: the first subscription " + firstEnd);
    List<Rec> more = new ArrayList<>();
    for (int i = 0; i < 2; i++, n++) {
      String key = "efo-next-" + i;
      byte[] data = payload(n);
      var out = api.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
      more.add(new Rec(out.shardId(), out.sequenceNumber(), key, data));
    }
    want.addAll(more);
    for (int i = 0; i < 300 && next.got.size() < more.size() && !next.done.isDone(); i++) {
      sleep(100);
    }
    checkExpected(Map.of(shard, more), Map.of(shard, new ArrayList<>(next.got)),
        p + "the new subscription from AFTER_SEQUENCE_NUMBER the last ContinuationSequenceNumber");

    // Split at the middle of the hash key space while subscribed.
    String mid = BigInteger.ONE.shiftLeft(127).toString();
    c.splitShard(b -> b.streamName(stream).shardToSplit(shard).newStartingHashKey(mid)).get(30, TimeUnit.SECONDS);
    String ended = next.end(30);
    check(ended.equals("completed"), p + "the subscription ends after the split: " + ended);
    check(sub.others.isEmpty() && next.others.isEmpty(), p + "only SubscribeToShardEvent events: " + sub.others + next.others);
    SubscribeToShardEvent last = next.events.isEmpty() ? null : next.events.get(next.events.size() - 1);
    List<String> children = new ArrayList<>();
    if (last != null && last.hasChildShards()) {
      for (ChildShard ch : last.childShards()) {
        children.add(ch.shardId() + "<-" + ch.parentShards() + "@" + ch.hashKeyRange().startingHashKey());
      }
    }
    Collections.sort(children);
    check(children.equals(List.of("shardId-000000000001<-[shardId-000000000000]@0",
        "shardId-000000000002<-[shardId-000000000000]@" + mid)),
        p + "the last event's ChildShards name both children: " + children);
    check(last != null && last.continuationSequenceNumber() == null,
        p + "the last event has no ContinuationSequenceNumber (shard end): "
            + (last == null ? "no event" : last.continuationSequenceNumber()));
    // The closed parent read with GetRecords: everything, then no NextShardIterator and the
    // children in the last answer.
    Read parent = readShard(api, stream, shard, b -> b.shardIteratorType(ShardIteratorType.TRIM_HORIZON));
    checkExpected(Map.of(shard, want), Map.of(shard, parent.recs()), p + "GetRecords on the split parent");
    List<String> kids = new ArrayList<>();
    if (parent.last() != null && parent.last().hasChildShards()) {
      parent.last().childShards().forEach(ch -> kids.add(ch.shardId()));
    }
    Collections.sort(kids);
    check(parent.last() != null && parent.last().nextShardIterator() == null
        && kids.equals(List.of("shardId-000000000001", "shardId-000000000002")),
        p + "the parent's last GetRecords: no NextShardIterator, ChildShards " + kids);
    c.deregisterStreamConsumer(b -> b.consumerARN(consumerArn)).get(30, TimeUnit.SECONDS);
    api.deleteStream(stream);
  }
}
