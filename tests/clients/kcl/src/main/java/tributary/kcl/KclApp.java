package tributary.kcl;

import com.sun.net.httpserver.HttpServer;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.ProtocolNegotiation;
import software.amazon.awssdk.http.nio.netty.Http2Configuration;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardRequest;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.CoordinatorConfig;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.exceptions.ShutdownException;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.metrics.NullMetricsFactory;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;
import software.amazon.kinesis.retrieval.KinesisClientRecord;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * A KCL 3.x worker against Tributary. Every event goes to the --out file, one line each:
 *
 * <pre>
 *   INIT shardId extendedSequenceNumber
 *   REC shardId sequenceNumber partitionKey data
 *   CKPT shardId sequenceNumber
 *   END shardId / LOST shardId / SHUTDOWN shardId
 *   CALL service operation content-type       (every SDK request, from an interceptor)
 *   RESP service operation status content-type (every SDK response)
 *   SUB shardId startingPositionType sequenceNumber   (each SubscribeToShard)
 *   ITER shardId shardIteratorType sequenceNumber     (each GetShardIterator)
 *   FAIL service operation exception           (every failed SDK request)
 *   UREC shardId sequenceNumber subSequenceNumber partitionKey explicitHashKey aggregated data
 *                                  (with --user-records, after each REC: the de-aggregated
 *                                   user record's KPL fields; explicitHashKey "-" when none)
 * </pre>
 *
 * The worker stops gracefully when the --stop-file appears (or after --max-seconds).
 *
 * <p>Usage: KclApp --mode polling|efo --stream S --app A --kinesis URL --dynamodb URL --out FILE
 * --stop-file FILE [--compat2x] [--max-seconds N] [--ca PEM] [--user-records]
 *
 * <p>--ca PEM: the Kinesis endpoint is https:// with a certificate signed by that CA (e.g.
 * {@code tributary cert}'s ca.pem); the Kinesis client trusts only it, negotiates h2 by ALPN.
 */
public final class KclApp {
  static PrintStream out;
  static boolean userRecords;

  static synchronized void emit(String line) {
    out.println(line);
    out.flush();
  }

  /** Logs each SDK call (operation and Content-Type as sent) and each failure. */
  static final class Wire implements ExecutionInterceptor {
    final String service;

    Wire(String service) {
      this.service = service;
    }

    @Override
    public void beforeExecution(Context.BeforeExecution ctx, ExecutionAttributes attrs) {
      // Where each read starts: the SubscribeToShard StartingPosition and the
      // GetShardIterator type, as the KCL asks for them.
      if (ctx.request() instanceof SubscribeToShardRequest r) {
        emit("SUB " + r.shardId() + " " + r.startingPosition().typeAsString() + " "
            + r.startingPosition().sequenceNumber());
      } else if (ctx.request() instanceof GetShardIteratorRequest r) {
        emit("ITER " + r.shardId() + " " + r.shardIteratorTypeAsString() + " "
            + r.startingSequenceNumber());
      }
    }

    @Override
    public void beforeTransmission(Context.BeforeTransmission ctx, ExecutionAttributes attrs) {
      String op = attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
      String ct = ctx.httpRequest().firstMatchingHeader("Content-Type").orElse("-");
      emit("CALL " + service + " " + op + " " + ct);
    }

    @Override
    public void afterTransmission(Context.AfterTransmission ctx, ExecutionAttributes attrs) {
      String op = attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
      String ct = ctx.httpResponse().firstMatchingHeader("Content-Type").orElse("-");
      emit("RESP " + service + " " + op + " " + ctx.httpResponse().statusCode() + " " + ct);
    }

    @Override
    public void onExecutionFailure(Context.FailedExecution ctx, ExecutionAttributes attrs) {
      String op = attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
      Throwable t = ctx.exception();
      emit(
          "FAIL "
              + service
              + " "
              + op
              + " "
              + t.getClass().getSimpleName()
              + ": "
              + String.valueOf(t.getMessage()).replace('\n', ' '));
    }
  }

  static final class Processor implements ShardRecordProcessor {
    String shardId;

    @Override
    public void initialize(InitializationInput in) {
      shardId = in.shardId();
      emit("INIT " + shardId + " " + in.extendedSequenceNumber());
    }

    @Override
    public void processRecords(ProcessRecordsInput in) {
      String last = null;
      for (KinesisClientRecord r : in.records()) {
        byte[] b = new byte[r.data().remaining()];
        r.data().get(b);
        emit(
            "REC "
                + shardId
                + " "
                + r.sequenceNumber()
                + " "
                + r.partitionKey()
                + " "
                + new String(b, StandardCharsets.UTF_8));
        if (userRecords) {
          emit(
              "UREC "
                  + shardId
                  + " "
                  + r.sequenceNumber()
                  + " "
                  + r.subSequenceNumber()
                  + " "
                  + r.partitionKey()
                  + " "
                  + (r.explicitHashKey() == null ? "-" : r.explicitHashKey())
                  + " "
                  + r.aggregated()
                  + " "
                  + new String(b, StandardCharsets.UTF_8));
        }
        last = r.sequenceNumber();
      }
      if (last != null) {
        try {
          in.checkpointer().checkpoint();
          emit("CKPT " + shardId + " " + last);
        } catch (Exception e) {
          emit("CKPTFAIL " + shardId + " " + e);
        }
      }
    }

    @Override
    public void leaseLost(LeaseLostInput in) {
      emit("LOST " + shardId);
    }

    @Override
    public void shardEnded(ShardEndedInput in) {
      try {
        in.checkpointer().checkpoint();
        emit("END " + shardId);
      } catch (Exception e) {
        emit("ENDFAIL " + shardId + " " + e);
      }
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput in) {
      try {
        in.checkpointer().checkpoint();
        emit("SHUTDOWN " + shardId);
      } catch (ShutdownException e) {
        emit("SHUTDOWN " + shardId + " (no checkpoint: " + e.getMessage() + ")");
      } catch (Exception e) {
        emit("SHUTDOWNFAIL " + shardId + " " + e);
      }
    }
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (argv[i].equals("--compat2x")) {
        a.put("compat2x", "1");
      } else if (argv[i].equals("--user-records")) {
        userRecords = true;
      } else {
        a.put(argv[i].substring(2), argv[++i]);
      }
    }
    out = new PrintStream(new FileOutputStream(a.get("out"), true), true, StandardCharsets.UTF_8);
    String stream = a.get("stream");
    String app = a.get("app");
    String mode = a.getOrDefault("mode", "polling");
    long maxSeconds = Long.parseLong(a.getOrDefault("max-seconds", "300"));
    Path stopFile = Path.of(a.get("stop-file"));

    // CloudWatch: a local HTTP server that counts whatever reaches it. With metrics off the KCL
    // must send it nothing.
    AtomicInteger cwCalls = new AtomicInteger();
    HttpServer cw = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    cw.createContext(
        "/",
        x -> {
          cwCalls.incrementAndGet();
          emit("CLOUDWATCH_CALL " + x.getRequestMethod() + " " + x.getRequestURI());
          x.sendResponseHeaders(200, -1);
          x.close();
        });
    cw.start();

    var creds = StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret"));
    Region region = Region.US_EAST_1;
    // KinesisClientUtil sets what the KCL wants of its client: Netty, HTTP/2 (h2c prior
    // knowledge on http://), more concurrent streams.
    var kinesisBuilder =
        KinesisAsyncClient.builder()
            .endpointOverride(URI.create(a.get("kinesis")))
            .region(region)
            .credentialsProvider(creds)
            .overrideConfiguration(o -> o.addExecutionInterceptor(new Wire("kinesis")));
    KinesisAsyncClient kinesis;
    if (a.containsKey("ca")) {
      // KinesisClientUtil.adjustKinesisClientBuilder replaces any HTTP client builder, so the
      // TLS case sets the same options itself (javap of KinesisClientUtil 3.5.1) and adds the
      // trust of the given CA and ALPN (h2 over TLS).
      TrustManager[] trust = trustOnly(a.get("ca"));
      kinesis =
          kinesisBuilder
              .httpClientBuilder(
                  NettyNioAsyncHttpClient.builder()
                      .maxConcurrency(Integer.MAX_VALUE)
                      .http2Configuration(
                          Http2Configuration.builder()
                              .initialWindowSize(512 * 1024)
                              .healthCheckPingPeriod(Duration.ofMillis(60000))
                              .build())
                      .protocol(Protocol.HTTP2)
                      .protocolNegotiation(ProtocolNegotiation.ALPN)
                      .tlsTrustManagersProvider(() -> trust))
              .build();
    } else {
      kinesis = KinesisClientUtil.createKinesisAsyncClient(kinesisBuilder);
    }
    DynamoDbAsyncClient dynamo =
        DynamoDbAsyncClient.builder()
            .endpointOverride(URI.create(a.get("dynamodb")))
            .region(region)
            .credentialsProvider(creds)
            .overrideConfiguration(o -> o.addExecutionInterceptor(new Wire("dynamodb")))
            .build();
    CloudWatchAsyncClient cloudWatch =
        CloudWatchAsyncClient.builder()
            .endpointOverride(URI.create("http://127.0.0.1:" + cw.getAddress().getPort()))
            .region(region)
            .credentialsProvider(creds)
            .overrideConfiguration(o -> o.addExecutionInterceptor(new Wire("cloudwatch")))
            .build();

    String workerId = a.getOrDefault("worker", "worker-" + UUID.randomUUID());
    ShardRecordProcessorFactory factory = Processor::new;
    ConfigsBuilder cb =
        new ConfigsBuilder(stream, app, kinesis, dynamo, cloudWatch, workerId, factory);

    var retrieval =
        cb.retrievalConfig()
            .initialPositionInStreamExtended(
                InitialPositionInStreamExtended.newInitialPosition(
                    InitialPositionInStream.TRIM_HORIZON));
    if (mode.equals("polling")) {
      retrieval.retrievalSpecificConfig(
          new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(250));
    }
    var lease =
        cb.leaseManagementConfig()
            .initialPositionInStream(
                InitialPositionInStreamExtended.newInitialPosition(
                    InitialPositionInStream.TRIM_HORIZON))
            .shardSyncIntervalMillis(5000)
            .failoverTimeMillis(10000);
    CoordinatorConfig coordinator = cb.coordinatorConfig();
    if (a.containsKey("compat2x")) {
      coordinator.clientVersionConfig(
          CoordinatorConfig.ClientVersionConfig.CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X);
    }
    Scheduler scheduler =
        new Scheduler(
            cb.checkpointConfig(),
            coordinator,
            lease,
            cb.lifecycleConfig(),
            cb.metricsConfig()
                .metricsFactory(new NullMetricsFactory())
                .metricsLevel(MetricsLevel.NONE),
            cb.processorConfig(),
            retrieval);

    emit("START " + workerId + " mode=" + mode + " compat2x=" + a.containsKey("compat2x"));
    Thread t = new Thread(scheduler, "kcl-scheduler");
    t.setDaemon(true);
    t.start();

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
    while (!Files.exists(stopFile) && System.nanoTime() < deadline && t.isAlive()) {
      Thread.sleep(200);
    }
    emit("STOPPING alive=" + t.isAlive());
    try {
      boolean done = scheduler.startGracefulShutdown().get(60, TimeUnit.SECONDS);
      emit("GRACEFUL " + done);
    } catch (Exception e) {
      emit("GRACEFULFAIL " + e);
    }
    emit("CLOUDWATCH_CALLS " + cwCalls.get());
    cw.stop(0);
    out.close();
    System.exit(0);
  }

  /** Trust managers that trust only the certificates of a PEM file. */
  static TrustManager[] trustOnly(String caPem) throws Exception {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    try (InputStream in = new FileInputStream(caPem)) {
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca" + i++, c);
      }
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    return tmf.getTrustManagers();
  }

  private KclApp() {}
}
