// Measures what a browser downloads for one page, as served (compressed where the server
// compresses), in Debian's Chromium with an empty cache: the bench step behind the "Page
// weight" table of docs/BENCHMARKS.md.
//
//   node scripts/page-weight.mjs <url> <session cookie "name=value">
//
// Prints JSON: transferred bytes by kind (html, wasm, js, css, other), their total, and the
// uncompressed sizes.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(root, "end2end", "package.json"));
const { chromium } = require("@playwright/test");

const [url, cookie] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const context = await browser.newContext();
  const [name, value] = cookie.split(/=(.*)/s);
  await context.addCookies([{ name, value, url }]);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const requests = new Map();
  cdp.on("Network.responseReceived", (e) => {
    const kind = e.type === "Document" ? "html"
      : e.response.url.endsWith(".wasm") ? "wasm"
      : e.type === "Script" ? "js"
      : e.type === "Stylesheet" ? "css"
      : "other";
    requests.set(e.requestId, { kind, url: e.response.url, encoding: e.response.headers["content-encoding"] ?? "" });
  });
  const sizes = [];
  cdp.on("Network.loadingFinished", (e) => {
    const r = requests.get(e.requestId);
    if (r) sizes.push({ ...r, transferred: e.encodedDataLength });
  });
  cdp.on("Network.dataReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.decoded = (r.decoded ?? 0) + e.dataLength;
  });
  await page.goto(url, { waitUntil: "networkidle" });
  // The page must have hydrated: the WASM ran.
  await page.locator("html[data-hydrated]").waitFor({ state: "attached", timeout: 30_000 });
  const out = { html: 0, wasm: 0, js: 0, css: 0, other: 0, total: 0, uncompressed: 0, files: [] };
  for (const s of sizes) {
    // The event stream never finishes loading; only what finished counts.
    out[s.kind] += s.transferred;
    out.total += s.transferred;
    out.uncompressed += s.decoded ?? 0;
    out.files.push({ url: new URL(s.url).pathname, kind: s.kind, transferred: s.transferred, encoding: s.encoding });
  }
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
