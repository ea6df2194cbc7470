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
import java.util.List;
import java.util.Map;
import java.util.Random;
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
 * What every part of the scenario shares: the checks and their count, the recording of each
 * call's wire format and HTTP version, one API over the sync and the async client, the
 * clients themselves, and the helpers that send and read records.
 */
final class Common {
  private Common() {}

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
}
