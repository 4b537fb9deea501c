import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import {
  expectAccessible,
  hydrated,
  newPage,
  ownerOnTeamPage,
  row,
  signUp,
  uniqueEmail,
  verifyAndEnter,
} from "./helpers";

// scripts/test runs a DNS server (end2end/dns-server.mjs) that Roster asks (DNS_SERVER).
const dnsControl = process.env.DNS_CONTROL_URL ?? "http://127.0.0.1:5380";

async function setTxt(name: string, records: string[][]) {
  const res = await fetch(`${dnsControl}/records/${encodeURIComponent(name)}`, {
    method: "PUT",
    body: JSON.stringify(records),
  });
  expect(res.status).toBe(204);
}

test("an Admin verifies a domain; someone signing up at it joins automatically, live on the Team page and in the audit log", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  const domain = `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}.example`;

  // Settings, from the navigation.
  await page.getByRole("link", { name: "Settings", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
  await hydrated(page);
  await expect(page.locator("#settings-seats")).toHaveText("1/50");
  await expectAccessible(page);

  // Refused with a reason next to the field, and what was typed stays.
  await page.getByLabel("Domain", { exact: true }).fill("gmail.com");
  await page.getByRole("button", { name: "Add Domain" }).click();
  await expect(page.locator("#field-domain-msg")).toContainText("free email provider");
  await expect(page.getByLabel("Domain", { exact: true })).toHaveValue("gmail.com");
  await expectAccessible(page);

  // Added: the TXT record to create is shown.
  await page.getByLabel("Domain", { exact: true }).fill(domain);
  await page.getByRole("button", { name: "Add Domain" }).click();
  const domainRow = row(page, domain);
  await expect(domainRow).toContainText("Pending");
  await expect(domainRow).toContainText(`_roster-challenge.${domain}`);
  const token = (await domainRow.locator("code.record").nth(1).innerText()).trim();
  expect(token).toMatch(/^roster-verification=[0-9a-f]{40}$/);

  // Verify before the record exists: a plain message on the row.
  await domainRow.getByRole("button", { name: `Verify ${domain}` }).click();
  await expect(domainRow.getByRole("alert")).toContainText("No TXT record");
  await expectAccessible(page);

  // The record set (split in two strings, beside another value): verified.
  await setTxt(`_roster-challenge.${domain}`, [["v=spf1 -all"], [token.slice(0, 15), token.slice(15)]]);
  await domainRow.getByRole("button", { name: `Verify ${domain}` }).click();
  await expect(page.getByRole("status").filter({ hasText: `${domain} is verified.` })).toBeVisible();
  await expect(row(page, domain)).toContainText("Verified");

  // Auto-join: Automatic, as Member.
  await page.getByLabel(/^Automatic/).check();
  await page.getByLabel("Role for people who join").selectOption({ label: "Member" });
  await page.getByRole("button", { name: "Save Auto-join" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Auto-join saved." })).toBeVisible();
  await expectAccessible(page);

  // Someone signs up with an address at the domain, verifies it and signs in.
  await page.goto("/team");
  await hydrated(page);
  const joan = `joan.${Date.now()}@${domain}`;
  const joanPage = await newPage(browser);
  await signUp(joanPage, joan, "Joan", "Clarke Consulting");
  await verifyAndEnter(joanPage, joan);
  // Live on the Owner's open Team page, without a reload.
  await expect(row(page, joan)).toBeVisible({ timeout: 10_000 });
  await expect(row(page, joan).getByRole("cell", { name: "Member", exact: true })).toBeVisible();
  await joanPage.context().close();

  // In the audit log, made via auto-join; exported and read back.
  await page.goto("/audit?action=member");
  await hydrated(page);
  const first = page.locator("#audit-rows tbody tr").first();
  await expect(first).toContainText("member.auto_joined");
  await expect(first).toContainText("via auto-join");
  await expect(first).toContainText(joan);
  const waiting = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export JSON Lines" }).click();
  const lines = fs.readFileSync((await (await waiting).path())!, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.some((l) => l.action === "member.auto_joined" && l.target === joan && l.via === "auto_join")).toBe(true);
});

test("with Suggest, a person at a verified domain is offered “Join” after signing in", async ({ page, browser }) => {
  await ownerOnTeamPage(page, "Suggesting Engines");
  const domain = `suggest-${Date.now()}-${Math.floor(Math.random() * 1e6)}.example`;
  await page.goto("/settings");
  await hydrated(page);
  await page.getByLabel("Domain", { exact: true }).fill(domain);
  await page.getByRole("button", { name: "Add Domain" }).click();
  const domainRow = row(page, domain);
  const token = (await domainRow.locator("code.record").nth(1).innerText()).trim();
  await setTxt(`_roster-challenge.${domain}`, [[token]]);
  await domainRow.getByRole("button", { name: `Verify ${domain}` }).click();
  await expect(row(page, domain)).toContainText("Verified");
  await page.getByLabel(/^Suggest/).check();
  await page.getByRole("button", { name: "Save Auto-join" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Auto-join saved." })).toBeVisible();

  const sam = `sam.${Date.now()}@${domain}`;
  const samPage = await newPage(browser);
  await signUp(samPage, sam, "Sam", "Sam's Shop");
  await verifyAndEnter(samPage, sam);
  const offer = samPage.getByRole("region", { name: "Join Suggesting Engines" });
  await expect(offer).toContainText(`Your address is at ${domain}`);
  await expectAccessible(samPage);
  await hydrated(samPage);
  await offer.getByRole("button", { name: "Join Suggesting Engines" }).click();
  // The page loads again: the offer is gone and the organization is in the switcher.
  await expect(samPage.getByRole("region", { name: "Join Suggesting Engines" })).toHaveCount(0);
  await expect(samPage.locator("#org-switch option", { hasText: "Suggesting Engines" })).toHaveCount(1);
  await samPage.context().close();
  await page.goto("/team");
  await expect(row(page, sam)).toBeVisible();
});
