import { expect, test } from "@playwright/test";
import {
  callApi,
  copyKey,
  expectAccessible,
  hydrated,
  invite,
  joinByInvitation,
  ownerOnTeamPage,
  row,
  rowAction,
  uniqueEmail,
} from "./helpers";

test("the Owner copies a member's key, the API takes it through nginx, and Refresh replaces it", async ({ page, browser }) => {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await ownerOnTeamPage(page);
  const dev = uniqueEmail("dev");
  const visitor = uniqueEmail("visitor");
  await invite(page, dev, "Grace", "Admin");
  const devPage = await joinByInvitation(browser, dev);
  await invite(page, visitor, "Vera", "Visitor");
  const visitorPage = await joinByInvitation(browser, visitor);
  await page.reload();
  await hydrated(page);

  // Copy: the clipboard holds the key, and the API behind nginx knows who calls.
  const key = await copyKey(page, dev);
  const first = await callApi(key);
  expect(first.status).toBe(200);
  expect(first.body.headers["x-roster-email"]).toBe(dev);
  expect(first.body.headers["authorization"]).toBeUndefined();
  // The row shows the key's first characters and, once counted, when it was last used.
  await expect(row(page, dev).getByText(key.slice(0, 7) + "…")).toBeVisible();
  await expect(async () => {
    await page.reload();
    await expect(row(page, dev).getByText(/last used \d/)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await hydrated(page);

  // Refresh, "Immediately": the old key is refused at once, the new one works.
  await (await rowAction(page, dev, "Refresh")).click();
  const ask = page.getByRole("dialog", { name: /^Refresh .* API key\?$/ });
  await expect(ask).toBeVisible();
  await expect(ask.getByRole("radio", { name: "24 hours" })).toBeVisible();
  await expectAccessible(page);
  await ask.getByRole("radio", { name: "Immediately" }).check();
  await ask.getByRole("button", { name: "Refresh" }).click();
  await expect(page.getByRole("status").filter({ hasText: "New API key made." })).toBeVisible();
  const old = await callApi(key);
  expect([old.status, old.reason]).toEqual([401, "key_expired"]);
  const renewed = await copyKey(page, dev);
  expect(renewed).not.toBe(key);
  expect((await callApi(renewed)).status).toBe(200);

  // Refresh with time to spare: the row says when the old key stops.
  await (await rowAction(page, dev, "Refresh")).click();
  await ask.getByRole("radio", { name: "1 hour" }).check();
  await ask.getByRole("button", { name: "Refresh" }).click();
  await expect(row(page, dev).getByText(/Old key rst_\w{3}… works until/)).toBeVisible();
  expect((await callApi(renewed)).status).toBe(200);
  await expectAccessible(page);

  // The member sees their own key on Profile; where the browser cannot copy, a dialog
  // shows it to select.
  await devPage.addInitScript(() => Object.defineProperty(navigator, "clipboard", { value: undefined }));
  await devPage.goto("/profile");
  await hydrated(devPage);
  const own = devPage.getByRole("region", { name: "Your API key" });
  await expect(own).toBeVisible();
  await own.getByRole("button", { name: "Copy API Key" }).click();
  const shown = devPage.getByRole("dialog", { name: "API key" });
  await expect(shown).toBeVisible();
  const current = await shown.getByLabel("API key").inputValue();
  expect(current).toMatch(/^rst_/);
  expect(current).not.toBe(renewed);
  await expect(own.getByText(current.slice(0, 7) + "…")).toBeVisible();
  await expectAccessible(devPage);
  await shown.getByRole("button", { name: "Done" }).click();
  expect((await callApi(current)).status).toBe(200);

  // A Visitor sees no key actions, on the Team page or on Profile.
  await visitorPage.goto("/team");
  await hydrated(visitorPage);
  await (await rowAction(visitorPage, visitor, "Leave")).waitFor();
  await expect(visitorPage.getByRole("menuitem", { name: "Copy API Key" })).toHaveCount(0);
  await expect(visitorPage.getByRole("menuitem", { name: "Refresh" })).toHaveCount(0);
  await expect(visitorPage.getByText(/^API key /)).toHaveCount(0);
  await visitorPage.goto("/profile");
  await hydrated(visitorPage);
  await expect(visitorPage.getByRole("heading", { name: "Your access" })).toBeVisible();
  await expect(visitorPage.getByRole("heading", { name: "Your API key" })).toHaveCount(0);
});
