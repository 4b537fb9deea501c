import { expect, Page, test } from "@playwright/test";
import * as fs from "node:fs";
import {
  callApi,
  copyKey,
  expectAccessible,
  hydrated,
  invite,
  joinByInvitation,
  ownerOnTeamPage,
  PERMISSION_DENIED,
  uniqueEmail,
} from "./helpers";

/** The figure of one of the totals ("Calls", "Denied", …). */
function total(page: Page, id: string) {
  return page.locator(`#usage-${id}`);
}

/** The member table's row for `email`: [calls, denied]. */
async function memberFigures(page: Page, email: string): Promise<[string, string]> {
  const cells = page.locator("#usage-members tbody tr").filter({ hasText: email }).locator("td.num");
  return [(await cells.nth(0).innerText()).trim(), (await cells.nth(1).innerText()).trim()];
}

test("calls made with two members' keys show on the Usage page, per member, and in the report", async ({ page, browser }) => {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  const owner = await ownerOnTeamPage(page);
  const grace = uniqueEmail("grace");
  const vera = uniqueEmail("vera");
  await invite(page, grace, "Grace", "Member");
  await joinByInvitation(browser, grace);
  await invite(page, vera, "Vera", "Visitor");
  const veraPage = await joinByInvitation(browser, vera);
  await page.reload();
  await hydrated(page);

  // Before any call: the empty state says how calls get here.
  await page.getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.getByRole("heading", { name: "No API calls in this range" })).toBeVisible();
  await expect(page.getByRole("link", { name: "gateway guide" })).toHaveAttribute("href", "/help/gateway");
  await expectAccessible(page);

  // Calls through nginx with two keys: Grace's five (one refused), the Owner's three.
  await page.goto("/team");
  await hydrated(page);
  const graceKey = await copyKey(page, grace);
  const ownerKey = await copyKey(page, owner);
  for (let i = 0; i < 4; i++) expect((await callApi(graceKey)).status).toBe(200);
  expect((await callApi(graceKey, "/billing/invoices")).status).toBe(403);
  for (let i = 0; i < 3; i++) expect((await callApi(ownerKey)).status).toBe(200);

  // Counted within seconds.
  await page.goto("/usage?range=24h");
  await expect(async () => {
    await page.reload();
    await expect(total(page, "calls")).toHaveText("8", { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await hydrated(page);
  await expect(total(page, "denied")).toContainText("1");
  expect(await memberFigures(page, grace)).toEqual(["5", "1"]);
  expect(await memberFigures(page, owner)).toEqual(["3", "0"]);
  await expect(page.getByRole("img", { name: /^Calls per hour/ })).toBeVisible();
  await expectAccessible(page);
  // The chart's figures on focus, by keyboard.
  await page.getByRole("img", { name: /^Calls per hour/ }).focus();
  await expect(page.locator("#chart-readout")).toHaveText(/: 7 allowed, 1 denied$/);
  // And as a table.
  await page.getByText("Show the figures as a table").click();
  await expect(page.getByRole("table", { name: "Calls per hour" })).toBeVisible();
  await expectAccessible(page);

  // The Overview: today's and this week's calls, the most active members, the seats, and
  // "Get started" still open (no custom role yet).
  await page.getByRole("link", { name: "Overview" }).click();
  await expect(page.locator("#overview-today")).toHaveText("8");
  await expect(page.locator("#overview-week")).toHaveText("8");
  await expect(page.locator("#overview-seats")).toHaveText("3/50");
  await expect(page.locator("#overview-top").getByRole("link", { name: "Grace Hopper" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Get started" })).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: "Make a first API call" })).toContainText("(done)");
  await expectAccessible(page);
  await page.goto("/usage?range=24h");
  await hydrated(page);

  // A member's own usage: the view lives in the address.
  await page.locator("#usage-members").getByRole("link", { name: "Grace Hopper" }).click();
  await expect(page).toHaveURL(/member=\d+/);
  await expect(total(page, "calls")).toHaveText("5");
  await page.reload();
  await expect(total(page, "calls")).toHaveText("5");
  await hydrated(page);

  // The report of the whole organization's range, read back: exactly those counts.
  await page.goto("/usage?range=24h");
  await hydrated(page);
  const waiting = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download Report" }).click();
  const download = await waiting;
  expect(download.suggestedFilename()).toMatch(/^roster-usage-analytical-engines-\d{4}-\d\d-\d\d-to-\d{4}-\d\d-\d\d\.csv$/);
  const csv = fs.readFileSync((await download.path())!, "utf8").trim().split("\n");
  expect(csv[0]).toBe("period_start,period,member_email,member_first_name,member_last_name,feature,region,outcome,calls");
  const sums = new Map<string, number>();
  for (const line of csv.slice(1)) {
    const cells = line.split(",");
    expect(cells[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
    const key = `${cells[2]} ${cells[7]}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(cells[8]));
  }
  expect(Object.fromEntries(sums)).toEqual({
    [`${grace} allowed`]: 4,
    [`${grace} insufficient_permission`]: 1,
    [`${owner} allowed`]: 3,
  });

  // A filter that matches nothing, and a custom range with a mistake: told next to the field.
  await page.getByLabel("Time range").selectOption({ label: "Custom range" });
  await page.getByLabel("To", { exact: true }).fill("2026-01-31");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator("#usage-from-msg")).toHaveText("Enter the first day of the range.");
  await expect(page.getByLabel("To", { exact: true })).toHaveValue("2026-01-31");
  await expectAccessible(page);

  // The Visitor sees the figures but is not offered the report, and is refused it.
  await veraPage.goto("/usage?range=24h");
  await hydrated(veraPage);
  await expect(total(veraPage, "calls")).toHaveText("8");
  await expect(veraPage.getByRole("link", { name: "Download Report" })).toHaveCount(0);
  await expectAccessible(veraPage);
  const refused = await veraPage.request.get("/usage/report.csv?range=24h");
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toBe(PERMISSION_DENIED);

  // Live: a new call shows on the open page within seconds, without a reload, and the chart
  // keeps the focus it had.
  await veraPage.getByRole("img", { name: /^Calls per hour/ }).focus();
  expect((await callApi(graceKey)).status).toBe(200);
  await expect(total(veraPage, "calls")).toHaveText("9", { timeout: 15_000 });
  await expect(veraPage.locator("#usage-chart")).toBeFocused();
});
