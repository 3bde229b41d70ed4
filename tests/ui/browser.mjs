// Drives lakeport's monitoring UI in headless Chromium, as an admin would: finds a running
// statement in the list, opens it, reads its plan graph and one operator's metrics, cancels
// it from the page, and sees it end as canceled in the list. Screenshots go to ARTIFACTS.
//
//   node browser.mjs BASE_URL QUERY_ID ARTIFACTS
//
// Prints one JSON line of what it saw; exits 1 with the reason when a step fails. Run by
// tests/integration/ui.rs, which starts the server and the statement and checks the rest.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, queryId, artifacts] = process.argv.slice(2);
const STEP_TIMEOUT = 15000;

// Debian's Chromium as root in a closed network: no sandbox, nothing in the background.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const seen = { requests: [] };
try {
  mkdirSync(artifacts, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("request", (request) => seen.requests.push(new URL(request.url()).host));
  page.on("pageerror", (error) => { seen.pageError = String(error); });

  await page.goto(`${base}/`);
  const listed = page.locator(`#running tr[data-query-id="${queryId}"]`);
  await listed.waitFor();
  seen.listedText = await listed.innerText();
  await page.screenshot({ path: join(artifacts, "ui-running.png"), fullPage: true });

  await listed.click();
  await page.locator(".plan-node").first().waitFor();
  seen.nodeTypes = await page.locator(".plan-node").evaluateAll(
    (nodes) => nodes.map((node) => node.getAttribute("data-node-type")));
  const joinNode = page.locator('.plan-node[data-node-type*="Join"]').first();
  await joinNode.click();
  await page.locator(".node-panel h3").waitFor();
  seen.panelTitle = await page.locator(".node-panel h3").innerText();
  seen.panelMetrics = await page.locator(".node-panel td:first-child").allInnerTexts();
  await page.screenshot({ path: join(artifacts, "ui-plan.png"), fullPage: true });

  await page.locator("button.cancel").click();
  await page.locator('#query-title[data-state="canceled"]').waitFor();
  seen.error = await page.locator("p.error").innerText();
  await page.screenshot({ path: join(artifacts, "ui-canceled.png"), fullPage: true });

  await page.goto(`${base}/#/`);
  const recent = page.locator(`#recent tr[data-query-id="${queryId}"]`);
  await recent.waitFor();
  seen.recentText = await recent.innerText();
  seen.requests = [...new Set(seen.requests)];
  console.log(JSON.stringify(seen));
} catch (error) {
  console.error(`browser step failed: ${error.message}`);
  console.error(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  await browser.close();
}
