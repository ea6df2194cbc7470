package tributary;

import static tributary.Common.*;

import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.kinesis.model.*;

/**
 * The checks every part runs, on the sync or the async client: a missing stream and a
 * broken constraint answered as errors, the round trip, large bodies and many calls at once,
 * and the wire format and HTTP version of every call.
 */
final class StreamChecks {
  private StreamChecks() {}

  /**
   * CreateStream (2 shards), ACTIVE, ListShards, PutRecord x10, PutRecords x40 (two with an
   * ExplicitHashKey), read every shard from TRIM_HORIZON to its tip. Returns the stream's name.
   */
  static String roundTrip(Api api) throws Exception {
    String p = "[" + api.label + "] ";
    String stream = name("rt");
    api.createStream(CreateStreamRequest.builder().streamName(stream).shardCount(2).build());
    waitActive(api, stream);
    var summary = api.describeStreamSummary(stream).streamDescriptionSummary();
    check(summary.streamName().equals(stream) && summary.openShardCount() == 2
        && summary.streamARN().endsWith(":stream/" + stream),
        p + "DescribeStreamSummary: ACTIVE, 2 open shards, ARN " + summary.streamARN());
    Instant created = summary.streamCreationTimestamp();
    check(created != null && Math.abs(Duration.between(created, Instant.now()).toSeconds()) < 300,
        p + "StreamCreationTimestamp is now: " + created);

    List<Shard> shards = api.listShards(ListShardsRequest.builder().streamName(stream).build()).shards();
    check(shards.size() == 2 && shards.get(0).shardId().equals("shardId-000000000000")
        && shards.get(1).shardId().equals("shardId-000000000001")
        && shards.get(0).hashKeyRange().startingHashKey().equals("0")
        && new BigInteger(shards.get(1).hashKeyRange().endingHashKey()).equals(MAX_HASH)
        && new BigInteger(shards.get(0).hashKeyRange().endingHashKey()).add(BigInteger.ONE)
            .equals(new BigInteger(shards.get(1).hashKeyRange().startingHashKey())),
        p + "ListShards: two shards covering the hash key space");

    Map<String, List<Rec>> want = new TreeMap<>();
    int routed = 0;
    int n = 0;
    for (int i = 0; i < 10; i++, n++) {
      String key = "pk-" + i + "-" + RNG.nextInt(1000000);
      byte[] data = payload(n);
      var out = api.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key)
          .data(SdkBytes.fromByteArray(data)).build());
      if (out.shardId().equals(shardFor(shards, md5(key)))) {
        routed++;
      }
      want.computeIfAbsent(out.shardId(), k -> new ArrayList<>()).add(new Rec(out.shardId(), out.sequenceNumber(), key, data));
    }
    check(routed == 10, p + "PutRecord x10: each routed to the shard of MD5(partition key) (" + routed + "/10)");

    List<PutRecordsRequestEntry> entries = new ArrayList<>();
    List<Rec> sent = new ArrayList<>();
    List<BigInteger> hashes = new ArrayList<>();
    for (int i = 0; i < 40; i++, n++) {
      String key = "batch-" + i + "-" + RNG.nextInt(1000000);
      byte[] data = payload(n);
      var e = PutRecordsRequestEntry.builder().partitionKey(key).data(SdkBytes.fromByteArray(data));
      BigInteger hash = md5(key);
      // Two entries name their hash key: the first shard's lowest and the last shard's highest.
      if (i == 7) {
        e.explicitHashKey("0");
        hash = BigInteger.ZERO;
      } else if (i == 8) {
        e.explicitHashKey(MAX_HASH.toString());
        hash = MAX_HASH;
      }
      entries.add(e.build());
      hashes.add(hash);
      sent.add(new Rec(null, null, key, data));
    }
    var batch = api.putRecords(PutRecordsRequest.builder().streamName(stream).records(entries).build());
    check(batch.failedRecordCount() == 0 && batch.records().size() == 40,
        p + "PutRecords x40: FailedRecordCount " + batch.failedRecordCount() + ", " + batch.records().size() + " results");
    routed = 0;
    for (int i = 0; i < 40; i++) {
      var r = batch.records().get(i);
      if (r.shardId() != null && r.shardId().equals(shardFor(shards, hashes.get(i)))) {
        routed++;
      }
      Rec s = sent.get(i);
      want.computeIfAbsent(r.shardId(), k -> new ArrayList<>()).add(new Rec(r.shardId(), r.sequenceNumber(), s.key(), s.data()));
    }
    check(routed == 40, p + "PutRecords: each entry routed by MD5 or its ExplicitHashKey (" + routed + "/40)");
    check(batch.records().get(7).shardId().equals("shardId-000000000000")
        && batch.records().get(8).shardId().equals("shardId-000000000001"),
        p + "ExplicitHashKey 0 -> shard 0, 2^128-1 -> shard 1");
    check(want.size() == 2, p + "records landed in both shards: " + want.keySet());
    // Sequence numbers grow within a shard in the order the records were sent.
    boolean growing = true;
    for (List<Rec> l : want.values()) {
      for (int i = 1; i < l.size(); i++) {
        growing &= new BigInteger(l.get(i - 1).seq()).compareTo(new BigInteger(l.get(i).seq())) < 0;
      }
    }
    check(growing, p + "sequence numbers grow in sending order within each shard");

    Map<String, List<Rec>> got = new TreeMap<>();
    Map<String, Read> reads = new TreeMap<>();
    Instant before = Instant.now().minusSeconds(300);
    Instant after = Instant.now().plusSeconds(300);
    boolean stamped = true;
    for (Shard s : shards) {
      Read r = readShard(api, stream, s.shardId(), b -> b.shardIteratorType(ShardIteratorType.TRIM_HORIZON));
      reads.put(s.shardId(), r);
      got.put(s.shardId(), r.recs());
      for (Instant at : r.arrivals()) {
        stamped &= at != null && at.isAfter(before) && at.isBefore(after);
      }
    }
    checkExpected(want, got, p + "GetRecords from TRIM_HORIZON");
    check(stamped, p + "every record's ApproximateArrivalTimestamp is now");

    // The other starting positions, on the shard with more records. The SDK sends the
    // timestamp in its own encoding (CBOR or JSON): AT_TIMESTAMP at a record's own arrival
    // time (milliseconds) must start at the first record that arrived at or after it.
    String big = want.entrySet().stream().max((x, y) -> x.getValue().size() - y.getValue().size()).get().getKey();
    List<Rec> all = want.get(big);
    Read full = reads.get(big);
    int k = all.size() / 2;
    String seq = all.get(k).seq();
    Read at = readShard(api, stream, big, b -> b.shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER).startingSequenceNumber(seq));
    checkExpected(Map.of(big, all.subList(k, all.size())), Map.of(big, at.recs()), p + "AT_SEQUENCE_NUMBER #" + k);
    Read afterSeq = readShard(api, stream, big, b -> b.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER).startingSequenceNumber(seq));
    checkExpected(Map.of(big, all.subList(k + 1, all.size())), Map.of(big, afterSeq.recs()), p + "AFTER_SEQUENCE_NUMBER #" + k);
    // The latest record that arrived strictly after the one before it (a PutRecords batch
    // shares one arrival time), so that a timestamp off by a millisecond gives other records.
    List<Instant> arr = full.arrivals();
    int kt = 0;
    for (int i = 1; i < arr.size(); i++) {
      if (arr.get(i - 1).isBefore(arr.get(i))) {
        kt = i;
      }
    }
    Instant when = arr.get(kt);
    Read atTime = readShard(api, stream, big, b -> b.shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(when));
    checkExpected(Map.of(big, all.subList(kt, all.size())), Map.of(big, atTime.recs()),
        p + "AT_TIMESTAMP " + when + " (record #" + kt + " on)");
    Instant justAfter = when.plusMillis(1);
    int from = kt;
    while (from < arr.size() && !arr.get(from).isAfter(when)) {
      from++;
    }
    Read atTime2 = readShard(api, stream, big, b -> b.shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(justAfter));
    checkExpected(Map.of(big, all.subList(from, all.size())), Map.of(big, atTime2.recs()),
        p + "AT_TIMESTAMP " + justAfter + " (record #" + from + " on)");
    Read past = readShard(api, stream, big, b -> b.shardIteratorType(ShardIteratorType.AT_TIMESTAMP).timestamp(Instant.now().minusSeconds(3600)));
    checkExpected(Map.of(big, all), Map.of(big, past.recs()), p + "AT_TIMESTAMP an hour ago");
    String bad = "no error";
    try {
      api.getShardIterator(GetShardIteratorRequest.builder().streamName(stream).shardId(big)
          .shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER).startingSequenceNumber("12345").build());
    } catch (InvalidArgumentException e) {
      bad = e.statusCode() + " " + e.awsErrorDetails().errorCode();
    }
    check(bad.equals("400 InvalidArgumentException"), p + "a malformed sequence number is refused: " + bad);

    // ListShards one at a time, following NextToken.
    List<String> paged = new ArrayList<>();
    var page = api.listShards(ListShardsRequest.builder().streamName(stream).maxResults(1).build());
    paged.add(page.shards().get(0).shardId());
    for (int i = 0; i < 5 && page.nextToken() != null; i++) {
      String token = page.nextToken();
      page = api.listShards(ListShardsRequest.builder().nextToken(token).maxResults(1).build());
      page.shards().forEach(sh -> paged.add(sh.shardId()));
    }
    check(paged.equals(List.of("shardId-000000000000", "shardId-000000000001")),
        p + "ListShards MaxResults=1 following NextToken: " + paged);
    return stream;
  }

  /**
   * Large bodies and, on the async client, many calls at once (one HTTP/2 connection
   * multiplexes them): four records of 1 MiB in one PutRecords (4 MiB request), 150 PutRecord
   * calls in flight together, everything read back with GetRecords answers of several MiB.
   */
  static void bulk(Api api) throws Exception {
    String p = "[" + api.label + "] ";
    String stream = name("bulk");
    api.createStream(CreateStreamRequest.builder().streamName(stream).shardCount(2).build());
    waitActive(api, stream);
    Map<String, List<Rec>> want = new TreeMap<>();
    List<PutRecordsRequestEntry> big = new ArrayList<>();
    List<Rec> bigSent = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String key = "big-" + i;
      byte[] data = new byte[1024 * 1024 - key.length()]; // a record's limit: data + key <= 1 MiB
      RNG.nextBytes(data);
      big.add(PutRecordsRequestEntry.builder().partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
      bigSent.add(new Rec(null, null, key, data));
    }
    var out = api.putRecords(PutRecordsRequest.builder().streamName(stream).records(big).build());
    check(out.failedRecordCount() == 0, p + "PutRecords of 4 records of 1 MiB: FailedRecordCount " + out.failedRecordCount());
    for (int i = 0; i < 4; i++) {
      var r = out.records().get(i);
      want.computeIfAbsent(r.shardId(), k -> new ArrayList<>())
          .add(new Rec(r.shardId(), r.sequenceNumber(), bigSent.get(i).key(), bigSent.get(i).data()));
    }
    int many = api.async != null ? 150 : 0;
    if (many > 0) {
      List<CompletableFuture<PutRecordResponse>> inFlight = new ArrayList<>();
      List<Rec> sent = new ArrayList<>();
      for (int i = 0; i < many; i++) {
        String key = "many-" + i;
        byte[] data = payload(1 + i);
        sent.add(new Rec(null, null, key, data));
        inFlight.add(api.async.putRecord(PutRecordRequest.builder().streamName(stream).partitionKey(key)
            .data(SdkBytes.fromByteArray(data)).build()));
      }
      List<String> errors = new ArrayList<>();
      for (int i = 0; i < many; i++) {
        try {
          var r = inFlight.get(i).get(60, TimeUnit.SECONDS);
          want.computeIfAbsent(r.shardId(), k -> new ArrayList<>())
              .add(new Rec(r.shardId(), r.sequenceNumber(), sent.get(i).key(), sent.get(i).data()));
        } catch (ExecutionException e) {
          errors.add(String.valueOf(unwrap(e)));
        }
      }
      check(errors.isEmpty(), p + many + " PutRecord calls at once all succeed" + (errors.isEmpty() ? "" : ": " + errors.get(0)));
      // Sent concurrently: a shard's order is its sequence numbers' order.
      for (List<Rec> l : want.values()) {
        l.sort((x, y) -> new BigInteger(x.seq()).compareTo(new BigInteger(y.seq())));
      }
    }
    Map<String, List<Rec>> got = new TreeMap<>();
    for (String shard : List.of("shardId-000000000000", "shardId-000000000001")) {
      var it = api.getShardIterator(GetShardIteratorRequest.builder().streamName(stream).shardId(shard)
          .shardIteratorType(ShardIteratorType.TRIM_HORIZON).build()).shardIterator();
      List<Rec> recs = new ArrayList<>();
      for (int calls = 0; it != null && calls < 50; calls++) {
        var r = api.getRecords(GetRecordsRequest.builder().shardIterator(it).build());
        r.records().forEach(x -> recs.add(new Rec(shard, x.sequenceNumber(), x.partitionKey(), x.data().asByteArray())));
        it = r.nextShardIterator();
        if (r.records().isEmpty() && r.millisBehindLatest() == 0) {
          break;
        }
      }
      if (!recs.isEmpty()) {
        got.put(shard, recs);
      }
    }
    checkExpected(want, got, p + "GetRecords (no Limit) after the 1 MiB records" + (many > 0 ? " and the concurrent puts" : ""));
    api.deleteStream(stream);
  }

  static void missingStream(Api api) {
    String p = "[" + api.label + "] ";
    String missing = name("missing");
    String got = "no error";
    try {
      api.describeStreamSummary(missing);
    } catch (ResourceNotFoundException e) {
      got = e.statusCode() + " " + e.awsErrorDetails().errorCode() + ": " + e.awsErrorDetails().errorMessage();
    }
    check(got.startsWith("400 ResourceNotFoundException") && got.contains(missing),
        p + "a missing stream answers " + got);
    // A constraint of the model broken: AWS answers ValidationException ("1 validation error
    // detected: Value ... at 'partitionKey' failed to satisfy constraint: Member must have
    // length less than or equal to 256"); the SDK does not check lengths itself.
    String longKey = "k".repeat(257);
    String invalid = "no error";
    try {
      api.putRecord(PutRecordRequest.builder().streamName(missing).partitionKey(longKey).data(SdkBytes.fromUtf8String("x")).build());
    } catch (KinesisException e) {
      invalid = e.statusCode() + " " + e.awsErrorDetails().errorCode() + ": " + e.awsErrorDetails().errorMessage();
    }
    check(invalid.startsWith("400 ValidationException") && invalid.contains("partitionKey") && invalid.contains("256"),
        p + "a 257-character partition key answers " + invalid.replace(longKey, "k{257}"));
  }

  /**
   * Every request and response was in the format {@code want}, but SubscribeToShard: the SDK
   * sends it as JSON whatever aws.cborEnabled says, and its answer is an event stream. Every
   * call went over {@code version}.
   */
  static void checkWire(Api api, String want, String version) {
    List<String> bad = new ArrayList<>();
    int subscribes = 0;
    for (String t : api.wire.requestTypes) {
      boolean subscribe = t.startsWith("SubscribeToShard ");
      subscribes += subscribe ? 1 : 0;
      if (!t.endsWith(" " + (subscribe ? JSON : want))) {
        bad.add("request " + t);
      }
    }
    for (String t : api.wire.responseTypes) {
      boolean ok = t.startsWith("SubscribeToShard ")
          // An event stream, or an error in the request's format (JSON).
          ? t.contains(" application/vnd.amazon.eventstream") || t.contains(" " + JSON)
          : t.contains(" " + want);
      if (!ok) {
        bad.add("response " + t);
      }
    }
    check(bad.isEmpty() && !api.wire.requestTypes.isEmpty(), "[" + api.label + "] all "
        + api.wire.requestTypes.size() + " requests and responses were " + want
        + (subscribes > 0 ? " (SubscribeToShard: JSON request, event-stream or JSON error answer)" : "") + " " + bad);
    List<String> versions = new ArrayList<>(api.wire.versions);
    long other = versions.stream().filter(v -> !v.equals(version)).count();
    check(other == 0 && versions.size() + 2 >= api.wire.requestTypes.size(), "[" + api.label + "] "
        + versions.size() + " calls' metrics, all over " + version + (other == 0 ? "" : ": " + versions));
  }
}
