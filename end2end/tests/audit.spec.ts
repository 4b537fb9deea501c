import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import {
  expectAccessible,
  hydrated,
  invite,
  joinByInvitation,
  ownerOnTeamPage,
  PERMISSION_DENIED,
  row,
  rowAction,
  uniqueEmail,
} from "./helpers";

test("the audit log shows who changed what, filters and pages in the address, exports, and verifies its chain", async ({ page, browser }) => {
  const owner = await ownerOnTeamPage(page);
  const grace = uniqueEmail("grace");
  await invite(page, grace, "Grace", "Member");
  const gracePage = await joinByInvitation(browser, grace);
  await page.reload();
  await hydrated(page);
  await (await rowAction(page, grace, "Promote")).click();
  await expect(row(page, grace).getByRole("cell", { name: "Admin", exact: true })).toBeVisible();

  // From the navigation: newest first, with the actor, the change and where it came from.
  await page.getByRole("link", { name: "Audit Log", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Audit Log", level: 1 })).toBeVisible();
  await hydrated(page);
  const first = page.locator("#audit-rows tbody tr").first();
  await expect(first).toContainText("member.promote");
  await expect(first).toContainText(owner);
  await expect(first).toContainText("role: member → admin");
  await expect(first).toContainText("127.0.0.1");
  await expectAccessible(page);

  // Filters live in the address; a bad one is named next to its field and keeps the others.
  await page.getByLabel("Action").selectOption("invitation");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/\/audit\?action=invitation$/);
  await expect(page.locator("#audit-rows tbody tr")).not.toHaveCount(0);
  for (const code of await page.locator("#audit-rows tbody tr .audit-code").allInnerTexts()) {
    expect(code).toMatch(/^invitation\./);
  }
  await page.goto("/audit?action=invitation&from=2026-13-40");
  await expect(page.locator("#audit-from-msg")).toHaveText("Enter a date like 2026-11-01.");
  await expect(page.getByLabel("Action")).toHaveValue("invitation");
  await expectAccessible(page);
  await page.goto(`/audit?target=${encodeURIComponent("nobody-at-all")}`);
  await expect(page.getByRole("heading", { name: "No entries match these filters" })).toBeVisible();
  await expectAccessible(page);

  // Export of the current filters, read back.
  await page.goto("/audit?action=member");
  await hydrated(page);
  const waiting = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const download = await waiting;
  expect(download.suggestedFilename()).toMatch(/^roster-audit-analytical-engines-\d{8}-\d{6}\.csv$/);
  const lines = fs.readFileSync((await download.path())!, "utf8").trim().split("\n");
  expect(lines[0]).toContain("time,seq,actor_name,actor_email,via,action,target");
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.slice(1).every((l) => l.includes(",member."))).toBe(true);
  expect(lines.join("\n")).toContain(grace);

  // The export itself is a row; the chain verifies.
  await page.goto("/audit");
  await hydrated(page);
  await expect(page.locator("#audit-rows tbody tr").first()).toContainText("audit.exported");
  await page.getByRole("button", { name: "Verify integrity" }).click();
  await expect(page.locator("#audit-integrity")).toContainText("The chain is whole");
  await expectAccessible(page);

  // Grace, an Admin now, reads it too; a Member who is demoted later cannot.
  await gracePage.goto("/audit");
  await expect(gracePage.getByRole("heading", { name: "Audit Log", level: 1 })).toBeVisible();
  await page.goto("/team");
  await hydrated(page);
  await (await rowAction(page, grace, "Demote")).click();
  await expect(row(page, grace).getByRole("cell", { name: "Member", exact: true })).toBeVisible();
  await gracePage.goto("/audit");
  await expect(gracePage.getByText(PERMISSION_DENIED)).toBeVisible();
  await expect(gracePage.getByRole("link", { name: "Audit Log", exact: true })).toHaveCount(0);
  await gracePage.context().close();
});

test("the audit log pages with Older and Newest, the view kept in the address", async ({ page }) => {
  await ownerOnTeamPage(page);
  // 48 invitations in one go, and the Owner's own rows: more than a page of 50.
  await page.getByRole("button", { name: "Bulk Invite" }).click();
  const dialog = page.getByRole("dialog", { name: "Bulk Invite" });
  const addresses = Array.from({ length: 48 }, (_, i) => uniqueEmail(`pager${i}`));
  await dialog.getByLabel("Email addresses (one per line)").fill(addresses.join("\n"));
  await dialog.getByRole("button", { name: "Send Invitations" }).click();
  await expect(dialog.getByText("48 invited, 0 not invited.")).toBeVisible();
  await page.goto("/audit");
  await hydrated(page);
  await expect(page.locator("#audit-rows tbody tr")).toHaveCount(50);
  await page.getByRole("link", { name: "Older" }).click();
  await expect(page).toHaveURL(/\/audit\?after=\d+\.\d+$/);
  await expect(page.locator("#audit-rows tbody tr").last()).toContainText("organization.created");
  await expect(page.getByRole("link", { name: "Older" })).toHaveCount(0);
  await expectAccessible(page);
  await page.getByRole("link", { name: "Newest" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.locator("#audit-rows tbody tr")).toHaveCount(50);
});
