package tributary;

import java.io.FileInputStream;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.http.Http2Metric;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.metrics.MetricCollection;
import software.amazon.awssdk.metrics.MetricPublisher;
import software.amazon.awssdk.http.ProtocolNegotiation;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.*;

/**
 * The AWS SDK for Java v2 driving Tributary.
 *
 * <p>Usage: {@code Scenario ENDPOINT [TLS_ENDPOINT CA_PEM]}. ENDPOINT is a cleartext server
 * (http://127.0.0.1:PORT) that verifies signatures made with AKIDEXAMPLE/secret; TLS_ENDPOINT
 * (https://localhost:PORT) a TLS server with the same key whose certificate CA_PEM signed.
 *
 * <ol>
 *   <li>sync client (Apache, HTTP/1.1), CBOR on, then CBOR off (aws.cborEnabled=false; the
 *       environment variable would be CBOR_ENABLED=false): errors, the round trip, tags,
 *       delete, 1 MiB records, the rest of the stream API; a wrong secret refused;
 *   <li>async client (Netty, HTTP/2 prior knowledge on http://): errors, the round trip, 1 MiB
 *       records and 150 calls at once, then enhanced fan-out with SubscribeToShard (refused,
 *       taken over, ended by a SplitShard);
 *   <li>the async client over TLS (h2 by ALPN): the same as part 2.
 * </ol>
 *
 * One line per check; the last line is "java: N checks passed". Exits 1 at the first failure.
 */
public final class Scenario {
  static final String KEY = "AKIDEXAMPLE";
  static final String SECRET = "secret";
  static final Region REGION = Region.US_EAST_1;
  static final String CBOR = "application/x-amz-cbor-1.1";
  static final String JSON = "application/x-amz-json-1.1";
  static final BigInteger MAX_HASH = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);

  static int passed = 0;
  static final long SEED = Long.getLong("scenario.seed", System.nanoTime());
  static final Random RNG = new Random(SEED);

  static void check(boolean cond, String what) {
    if (!cond) {
      throw new CheckFailed(what);
    }
    passed++;
    System.out.println("ok " + passed + " " + what);
  }

  static final class CheckFailed extends RuntimeException {
    CheckFailed(String what) {
      super(what);
    }
  }

  /**
   * Records the operation and Content-Type of every request and response, to prove which wire
   * format ran, and (as the client's metric publisher) which HTTP version each call used: the
   * Netty client reports Http2Metric values only for calls made on an HTTP/2 stream.
   */
  static final class WireLog implements ExecutionInterceptor, MetricPublisher {
    final List<String> requestTypes = new CopyOnWriteArrayList<>();
    final List<String> responseTypes = new CopyOnWriteArrayList<>();
    final List<String> versions = new CopyOnWriteArrayList<>();

    static String op(ExecutionAttributes attrs) {
      return attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
    }

    @Override
    public void beforeTransmission(Context.BeforeTransmission ctx, ExecutionAttributes attrs) {
      requestTypes.add(op(attrs) + " " + ctx.httpRequest().firstMatchingHeader("Content-Type").orElse("(none)"));
    }

    @Override
    public void afterTransmission(Context.AfterTransmission ctx, ExecutionAttributes attrs) {
      responseTypes.add(op(attrs) + " " + ctx.httpResponse().firstMatchingHeader("Content-Type").orElse("(none)"));
    }

    @Override
    public void publish(MetricCollection call) {
      versions.add(hasHttp2(call) ? "h2" : "http/1.1");
    }

    static boolean hasHttp2(MetricCollection c) {
      if (!c.metricValues(Http2Metric.LOCAL_STREAM_WINDOW_SIZE_IN_BYTES).isEmpty()) {
        return true;
      }
      for (MetricCollection child : c.children()) {
        if (hasHttp2(child)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public void close() {}
  }

  /** One API over the sync and the async client: every async call is joined. */
  static final class Api {
    final String label;
    final KinesisClient sync;
    final KinesisAsyncClient async;
    final WireLog wire;

    Api(String label, KinesisClient sync, KinesisAsyncClient async, WireLog wire) {
      this.label = label;
      this.sync = sync;
      this.async = async;
      this.wire = wire;
    }

    <T> T call(Supplier<T> syncCall, Supplier<CompletableFuture<T>> asyncCall) {
      if (sync != null) {
        return syncCall.get();
      }
      try {
        return asyncCall.get().get(60, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw new RuntimeException(e.getCause());
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    }

    CreateStreamResponse createStream(CreateStreamRequest r) {
      return call(() -> sync.createStream(r), () -> async.createStream(r));
    }

    DescribeStreamSummaryResponse describeStreamSummary(String stream) {
      var r = DescribeStreamSummaryRequest.builder().streamName(stream).build();
      return call(() -> sync.describeStreamSummary(r), () -> async.describeStreamSummary(r));
    }

    ListShardsResponse listShards(ListShardsRequest r) {
      return call(() -> sync.listShards(r), () -> async.listShards(r));
    }

    PutRecordResponse putRecord(PutRecordRequest r) {
      return call(() -> sync.putRecord(r), () -> async.putRecord(r));
    }

    PutRecordsResponse putRecords(PutRecordsRequest r) {
      return call(() -> sync.putRecords(r), () -> async.putRecords(r));
    }

    GetShardIteratorResponse getShardIterator(GetShardIteratorRequest r) {
      return call(() -> sync.getShardIterator(r), () -> async.getShardIterator(r));
    }

    GetRecordsResponse getRecords(GetRecordsRequest r) {
      return call(() -> sync.getRecords(r), () -> async.getRecords(r));
    }

    AddTagsToStreamResponse addTagsToStream(AddTagsToStreamRequest r) {
      return call(() -> sync.addTagsToStream(r), () -> async.addTagsToStream(r));
    }

    ListTagsForStreamResponse listTagsForStream(ListTagsForStreamRequest r) {
      return call(() -> sync.listTagsForStream(r), () -> async.listTagsForStream(r));
    }

    DeleteStreamResponse deleteStream(String stream) {
      var r = DeleteStreamRequest.builder().streamName(stream).build();
      return call(() -> sync.deleteStream(r), () -> async.deleteStream(r));
    }
  }

  // ---- clients ---------------------------------------------------------------------------

  static StaticCredentialsProvider creds(String secret) {
    return StaticCredentialsProvider.create(AwsBasicCredentials.create(KEY, secret));
  }

  /** Sync client on Apache (HTTP/1.1). CBOR follows the aws.cborEnabled system property. */
  static KinesisClient syncClient(String endpoint, String secret, WireLog wire) {
    return KinesisClient.builder()
        .endpointOverride(URI.create(endpoint))
        .region(REGION)
        .credentialsProvider(creds(secret))
        .httpClientBuilder(ApacheHttpClient.builder())
        // No retries but throttling: a server error must never be hidden.
        .overrideConfiguration(o -> o.retryStrategy(b -> b.maxAttempts(1))
            .addExecutionInterceptor(wire).addMetricPublisher(wire))
        .build();
  }

  /** Async client on Netty with HTTP/2: h2c prior knowledge on http://, h2 by ALPN on https://. */
  static KinesisAsyncClient asyncClient(String endpoint, TrustManager[] trust, WireLog wire) {
    return asyncClient(endpoint, trust, wire, SECRET);
  }

  static KinesisAsyncClient asyncClient(String endpoint, TrustManager[] trust, WireLog wire, String secret) {
    var http = NettyNioAsyncHttpClient.builder()
        .protocol(Protocol.HTTP2)
        .connectionAcquisitionTimeout(Duration.ofSeconds(30));
    if (trust != null) {
      http.protocolNegotiation(ProtocolNegotiation.ALPN).tlsTrustManagersProvider(() -> trust);
    }
    return KinesisAsyncClient.builder()
        .endpointOverride(URI.create(endpoint))
        .region(REGION)
        .credentialsProvider(creds(secret))
        .httpClientBuilder(http)
        .overrideConfiguration(o -> o.retryStrategy(b -> b.maxAttempts(1)).addExecutionInterceptor(wire).addMetricPublisher(wire))
        .build();
  }

  static TrustManager[] trustOnly(String caPem) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = new FileInputStream(caPem)) {
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca" + i++, c);
      }
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    return tmf.getTrustManagers();
  }

  // ---- helpers -----------------------------------------------------------------------------

  static String name(String what) {
    return "java-" + what + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      throw new RuntimeException(e);
    }
  }

  static BigInteger md5(String key) throws Exception {
    return new BigInteger(1, MessageDigest.getInstance("MD5").digest(key.getBytes(StandardCharsets.UTF_8)));
  }

  static String shardFor(List<Shard> shards, BigInteger hash) {
    for (Shard s : shards) {
      BigInteger lo = new BigInteger(s.hashKeyRange().startingHashKey());
      BigInteger hi = new BigInteger(s.hashKeyRange().endingHashKey());
      if (lo.compareTo(hash) <= 0 && hash.compareTo(hi) <= 0) {
        return s.shardId();
      }
    }
    return "(no shard)";
  }

  static byte[] payload(int i) {
    // Record 0 holds every byte value; the others random bytes of random length.
    if (i == 0) {
      byte[] all = new byte[256];
      for (int b = 0; b < 256; b++) {
        all[b] = (byte) b;
      }
      return all;
    }
    byte[] data = new byte[1 + RNG.nextInt(600)];
    RNG.nextBytes(data);
    return data;
  }

  /** A record as sent or as read: what must come back exactly. */
  record Rec(String shard, String seq, String key, byte[] data) {
    boolean same(Rec o) {
      return shard.equals(o.shard) && seq.equals(o.seq) && key.equals(o.key) && Arrays.equals(data, o.data);
    }

    @Override
    public String toString() {
      return shard + "/" + seq + "/" + key + "/" + data.length + "B";
    }
  }

  static void waitActive(Api api, String stream) {
    for (int i = 0; i < 300; i++) {
      var s = api.describeStreamSummary(stream).streamDescriptionSummary();
      if (s.streamStatus() == StreamStatus.ACTIVE) {
        return;
      }
      sleep(100);
    }
    throw new CheckFailed(stream + " did not become ACTIVE in 30 s");
  }

  static void checkExpected(Map<String, List<Rec>> want, Map<String, List<Rec>> got, String where) {
    for (var e : want.entrySet()) {
      List<Rec> w = e.getValue();
      List<Rec> g = got.getOrDefault(e.getKey(), List.of());
      boolean same = w.size() == g.size();
      for (int i = 0; same && i < w.size(); i++) {
        same = w.get(i).same(g.get(i));
      }
      check(same, where + ": " + e.getKey() + " gives back its " + w.size() + " records exactly, in order"
          + (same ? "" : " (got " + g.size() + ": first difference at " + firstDiff(w, g) + ")"));
    }
    int total = got.values().stream().mapToInt(List::size).sum();
    int sent = want.values().stream().mapToInt(List::size).sum();
    check(total == sent, where + ": " + total + " records read back, " + sent + " sent");
  }

  static String firstDiff(List<Rec> w, List<Rec> g) {
    for (int i = 0; i < Math.max(w.size(), g.size()); i++) {
      Rec a = i < w.size() ? w.get(i) : null;
      Rec b = i < g.size() ? g.get(i) : null;
      if (a == null || b == null || !a.same(b)) {
        return "#" + i + " sent " + a + " read " + b;
      }
    }
    return "none";
  }

  /** What GetRecords gave from one iterator to the shard's tip or end. */
  record Read(List<Rec> recs, List<Instant> arrivals, GetRecordsResponse last) {}

  static Read readShard(Api api, String stream, String shard,
      java.util.function.Consumer<GetShardIteratorRequest.Builder> position) {
    var req = GetShardIteratorRequest.builder().streamName(stream).shardId(shard);
    position.accept(req);
    String it = api.getShardIterator(req.build()).shardIterator();
    List<Rec> recs = new ArrayList<>();
    List<Instant> arrivals = new ArrayList<>();
    GetRecordsResponse out = null;
    for (int calls = 0; it != null && calls < 200; calls++) {
      out = api.getRecords(GetRecordsRequest.builder().shardIterator(it).limit(7).build());
      for (var r : out.records()) {
        recs.add(new Rec(shard, r.sequenceNumber(), r.partitionKey(), r.data().asByteArray()));
        arrivals.add(r.approximateArrivalTimestamp());
      }
      it = out.nextShardIterator();
      if (out.records().isEmpty() && out.millisBehindLatest() != null && out.millisBehindLatest() == 0 && it != null) {
        break;
      }
    }
    return new Read(recs, arrivals, out);
  }

  // ---- the round trip ----------------------------------------------------------------------

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

  // ---- enhanced fan-out ---------------------------------------------------------------------

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

  // ---- main --------------------------------------------------------------------------------

  /**
   * Netty logs through java.util.logging when SLF4J is bound to its no-op logger; its INFO
   * lines (e.g. "ignoring DATA frame for stream RST_STREAM sent", the normal race when the
   * SDK resets a subscription's stream the server is still writing to) would clutter the
   * output. Warnings and errors still show. Held here so that the setting is not collected.
   */
  static final java.util.logging.Logger NETTY_LOG = java.util.logging.Logger.getLogger("io.netty");

  public static void main(String[] args) throws Exception {
    NETTY_LOG.setLevel(java.util.logging.Level.WARNING);
    if (args.length != 1 && args.length != 3) {
      System.err.println("usage: Scenario ENDPOINT [TLS_ENDPOINT CA_PEM]");
      System.exit(2);
    }
    long started = System.nanoTime();
    System.out.println("seed " + SEED + " (replay with -Dscenario.seed=" + SEED + ")");
    try {
      run(args);
    } catch (CheckFailed e) {
      System.out.println("FAIL " + e.getMessage());
      System.out.println("java: " + passed + " checks passed, then a failure");
      System.exit(1);
    } catch (Throwable t) {
      Throwable u = unwrap(t);
      System.out.println("FAIL unexpected " + u);
      u.printStackTrace(System.out);
      System.out.println("java: " + passed + " checks passed, then an error");
      System.exit(1);
    }
    System.out.printf("java: %d checks passed (%.1f s)%n", passed, (System.nanoTime() - started) / 1e9);
    System.exit(0);
  }

  static void run(String[] args) throws Exception {
    String endpoint = args[0];

    // 1. Sync client on Apache (HTTP/1.1): CBOR (the SDK's default), then JSON.
    System.clearProperty("aws.cborEnabled");
    var wire = new WireLog();
    try (KinesisClient c = syncClient(endpoint, SECRET, wire)) {
      Api api = new Api("sync cbor", c, null, wire);
      missingStream(api);
      String stream = roundTrip(api);
      tagsAndDelete(api, stream);
      bulk(api);
      shapes(api);
      checkWire(api, CBOR, "http/1.1");
    }
    // Read when a client is built (AwsCborProtocolFactory.Builder): the next clients speak JSON.
    System.setProperty("aws.cborEnabled", "false");
    wire = new WireLog();
    try (KinesisClient c = syncClient(endpoint, SECRET, wire)) {
      Api api = new Api("sync json", c, null, wire);
      missingStream(api);
      String stream = roundTrip(api);
      tagsAndDelete(api, stream);
      bulk(api);
      shapes(api);
      checkWire(api, JSON, "http/1.1");
    }
    System.clearProperty("aws.cborEnabled");
    wrongSecretRefused(endpoint);

    // 2. Async client on Netty, HTTP/2 with prior knowledge (h2c).
    wire = new WireLog();
    try (KinesisAsyncClient c = asyncClient(endpoint, null, wire)) {
      Api api = new Api("async h2c cbor", null, c, wire);
      missingStream(api);
      String stream = roundTrip(api);
      api.deleteStream(stream);
      bulk(api);
      fanOut(api);
      checkWire(api, CBOR, "h2");
    }

    // 3. The async client over TLS: h2 negotiated by ALPN, trusting only the CA.
    if (args.length == 3) {
      wire = new WireLog();
      try (KinesisAsyncClient c = asyncClient(args[1], trustOnly(args[2]), wire)) {
        Api api = new Api("async h2 tls cbor", null, c, wire);
        missingStream(api);
        String stream = roundTrip(api);
        api.deleteStream(stream);
        bulk(api);
        fanOut(api);
        checkWire(api, CBOR, "h2");
      }
      // The TLS server verifies signatures too, over HTTP/2.
      try (KinesisAsyncClient c = asyncClient(args[1], trustOnly(args[2]), new WireLog(), "not-the-secret")) {
        String got = "no error";
        try {
          c.listStreams().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          Throwable u = unwrap(e);
          got = u instanceof AwsServiceException a ? a.statusCode() + " " + a.awsErrorDetails().errorCode() : String.valueOf(u);
        }
        check(got.equals("400 InvalidSignatureException"), "[async h2 tls, wrong secret] the server verifies signatures: " + got);
      }
    } else {
      System.out.println("(no TLS endpoint given: part 3 skipped)");
    }
  }
}
