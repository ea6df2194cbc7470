#!/usr/bin/env node
// Real-browser scenario: proves that a web page can use Tributary through the
// AWS SDK for JavaScript v3, i.e. that Tributary answers CORS as a browser needs.
//
//   1. bundles page.js (which imports @aws-sdk/client-kinesis) for the browser
//      with esbuild, in memory;
//   2. serves index.html + the bundle from a small static server on
//      127.0.0.1:<its own port>, so the page's origin differs from Tributary's;
//   3. drives Debian's /usr/bin/chromium headless through playwright-core, opens
//      the page with ?endpoint=<Tributary>, and waits for the page's story
//      (create, wait ACTIVE, PutRecord/PutRecords, GetShardIterator +
//      GetRecords, compare, delete) to finish;
//   4. asserts the page's outcome, that no console error / page error / failed
//      request happened (a CORS refusal shows up in all three), that the browser
//      really sent CORS preflights and got 2xx for them, and that every request
//      id the SDK could read matches the x-amzn-RequestId Tributary sent (which
//      the SDK can read only if Access-Control-Expose-Headers names it).
//
// Usage: node run.mjs ENDPOINT   (or $TRIBUTARY_ENDPOINT); the last line is
// "browser: N passed, M failed". Bounded: the whole run stops itself after 55 s.

import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const NAME = "browser";
const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.TRIBUTARY_CHROMIUM || "/usr/bin/chromium";
const DEADLINE_MS = 55_000;

const endpoint = process.argv[2] || process.env.TRIBUTARY_ENDPOINT;
if (!endpoint) {
  console.error("usage: node run.mjs ENDPOINT (or set TRIBUTARY_ENDPOINT)");
  process.exit(2);
}
const tributaryOrigin = new URL(endpoint).origin;

let passed = 0;
class Failure extends Error {}
function ok(cond, what) {
  if (!cond) throw new Failure(what);
  passed += 1;
}

let browser = null;
let server = null;
async function cleanup() {
  await browser?.close().catch(() => {});
  server?.closeAllConnections?.();
  await new Promise((r) => (server ? server.close(() => r()) : r()));
}

// Whatever hangs (browser launch, page, SDK), the scenario ends in time.
const deadline = setTimeout(() => {
  console.log(`FAIL [deadline] the browser scenario did not finish within ${DEADLINE_MS / 1000} s`);
  console.log(`${NAME}: ${passed} passed, 1 failed`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

async function bundle() {
  const out = await build({
    entryPoints: [join(HERE, "page.js")],
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "chrome120",
    write: false,
    logLevel: "warning",
  });
  return out.outputFiles[0].contents;
}

const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>Tributary from a browser</title>
<link rel="icon" href="data:,"></head>
<body><script src="/bundle.js"></script></body></html>
`;

function serve(js) {
  const srv = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(INDEX);
    } else if (req.method === "GET" && path === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(js);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => resolve(srv));
  });
}

// What went over the wire to Tributary, as Chromium's network stack saw it
// (DevTools protocol): including the preflights, which the page cannot see.
function recordNetwork(cdp) {
  const byId = new Map();
  const entry = (id) => {
    if (!byId.has(id)) byId.set(id, { id });
    return byId.get(id);
  };
  cdp.on("Network.requestWillBeSent", (e) => {
    Object.assign(entry(e.requestId), { url: e.request.url, method: e.request.method, type: e.type });
  });
  // The ExtraInfo events carry the headers as sent and received, after the
  // network stack added its own (Origin, Access-Control-Request-*).
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    entry(e.requestId).requestHeaders = e.headers;
  });
  cdp.on("Network.responseReceived", (e) => {
    Object.assign(entry(e.requestId), { status: e.response.status, type: e.type ?? entry(e.requestId).type });
  });
  cdp.on("Network.responseReceivedExtraInfo", (e) => {
    Object.assign(entry(e.requestId), { rawStatus: e.statusCode, responseHeaders: e.headers });
  });
  cdp.on("Network.loadingFailed", (e) => {
    Object.assign(entry(e.requestId), { failed: e.errorText, cors: e.corsErrorStatus });
  });
  return () => [...byId.values()].filter((r) => r.url && new URL(r.url).origin === tributaryOrigin);
}

const lower = (headers = {}) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

async function main() {
  const js = await bundle();
  console.log(`-- bundled page.js for the browser (${(js.length / 1024).toFixed(0)} KiB)`);
  server = await serve(js);
  const pageUrl = `http://127.0.0.1:${server.address().port}/?endpoint=${encodeURIComponent(endpoint)}`;
  console.log(`-- page at ${pageUrl.split("?")[0]}, Tributary at ${endpoint}`);

  const args = ["--disable-dev-shm-usage", "--no-first-run"];
  // Chromium refuses to start as root with its sandbox (CI runs as root).
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 20_000 });
  console.log(`-- ${CHROMIUM} ${browser.version()} headless`);
  const context = await browser.newContext();
  const page = await context.newPage();

  const consoleErrors = [];
  const pageErrors = [];
  const failedRequests = [];
  // Chromium logs every non-2xx answer to a fetch as a console error; the page
  // expects exactly its ResourceNotFoundException answers (400), which are
  // counted against its calls below. Anything else (a CORS refusal is logged as
  // "... has been blocked by CORS policy", then net::ERR_FAILED) fails the run.
  const expected400s = [];
  page.on("console", (m) => {
    if (m.type() !== "error" && m.type() !== "warning") return;
    const from = m.location()?.url ?? "";
    const line = `${m.type()}: ${m.text()}${from ? ` (${from})` : ""}`;
    const is400 = m.text() === "Failed to load resource: the server responded with a status of 400 (Bad Request)";
    if (is400 && from.startsWith(`${tributaryOrigin}/`)) expected400s.push(line);
    else consoleErrors.push(line);
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("requestfailed", (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const wire = recordNetwork(cdp);

  await page.goto(pageUrl, { timeout: 10_000 });
  let result;
  try {
    await page.waitForFunction(() => window.__tributary?.done, null, { timeout: 40_000, polling: 100 });
  } finally {
    result = await page.evaluate(() => window.__tributary).catch(() => null);
  }
  // Let the last ExtraInfo events arrive.
  await new Promise((r) => setTimeout(r, 200));
  const sent = wire();

  const preflights = sent.filter((r) => r.method === "OPTIONS");
  const posts = sent.filter((r) => r.method === "POST");
  console.log(`-- ${preflights.length} preflight(s), ${posts.length} POST(s) to Tributary`);
  for (const p of preflights) {
    console.log(`   preflight ${p.method} ${p.url} -> ${p.rawStatus ?? p.status ?? p.failed}`);
    for (const [k, v] of Object.entries(p.requestHeaders ?? {})) console.log(`     > ${k}: ${v}`);
    for (const [k, v] of Object.entries(p.responseHeaders ?? {})) console.log(`     < ${k}: ${v}`);
  }
  const firstPost = posts.find((p) => p.responseHeaders);
  if (firstPost) {
    console.log(`   first POST -> ${firstPost.rawStatus}`);
    for (const [k, v] of Object.entries(firstPost.requestHeaders ?? {})) console.log(`     > ${k}: ${v}`);
    for (const [k, v] of Object.entries(firstPost.responseHeaders)) console.log(`     < ${k}: ${v}`);
  }
  for (const f of sent.filter((r) => r.failed)) {
    console.log(`   FAILED ${f.method} ${f.url}: ${f.failed} cors=${JSON.stringify(f.cors ?? null)}`);
  }
  for (const m of [...expected400s, ...consoleErrors]) console.log(`   console ${m}`);

  ok(result !== null, "the page left no outcome (window.__tributary)");
  console.log(`-- page steps: ${result.steps.join(", ")}; ${result.calls.length} SDK calls`);
  ok(result.done, `the page did not finish (steps so far: ${result.steps.join(", ")})`);
  ok(result.ok, `the page failed: ${result.error}`);
  passed += result.passed;
  ok(pageErrors.length === 0, `page errors: ${pageErrors.join(" | ")}`);
  ok(consoleErrors.length === 0, `console errors/warnings: ${consoleErrors.join(" | ")}`);
  const sdk400s = result.calls.filter((c) => c.error && c.status === 400).length;
  ok(sdk400s === 2, `${sdk400s} calls answered 400, the page expects 2 (ResourceNotFoundException before create and after delete)`);
  ok(expected400s.length === sdk400s, `${expected400s.length} "status of 400" console lines for ${sdk400s} calls answered 400`);
  ok(failedRequests.length === 0, `failed requests: ${failedRequests.join(" | ")}`);

  // The SDK's custom headers (x-amz-target, x-amz-date, authorization, ...) are
  // not CORS-safelisted, so a real cross-origin call must have been preflighted.
  ok(preflights.length >= 1, "the browser sent no CORS preflight: the page and Tributary share an origin?");
  for (const p of preflights) {
    const status = p.rawStatus ?? p.status;
    ok(status >= 200 && status < 300, `preflight ${p.url} answered ${status}`);
    const req = lower(p.requestHeaders);
    ok(req["access-control-request-method"] === "POST", `preflight asked for method ${req["access-control-request-method"]}`);
    ok(req.origin === new URL(pageUrl).origin, `preflight Origin ${req.origin}`);
  }

  // Each SDK call is one POST; the request id the SDK read must be the one on
  // the wire, which it can read only if the response exposes it.
  ok(posts.length === result.calls.length, `${posts.length} POSTs on the wire for ${result.calls.length} SDK calls`);
  const wireIds = posts.map((p) => lower(p.responseHeaders)["x-amzn-requestid"]).sort();
  const sdkIds = result.calls.map((c) => c.requestId).sort();
  ok(wireIds.every((id) => typeof id === "string" && id.length > 0), `a POST's response had no x-amzn-RequestId: ${JSON.stringify(wireIds)}`);
  ok(
    JSON.stringify(sdkIds) === JSON.stringify(wireIds),
    `request ids the SDK could read ${JSON.stringify(sdkIds)} differ from the wire's ${JSON.stringify(wireIds)} (Access-Control-Expose-Headers?)`,
  );
  // Likewise x-amz-id-2, for the responses that carry it.
  const wireId2 = posts.map((p) => lower(p.responseHeaders)["x-amz-id-2"] ?? null).sort();
  const sdkId2 = result.calls.map((c) => c.extendedRequestId).sort();
  ok(
    JSON.stringify(sdkId2) === JSON.stringify(wireId2),
    `x-amz-id-2 values the SDK could read ${JSON.stringify(sdkId2)} differ from the wire's ${JSON.stringify(wireId2)}`,
  );
}

let failed = 0;
try {
  await main();
} catch (e) {
  failed = 1;
  console.log(e instanceof Failure ? `FAIL ${e.message}` : `FAIL [error] ${e.stack || e}`);
}
await cleanup();
clearTimeout(deadline);
console.log(`${NAME}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
