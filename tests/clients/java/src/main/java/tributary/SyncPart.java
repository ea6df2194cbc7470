package tributary;

import static tributary.Common.*;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.*;

/**
 * The checks only part 1 runs, on the sync client: the rest of the stream API, tags and
 * delete, and a wrong secret refused.
 */
final class SyncPart {
  private SyncPart() {}

  /**
   * The rest of the stream API through the sync client, for the shapes of its answers in the
   * part's format: on-demand streams created with tags, tags by ARN, DescribeStream,
   * retention, enhanced monitoring, ListStreams summaries, encryption with the built-in key
   * service, UpdateShardCount, MergeShards, ShardFilter, SequenceNumberForOrdering,
   * DescribeLimits.
   */
  static void shapes(Api api) throws Exception {
    String p = "[" + api.label + "] ";
    KinesisClient c = api.sync;
    String od = name("ondemand");
    c.createStream(b -> b.streamName(od).streamModeDetails(m -> m.streamMode(StreamMode.ON_DEMAND))
        .tags(Map.of("made-by", "java", "part", api.label)));
    waitActive(api, od);
    var ods = c.describeStreamSummary(b -> b.streamName(od)).streamDescriptionSummary();
    check(ods.streamModeDetails().streamMode() == StreamMode.ON_DEMAND && ods.openShardCount() > 0,
        p + "CreateStream ON_DEMAND: mode " + ods.streamModeDetails().streamMode() + ", " + ods.openShardCount() + " open shards");
    String odArn = ods.streamARN();
    Map<String, String> tags = new TreeMap<>();
    c.listTagsForResource(b -> b.resourceARN(odArn)).tags().forEach(t -> tags.put(t.key(), t.value()));
    check(tags.equals(new TreeMap<>(Map.of("made-by", "java", "part", api.label))), p + "CreateStream's Tags, by ListTagsForResource: " + tags);
    c.tagResource(b -> b.resourceARN(odArn).tags(Map.of("extra", "1")));
    c.untagResource(b -> b.resourceARN(odArn).tagKeys("made-by"));
    Map<String, String> tags2 = new TreeMap<>();
    c.listTagsForResource(b -> b.resourceARN(odArn)).tags().forEach(t -> tags2.put(t.key(), t.value()));
    check(tags2.equals(new TreeMap<>(Map.of("extra", "1", "part", api.label))), p + "TagResource + UntagResource by ARN: " + tags2);

    String st = name("shapes");
    c.createStream(b -> b.streamName(st).shardCount(2));
    waitActive(api, st);
    var d = c.describeStream(b -> b.streamName(st)).streamDescription();
    check(d.shards().size() == 2 && d.shards().get(0).sequenceNumberRange().startingSequenceNumber() != null
        && d.shards().get(0).sequenceNumberRange().endingSequenceNumber() == null
        && d.retentionPeriodHours() == 24 && d.encryptionType() == EncryptionType.NONE && !d.hasMoreShards()
        && d.enhancedMonitoring().size() == 1 && d.enhancedMonitoring().get(0).shardLevelMetrics().isEmpty()
        && d.streamModeDetails().streamMode() == StreamMode.PROVISIONED,
        p + "DescribeStream: 2 open shards, 24 h, NONE, no shard-level metrics, PROVISIONED");

    c.increaseStreamRetentionPeriod(b -> b.streamName(st).retentionPeriodHours(48));
    waitActive(api, st);
    int r48 = c.describeStreamSummary(b -> b.streamName(st)).streamDescriptionSummary().retentionPeriodHours();
    c.decreaseStreamRetentionPeriod(b -> b.streamName(st).retentionPeriodHours(24));
    waitActive(api, st);
    int r24 = c.describeStreamSummary(b -> b.streamName(st)).streamDescriptionSummary().retentionPeriodHours();
    check(r48 == 48 && r24 == 24, p + "retention 24 -> " + r48 + " -> " + r24);

    var em = c.enableEnhancedMonitoring(b -> b.streamName(st).shardLevelMetrics(MetricsName.INCOMING_BYTES, MetricsName.OUTGOING_RECORDS));
    check(em.currentShardLevelMetrics().isEmpty()
        && new java.util.TreeSet<>(em.desiredShardLevelMetricsAsStrings()).equals(new java.util.TreeSet<>(List.of("IncomingBytes", "OutgoingRecords"))),
        p + "EnableEnhancedMonitoring: current " + em.currentShardLevelMetricsAsStrings() + ", desired " + em.desiredShardLevelMetricsAsStrings());
    waitActive(api, st);
    var dm = c.disableEnhancedMonitoring(b -> b.streamName(st).shardLevelMetrics(MetricsName.ALL));
    check(dm.desiredShardLevelMetrics().isEmpty() && dm.currentShardLevelMetrics().size() == 2,
        p + "DisableEnhancedMonitoring ALL: current " + dm.currentShardLevelMetricsAsStrings() + ", desired " + dm.desiredShardLevelMetricsAsStrings());
    waitActive(api, st);

    // ListStreams one at a time, following NextToken, until both streams were seen.
    Map<String, StreamSummary> seen = new HashMap<>();
    var ls = c.listStreams(b -> b.limit(1));
    for (int i = 0; i < 100; i++) {
      ls.streamSummaries().forEach(x -> seen.put(x.streamName(), x));
      if (!ls.hasMoreStreams()) {
        break;
      }
      String token = ls.nextToken();
      ls = c.listStreams(b -> b.nextToken(token).limit(1));
    }
    StreamSummary sum = seen.get(st);
    check(sum != null && seen.containsKey(od) && sum.streamARN().endsWith("/" + st) && sum.streamStatus() == StreamStatus.ACTIVE
        && sum.streamCreationTimestamp() != null && Math.abs(Duration.between(sum.streamCreationTimestamp(), Instant.now()).toSeconds()) < 300
        && seen.get(od).streamModeDetails().streamMode() == StreamMode.ON_DEMAND,
        p + "ListStreams Limit=1 following NextToken: both streams, with ARN, status, mode and creation time");

    // Encryption at rest with the built-in key service's alias/aws/kinesis.
    c.startStreamEncryption(b -> b.streamName(st).encryptionType(EncryptionType.KMS).keyId("alias/aws/kinesis"));
    waitActive(api, st);
    var es = c.describeStreamSummary(b -> b.streamName(st)).streamDescriptionSummary();
    check(es.encryptionType() == EncryptionType.KMS && "alias/aws/kinesis".equals(es.keyId()),
        p + "StartStreamEncryption: " + es.encryptionType() + " with " + es.keyId());
    byte[] secret = "encrypted at rest".getBytes(StandardCharsets.UTF_8);
    var put1 = c.putRecord(b -> b.streamName(st).partitionKey("enc").data(SdkBytes.fromByteArray(secret)));
    check(put1.encryptionType() == EncryptionType.KMS, p + "PutRecord on the encrypted stream answers EncryptionType " + put1.encryptionType());
    var put2 = c.putRecord(b -> b.streamName(st).partitionKey("enc").data(SdkBytes.fromUtf8String("second"))
        .sequenceNumberForOrdering(put1.sequenceNumber()));
    check(put2.shardId().equals(put1.shardId()) && new BigInteger(put2.sequenceNumber()).compareTo(new BigInteger(put1.sequenceNumber())) > 0,
        p + "SequenceNumberForOrdering: the next record's sequence number is greater");
    String it = c.getShardIterator(b -> b.streamName(st).shardId(put1.shardId()).shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER)
        .startingSequenceNumber(put1.sequenceNumber())).shardIterator();
    var recs = c.getRecords(b -> b.shardIterator(it)).records();
    check(recs.size() == 2 && Arrays.equals(recs.get(0).data().asByteArray(), secret) && recs.get(0).encryptionType() == EncryptionType.KMS
        && recs.get(1).data().asUtf8String().equals("second"),
        p + "GetRecords decrypts: " + recs.size() + " records, EncryptionType " + (recs.isEmpty() ? "-" : recs.get(0).encryptionType()));
    c.stopStreamEncryption(b -> b.streamName(st).encryptionType(EncryptionType.KMS).keyId("alias/aws/kinesis"));
    waitActive(api, st);

    var us = c.updateShardCount(b -> b.streamName(st).targetShardCount(4).scalingType(ScalingType.UNIFORM_SCALING));
    check(us.currentShardCount() == 2 && us.targetShardCount() == 4 && us.streamName().equals(st),
        p + "UpdateShardCount 2 -> " + us.targetShardCount());
    waitActive(api, st);
    var open = c.listShards(b -> b.streamName(st).shardFilter(f -> f.type(ShardFilterType.AT_LATEST))).shards();
    var every = c.listShards(b -> b.streamName(st)).shards();
    check(open.size() == 4 && every.size() > 4 && open.stream().allMatch(x -> x.sequenceNumberRange().endingSequenceNumber() == null),
        p + "ListShards AT_LATEST: " + open.size() + " open shards of " + every.size());
    String a0 = open.get(0).shardId();
    String a1 = open.get(1).shardId();
    c.mergeShards(b -> b.streamName(st).shardToMerge(a0).adjacentShardToMerge(a1));
    waitActive(api, st);
    var merged = c.listShards(b -> b.streamName(st).shardFilter(f -> f.type(ShardFilterType.AT_LATEST))).shards();
    Shard child = merged.stream().filter(x -> a0.equals(x.parentShardId())).findFirst().orElse(null);
    check(merged.size() == 3 && child != null && a1.equals(child.adjacentParentShardId())
        && child.hashKeyRange().startingHashKey().equals(open.get(0).hashKeyRange().startingHashKey())
        && child.hashKeyRange().endingHashKey().equals(open.get(1).hashKeyRange().endingHashKey()),
        p + "MergeShards " + a0 + " + " + a1 + " -> " + (child == null ? "no child" : child.shardId()) + ", 3 open shards");

    var lim = c.describeLimits();
    check(lim.shardLimit() != null && lim.shardLimit() > 0 && lim.openShardCount() != null && lim.openShardCount() >= 3
        && lim.onDemandStreamCount() != null && lim.onDemandStreamCount() >= 1,
        p + "DescribeLimits: " + lim.shardLimit() + " shards allowed, " + lim.openShardCount() + " open, "
            + lim.onDemandStreamCount() + " on-demand streams");
    c.deleteStream(b -> b.streamName(st));
    c.deleteStream(b -> b.streamName(od));
  }

  static void tagsAndDelete(Api api, String stream) {
    String p = "[" + api.label + "] ";
    api.addTagsToStream(AddTagsToStreamRequest.builder().streamName(stream)
        .tags(Map.of("team", "streams", "cost-center", "42", "empty", "")).build());
    var tags = api.listTagsForStream(ListTagsForStreamRequest.builder().streamName(stream).build());
    Map<String, String> got = new TreeMap<>();
    tags.tags().forEach(t -> got.put(t.key(), t.value()));
    check(got.equals(new TreeMap<>(Map.of("team", "streams", "cost-center", "42", "empty", "")))
        && !tags.hasMoreTags(), p + "AddTagsToStream then ListTagsForStream: " + got);
    api.deleteStream(stream);
    String gone = null;
    for (int i = 0; i < 300 && gone == null; i++) {
      try {
        api.describeStreamSummary(stream);
        sleep(100);
      } catch (ResourceNotFoundException e) {
        gone = e.awsErrorDetails().errorCode() + ": " + e.awsErrorDetails().errorMessage();
      }
    }
    check(gone != null && gone.startsWith("ResourceNotFoundException") && gone.contains(stream),
        p + "DeleteStream: the stream is gone (" + gone + ")");
  }

  static void wrongSecretRefused(String endpoint) {
    var wire = new WireLog();
    try (KinesisClient c = syncClient(endpoint, "not-the-secret", wire)) {
      String got = "no error";
      try {
        c.listStreams();
      } catch (KinesisException e) {
        got = e.statusCode() + " " + e.awsErrorDetails().errorCode();
      }
      check(got.startsWith("400 ") && got.contains("Signature"),
          "[sync, wrong secret] the server verifies signatures: " + got);
    }
  }
}
