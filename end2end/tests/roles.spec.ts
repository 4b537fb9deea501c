import { expect, Page, test } from "@playwright/test";
import {
  expectAccessible,
  hydrated,
  invite,
  joinByInvitation,
  ownerOnTeamPage,
  row,
  uniqueEmail,
  waitForEmail,
  PERMISSION_DENIED as DENIED,
} from "./helpers";

/** The row of the live preview (or any matrix) for `label`, read as its Yes/No cells. */
async function previewRow(page: Page, label: string): Promise<string[]> {
  const cells = page.locator(".preview tr").filter({ has: page.getByRole("rowheader", { name: label, exact: true }) }).locator("td");
  return (await cells.allInnerTexts()).map((t) => (t.includes("Yes") ? "Yes" : "No"));
}

async function openRoles(page: Page) {
  await page.goto("/roles");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Roles", level: 1 })).toBeVisible();
}

test("a Finance role from its template: its member sees Billing and is refused Team Management", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  await openRoles(page);
  await expect(page.getByText("No custom roles yet.")).toBeVisible();
  // The built-in comparison, as in the product docs.
  const comparison = page.locator("#builtin-comparison");
  await expect(comparison.getByRole("columnheader", { name: "Visitor" })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("button", { name: "New Role" }).click();
  await page.getByRole("button", { name: "Finance", exact: true }).click();
  await expect(page.getByLabel("Role name")).toHaveValue("Finance");
  // Seed 002's matrix: Administrator, Visitor, then this role.
  expect(await previewRow(page, "Manage Billing")).toEqual(["No", "No", "Yes"]);
  expect(await previewRow(page, "Download Reports")).toEqual(["Yes", "No", "Yes"]);
  expect(await previewRow(page, "Invite Teammates")).toEqual(["Yes", "No", "No"]);
  expect(await previewRow(page, "View Analytics")).toEqual(["Yes", "Yes", "Yes"]);
  await expect(page.getByRole("radio", { name: "Billing: Full" })).toBeChecked();
  await expectAccessible(page);
  await page.getByRole("button", { name: "Save Role" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Role Finance saved." })).toBeVisible();
  const finance = page.getByRole("row").filter({ hasText: "Finance" });
  await expect(finance.getByText("Billing: Full + Download")).toBeVisible();

  // Invite someone with it.
  await page.goto("/team");
  await hydrated(page);
  const fiona = uniqueEmail("fiona");
  await invite(page, fiona, "Fiona", "Finance");
  await expect(row(page, fiona).getByRole("cell", { name: "Finance", exact: true })).toBeVisible();
  const member = await joinByInvitation(browser, fiona);

  // Billing is in the menu and works; Team is not, and a direct visit is refused.
  const nav = member.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Billing" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Team" })).toHaveCount(0);
  await nav.getByRole("link", { name: "Billing" }).click();
  await expect(member).toHaveURL(/\/billing$/);
  await hydrated(member);
  await expect(member.locator("#seat-usage")).toHaveText("2/50");
  await expectAccessible(member);
  const limit = member.getByRole("spinbutton", { name: "Seat limit" });
  await limit.fill("1");
  await member.getByRole("button", { name: "Lower Limit" }).click();
  await expect(member.getByText("2 seats are in use, so the limit cannot be lower.")).toBeVisible();
  await limit.fill("75");
  await member.getByRole("button", { name: "Upgrade" }).click();
  await expect(member.getByRole("status").filter({ hasText: "Seat limit is now 75." })).toBeVisible();
  await expect(member.locator("#seat-usage")).toHaveText("2/75");

  await member.goto("/team");
  await hydrated(member);
  await expect(member.getByRole("alert").filter({ hasText: DENIED })).toBeVisible();
  await expect(member.getByRole("button", { name: "Invite User" })).toHaveCount(0);
  await expectAccessible(member);

  // The Owner's Team page shows the new limit.
  await page.reload();
  await hydrated(page);
  await expect(page.getByText("2/75 seats")).toBeVisible();
});

test("a custom role can edit in the US and only view in the EU", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  await openRoles(page);
  await page.getByRole("button", { name: "New Role" }).click();
  await page.getByLabel("Role name").fill("Docs Writer");
  await page.getByRole("tab", { name: "Region US" }).click();
  await page.getByRole("radio", { name: "Documentation: Edit" }).check();
  // The tabs follow the arrow keys.
  await page.getByRole("tab", { name: "Region US" }).press("ArrowRight");
  await expect(page.getByRole("tab", { name: "Region EU" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByRole("tab", { name: "Region EU" })).toBeFocused();
  await expect(page.getByRole("radio", { name: "Documentation: No access" })).toBeChecked();
  await page.getByRole("radio", { name: "Documentation: View" }).check();
  await page.getByRole("tab", { name: "Region US" }).click();
  await expect(page.getByRole("radio", { name: "Documentation: Edit" })).toBeChecked();
  await expectAccessible(page);
  await page.getByRole("button", { name: "Save Role" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Role Docs Writer saved." })).toBeVisible();
  await expect(page.getByText("Documentation: Edit (US), View (EU)")).toBeVisible();

  await page.goto("/team");
  await hydrated(page);
  const dora = uniqueEmail("dora");
  await invite(page, dora, "Dora", "Docs Writer");
  const member = await joinByInvitation(browser, dora);
  await member.goto("/profile");
  await hydrated(member);
  await expect(member.getByText("Your role in Analytical Engines is Docs Writer.")).toBeVisible();
  const docs = member.locator("#your-access tr").filter({ has: member.getByRole("rowheader", { name: "Documentation" }) });
  await expect(docs.locator("td").nth(0)).toHaveText("Edit");
  await expect(docs.locator("td").nth(1)).toHaveText("View");
  await expectAccessible(member);

  // The Owner changes EU to Edit too; the member's next page load shows it.
  await openRoles(page);
  await page.getByRole("button", { name: "Edit Docs Writer" }).click();
  await page.getByRole("tab", { name: "Region US" }).click();
  await page.getByRole("button", { name: "Copy to every region" }).click();
  await page.getByRole("button", { name: "Save Role" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Role Docs Writer saved." })).toBeVisible();
  await member.reload();
  await expect(docs.locator("td").nth(1)).toHaveText("Edit");

  // Deleting a role in use asks where its members go.
  await page.getByRole("button", { name: "Delete Docs Writer" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete Docs Writer?" });
  await expect(dialog.getByText("1 person holds this role.")).toBeVisible();
  await dialog.getByLabel("Move its members to").selectOption({ label: "Visitor" });
  await expectAccessible(page);
  await dialog.getByRole("button", { name: "Delete Role" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Role Docs Writer deleted." })).toBeVisible();
  await member.reload();
  await expect(member.getByText("Your role in Analytical Engines is Visitor.")).toBeVisible();
});

test("the Owner hands the organization to an Admin", async ({ page, browser }) => {
  const owner = await ownerOnTeamPage(page);
  const bob = uniqueEmail("bob");
  await invite(page, bob, "Bob", "Admin");
  const admin = await joinByInvitation(browser, bob);

  // Only the Owner sees the transfer.
  await openRoles(admin);
  await expect(admin.getByRole("heading", { name: "Transfer ownership" })).toHaveCount(0);

  await openRoles(page);
  const section = page.locator("section").filter({ has: page.getByRole("heading", { name: "Transfer ownership" }) });
  await section.getByLabel("New Owner").selectOption({ label: `Bob Hopper (${bob})` });
  await section.getByLabel("Type the organization name to confirm").fill("Analytical Engine");
  await section.getByRole("button", { name: "Transfer Ownership" }).click();
  await expect(section.getByText("Type the organization name, Analytical Engines, exactly to confirm.")).toBeVisible();
  await expectAccessible(page);
  await section.getByLabel("Type the organization name to confirm").fill("Analytical Engines");
  await section.getByRole("button", { name: "Transfer Ownership" }).click();
  await expect(page.getByRole("heading", { name: "Transfer ownership" })).toHaveCount(0);

  await waitForEmail(owner, "Bob Hopper now owns Analytical Engines");
  await waitForEmail(bob, "Bob Hopper now owns Analytical Engines");
  await page.goto("/team");
  await hydrated(page);
  await expect(row(page, owner).getByRole("cell", { name: "Admin", exact: true })).toBeVisible();
  await expect(row(page, bob).getByRole("cell", { name: "Owner", exact: true })).toBeVisible();
  // The former Owner, now an Admin, cannot act on the new Owner.
  await expect(row(page, bob).getByRole("button")).toHaveCount(0);
  await openRoles(admin);
  await expect(admin.getByRole("heading", { name: "Transfer ownership" })).toBeVisible();
});
