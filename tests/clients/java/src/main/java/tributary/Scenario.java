package tributary;

import static tributary.Common.*;
import static tributary.FanOut.*;
import static tributary.StreamChecks.*;
import static tributary.SyncPart.*;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;

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
