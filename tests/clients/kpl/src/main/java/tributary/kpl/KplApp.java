package tributary.kpl;

import java.io.FileOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.kinesis.producer.Attempt;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecord;
import software.amazon.kinesis.producer.UserRecordFailedException;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * Writes user records to Tributary with the Kinesis Producer Library (aggregation on, over TLS),
 * round by round, and reports what the KPL answered for each.
 *
 * <p>The plan file has one user record a line: {@code round partitionKey explicitHashKey data}
 * (explicitHashKey {@code -} for none; data without spaces). All records of a round are added,
 * then {@code flush()}, then every future of the round is awaited before the next round starts:
 * so the KPL aggregates within a round, and a later round is stored after an earlier one.
 *
 * <p>The --out file gets one line per event:
 *
 * <pre>
 *   CONFIG key value                     (the KPL configuration used)
 *   SENT round partitionKey explicitHashKey shardId sequenceNumber attempts data
 *   FAILED round partitionKey explicitHashKey errorCode:errorMessage ...
 *   ROUND round ms                       (a round's records all acknowledged)
 *   UNEXPECTED_CONNECTIONS service N     (connections to the CloudWatch / STS stand-ins: must be 0)
 *   DONE sent failed
 * </pre>
 *
 * <p>Usage: KplApp --host 127.0.0.1 --port P [--ca ca.pem] --stream S --plan FILE --out FILE
 * [--temp DIR] [--region us-east-1] [--ttl MS] [--log-level info]
 * [--strategy-default USER_PARTITION_KEY|AUTO|UNSET]
 *
 * <p>Without --ca the daemon trusts only the public CAs bundled in the KPL jar, so Tributary's
 * certificate must be refused (the scenario's negative check).
 */
public final class KplApp {
  static PrintStream out;

  static synchronized void emit(String line) {
    out.println(line);
    out.flush();
  }

  /** A loopback port that counts (and closes) every connection made to it. */
  static final class Counter {
    final ServerSocket socket;
    final AtomicInteger connections = new AtomicInteger();

    Counter(String name) throws Exception {
      socket = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
      Thread t =
          new Thread(
              () -> {
                while (!socket.isClosed()) {
                  try (Socket s = socket.accept()) {
                    connections.incrementAndGet();
                    emit("UNEXPECTED_CONNECTION " + name);
                  } catch (Exception e) {
                    return;
                  }
                }
              },
              "counter-" + name);
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return socket.getLocalPort();
    }
  }

  record Planned(int round, String pk, String ehk, String data) {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      a.put(argv[i].substring(2), argv[i + 1]);
    }
    out = new PrintStream(new FileOutputStream(a.get("out"), true), true, StandardCharsets.UTF_8);
    String stream = a.get("stream");

    List<Planned> plan = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(a.get("plan")), StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split(" ", 4);
      plan.add(new Planned(Integer.parseInt(f[0]), f[1], f[2], f[3]));
    }

    // Stand-ins for CloudWatch and STS: with metrics off and static credentials the KPL must
    // connect to neither.
    Counter cloudwatch = new Counter("cloudwatch");
    Counter sts = new Counter("sts");

    var creds =
        StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIDEXAMPLE", "secret"));
    KinesisProducerConfiguration config =
        new KinesisProducerConfiguration()
            .setRegion(a.getOrDefault("region", "us-east-1"))
            .setKinesisEndpoint(a.get("host"))
            .setKinesisPort(Long.parseLong(a.get("port")))
            // Verify Tributary's certificate (the default): against the CA that signed it
            // (`tributary cert`), given to the native daemon as its CA file (env CA_FILE).
            .setVerifyCertificate(true)
            .setCredentialsProvider(creds)
            .setMetricsCredentialsProvider(creds)
            .setMetricsLevel("none")
            .setCloudwatchEndpoint("127.0.0.1")
            .setCloudwatchPort(cloudwatch.port())
            .setStsEndpoint("127.0.0.1")
            .setStsPort(sts.port())
            .setAggregationEnabled(true)
            // KPL 1.1 learns a stream's RecordDistributionStrategy from DescribeStreamSummary.
            // Until that answer is in, it treats the stream as service-routed: records go out
            // one by one (not aggregated) and WITHOUT their ExplicitHashKey
            // (put_records_context.h), so the first records land by the MD5 of their partition
            // key. Declaring the strategy up front makes the KPL aggregate and send explicit
            // hash keys from the first record (FINDINGS.md). "UNSET" reproduces the default.
            .setRecordDistributionStrategyDefault(
                KinesisProducerConfiguration.RecordDistributionStrategyDefault.valueOf(
                    a.getOrDefault("strategy-default", "USER_PARTITION_KEY")))
            .setRecordMaxBufferedTime(200)
            .setRequestTimeout(10000)
            .setRecordTtl(Long.parseLong(a.getOrDefault("ttl", "60000")))
            .setLogLevel(a.getOrDefault("log-level", "info"));
    if (a.containsKey("ca")) {
      config.setCaCertFile(a.get("ca"));
    }
    if (a.containsKey("temp")) {
      // Where the KPL extracts its 89 MB native daemon; reused while its hash matches.
      config.setTempDirectory(a.get("temp"));
    }
    emit("CONFIG endpoint " + config.getKinesisEndpoint() + ":" + config.getKinesisPort());
    emit("CONFIG verifyCertificate " + config.isVerifyCertificate());
    emit("CONFIG caCertFile " + config.getCaCertFile());
    emit("CONFIG aggregationEnabled " + config.isAggregationEnabled());
    emit("CONFIG metricsLevel " + config.getMetricsLevel());
    emit("CONFIG recordDistributionStrategyDefault "
        + config.getRecordDistributionStrategyDefault());

    KinesisProducer kpl = new KinesisProducer(config);
    int sent = 0;
    int failed = 0;
    int round = -1;
    List<Planned> batch = new ArrayList<>();
    for (int i = 0; i <= plan.size(); i++) {
      Planned p = i < plan.size() ? plan.get(i) : null;
      if (p == null || (p.round() != round && !batch.isEmpty())) {
        long t0 = System.nanoTime();
        List<com.google.common.util.concurrent.ListenableFuture<UserRecordResult>> futures =
            new ArrayList<>();
        for (Planned q : batch) {
          UserRecord r =
              new UserRecord(
                  stream,
                  q.pk(),
                  q.ehk().equals("-") ? null : q.ehk(),
                  ByteBuffer.wrap(q.data().getBytes(StandardCharsets.UTF_8)));
          futures.add(kpl.addUserRecord(r));
        }
        kpl.flush();
        for (int j = 0; j < batch.size(); j++) {
          Planned q = batch.get(j);
          try {
            UserRecordResult res = futures.get(j).get(90, TimeUnit.SECONDS);
            emit(
                "SENT "
                    + q.round()
                    + " "
                    + q.pk()
                    + " "
                    + q.ehk()
                    + " "
                    + res.getShardId()
                    + " "
                    + res.getSequenceNumber()
                    + " "
                    + res.getAttempts().size()
                    + " "
                    + q.data());
            sent++;
          } catch (Exception e) {
            StringBuilder why = new StringBuilder(e.toString().replace('\n', ' '));
            Throwable c = e.getCause();
            if (c instanceof UserRecordFailedException f) {
              for (Attempt at : f.getResult().getAttempts()) {
                why.append(" [").append(at.getErrorCode()).append(": ")
                    .append(at.getErrorMessage()).append("]");
              }
            }
            emit("FAILED " + q.round() + " " + q.pk() + " " + q.ehk() + " " + why);
            failed++;
          }
        }
        emit("ROUND " + batch.get(0).round() + " " + (System.nanoTime() - t0) / 1_000_000);
        batch.clear();
      }
      if (p != null) {
        round = p.round();
        batch.add(p);
      }
    }
    kpl.flushSync();
    kpl.destroy();
    emit("UNEXPECTED_CONNECTIONS cloudwatch " + cloudwatch.connections.get());
    emit("UNEXPECTED_CONNECTIONS sts " + sts.connections.get());
    emit("DONE " + sent + " " + failed);
    out.close();
    System.exit(failed == 0 ? 0 : 1);
  }

  private KplApp() {}
}
