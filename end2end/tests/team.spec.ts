import { expect, test } from "@playwright/test";
import {
  expectAccessible,
  hydrated,
  invite,
  linkIn,
  newPage,
  ownerOnTeamPage,
  PASSWORD,
  row,
  rowAction,
  uniqueEmail,
  verifyAndEnter,
  waitForEmail,
} from "./helpers";

test("an invitee registers through the emailed link and turns Active on the admin's open page", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  await expectAccessible(page);
  const grace = uniqueEmail("grace");
  await page.getByRole("button", { name: "Invite User" }).click();
  await expectAccessible(page);
  await page.keyboard.press("Escape");
  await invite(page, grace, "Grace");
  await expect(row(page, grace).getByText("Pending")).toBeVisible();

  const mail = await waitForEmail(grace, "invited you to join Analytical Engines");
  const invitee = await newPage(browser);
  await invitee.goto(linkIn(mail, "/invitation"));
  await hydrated(invitee);
  await expect(invitee.getByText("Ada Lovelace of Analytical Engines invited you to join as Member.")).toBeVisible();
  await expect(invitee.getByLabel("Email Address")).toHaveValue(grace);
  await expect(invitee.getByLabel("Email Address")).toHaveAttribute("readonly", "");
  await expectAccessible(invitee);
  await invitee.getByLabel("Password").fill(PASSWORD);
  await invitee.getByRole("button", { name: "Register and Accept Invite" }).click();
  await expect(invitee.getByText("Check your email.")).toBeVisible();

  // The admin's page, never reloaded, hears about it within a moment.
  await expect(row(page, grace).getByText("Active")).toBeVisible({ timeout: 3_000 });

  await verifyAndEnter(invitee, grace);
  await expect(invitee.getByText("Analytical Engines").first()).toBeVisible();

  // A Member sees the list, read-only.
  await invitee.goto("/team");
  await hydrated(invitee);
  await expect(row(invitee, grace)).toBeVisible();
  await expect(invitee.getByRole("button", { name: "Invite User" })).toHaveCount(0);
  await expect(invitee.getByRole("button", { name: "Bulk Invite" })).toHaveCount(0);
  await expect(invitee.getByRole("button", { name: "Resend Invitation" })).toHaveCount(0);
  // The one actions menu is on their own row, and it holds only "Leave". It works from the
  // keyboard: Down opens it on the first item, Esc closes it and gives focus back.
  const menus = invitee.getByRole("button", { name: /^Actions for / });
  await expect(menus).toHaveCount(1);
  const own = row(invitee, grace).getByRole("button", { name: /^Actions for / });
  await own.focus();
  await invitee.keyboard.press("ArrowDown");
  const leave = row(invitee, grace).getByRole("menuitem", { name: "Leave" });
  await expect(leave).toBeFocused();
  await expect(own).toHaveAttribute("aria-expanded", "true");
  await expect(row(invitee, grace).getByRole("menuitem")).toHaveCount(1);
  await expectAccessible(invitee);
  await invitee.keyboard.press("Escape");
  await expect(leave).toBeHidden();
  await expect(own).toBeFocused();
  await expectAccessible(invitee);

  // The Owner manages the new member; the member's open page follows along.
  await (await rowAction(page, grace, "Promote")).click();
  await expect(row(page, grace).getByRole("cell", { name: "Admin", exact: true })).toBeVisible();
  // The list is drawn anew after a change: focus comes back to the row's menu button.
  await expect(row(page, grace).getByRole("button", { name: /^Actions for / })).toBeFocused();
  await expect(row(invitee, grace).getByRole("cell", { name: "Admin", exact: true })).toBeVisible({ timeout: 3_000 });
  await (await rowAction(page, grace, "Demote")).click();
  await expect(row(page, grace).getByRole("cell", { name: "Member", exact: true })).toBeVisible();
  await (await rowAction(page, grace, "Revoke")).click();
  const confirm = page.getByRole("dialog", { name: /^Revoke/ });
  await expect(confirm).toBeVisible();
  await expectAccessible(page);
  await confirm.getByRole("button", { name: "Revoke" }).click();
  await expect(row(page, grace).getByText("Disabled")).toBeVisible();
  // A disabled member's session stops working on the next request.
  await invitee.goto("/team");
  await expect(invitee).toHaveURL(/\/sign-in$/);
  await (await rowAction(page, grace, "Activate")).click();
  await expect(row(page, grace).getByText("Active")).toBeVisible();
  await (await rowAction(page, grace, "Edit")).click();
  const edit = page.getByRole("dialog", { name: /^Edit/ });
  await edit.getByLabel("Mobile Number").fill("12");
  await edit.getByRole("button", { name: "Save Changes" }).click();
  await expect(edit.getByText("Enter a mobile number")).toBeVisible();
  await expectAccessible(page);
  await edit.getByLabel("First Name").fill("Amazing Grace");
  await edit.getByLabel("Mobile Number").fill("+44 20 7946 0958");
  await edit.getByRole("button", { name: "Save Changes" }).click();
  await expect(edit).toBeHidden();
  await expect(row(page, grace).getByText("Amazing Grace Hopper")).toBeVisible();
  await expect(row(page, grace).getByRole("button", { name: /^Actions for / })).toBeFocused();
  await (await rowAction(page, grace, "Remove")).click();
  await page.getByRole("dialog", { name: /^Remove/ }).getByRole("button", { name: "Remove" }).click();
  await expect(row(page, grace)).toHaveCount(0);
});

test("resending replaces the link; cancelling kills it and frees the seat", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  const kim = uniqueEmail("kim");
  await invite(page, kim, "Kim");
  await expect(page.getByText("2/50 seats")).toBeVisible();
  const first = linkIn(await waitForEmail(kim, "invited you"), "/invitation");

  // Just sent: the button waits out the resend cool-down, then sends again.
  const resend = row(page, kim).getByRole("button", { name: "Resend Invitation" });
  await expect(resend).toBeDisabled();
  await expect(resend).toHaveText("Resend Invitation (sent just now)");
  await expect(resend).toBeEnabled({ timeout: 10_000 });
  await resend.click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation sent again to ${kim}.` })).toBeVisible();
  const second = linkIn(await waitForEmail(kim, "invited you", 2), "/invitation");
  expect(second).not.toEqual(first);

  const visitor = await newPage(browser);
  await visitor.goto(first);
  await expect(visitor.getByRole("alert")).toContainText("no longer valid");
  await expect(visitor.getByLabel("Password")).toHaveCount(0);
  await expectAccessible(visitor);

  await (await rowAction(page, kim, "Copy invite link")).click();
  const linkDialog = page.getByRole("dialog", { name: "Invite link" });
  await expect(linkDialog.getByLabel("Invite link")).toHaveValue(/\/invitation\?token=/);
  await expectAccessible(page);
  await page.keyboard.press("Escape");

  await (await rowAction(page, kim, "Cancel")).click();
  const confirm = page.getByRole("dialog", { name: "Cancel this invitation?" });
  await confirm.getByRole("button", { name: "Cancel Invitation" }).click();
  await expect(row(page, kim)).toHaveCount(0);
  await expect(page.getByText("1/50 seats")).toBeVisible();
  await visitor.goto(second);
  await expect(visitor.getByRole("alert")).toContainText("Ask your administrator to resend it");
});

test("bulk invite reports every line and the seat limit stops further invitations", async ({ page }) => {
  await ownerOnTeamPage(page);
  const tag = `${Date.now()}${Math.floor(Math.random() * 1e4)}`;
  const good = (i: number) => `bulk${i}.${tag}@example.com`;
  await page.getByRole("button", { name: "Bulk Invite" }).click();
  const dialog = page.getByRole("dialog", { name: "Bulk Invite" });
  await dialog
    .getByLabel("Email addresses (one per line)")
    .fill([`Alan Turing <${good(1)}>`, "not an address", `${good(2)}; ${good(1)}`].join("\n"));
  await dialog.getByRole("button", { name: "Send Invitations" }).click();
  await expect(dialog.getByText("2 invited, 2 not invited.")).toBeVisible();
  const results = dialog.getByRole("list", { name: "Results" });
  await expect(results.getByRole("listitem")).toHaveText([
    `Alan Turing <${good(1)}>Invited`,
    "not an addressInvalid address",
    `${good(2)}Invited`,
    `${good(1)}Duplicate in the list`,
  ]);
  await expectAccessible(page);
  await dialog.getByRole("button", { name: "Done" }).click();
  await expect(row(page, good(1)).getByText("Alan Turing")).toBeVisible();
  await waitForEmail(good(2), "invited you");

  // Fill the remaining 47 seats in one go, then one more is over the limit.
  await page.getByRole("button", { name: "Bulk Invite" }).click();
  const rest = Array.from({ length: 48 }, (_, i) => good(i + 10)).join("\n");
  await dialog.getByLabel("Email addresses (one per line)").fill(rest);
  await dialog.getByRole("button", { name: "Send Invitations" }).click();
  await expect(dialog.getByText("47 invited, 1 not invited.")).toBeVisible();
  await expect(results.getByRole("listitem").last()).toHaveText(`${good(57)}Over the seat limit`);
  await dialog.getByRole("button", { name: "Done" }).click();

  await expect(page.getByText("50/50 seats")).toBeVisible();
  await expect(page.getByRole("button", { name: "Invite User" })).toBeDisabled();
  await expect(page.getByRole("button", { name: "Bulk Invite" })).toBeDisabled();
  await expect(page.getByText("Your organization has used all 50 seats.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Upgrade" })).toHaveAttribute("href", "/billing");
  await expectAccessible(page);

  // Search, filter and paging run on the server.
  await page.getByLabel("Search").fill(good(12));
  await expect(page.getByRole("row")).toHaveCount(2);
  // The view lives in the address: a reload shows the same thing.
  await expect(page).toHaveURL(/[?&]q=bulk12/);
  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Search")).toHaveValue(good(12));
  await expect(page.getByRole("row")).toHaveCount(2);
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByRole("button", { name: "Email" }).click();
  await expect(page).toHaveURL(/sort=email&order=asc/);
  await expect(page.getByRole("columnheader", { name: "Email" })).toHaveAttribute("aria-sort", "ascending");
  await expect(page.getByText("1–50 of 50")).toBeVisible();
  await page.getByLabel("Status").selectOption({ label: "Active" });
  await expect(page.getByRole("row")).toHaveCount(2);
});

test("someone with an account signs in to accept, then switches between organizations", async ({ page, browser }) => {
  await ownerOnTeamPage(page);
  // Bob already owns an organization of his own.
  const other = await newPage(browser);
  const bob = await ownerOnTeamPage(other, "Babbage Ltd");
  await invite(page, bob, "Bob", "Admin");

  const mail = await waitForEmail(bob, "invited you to join Analytical Engines");
  const fresh = await newPage(browser);
  await fresh.goto(linkIn(mail, "/invitation"));
  await hydrated(fresh);
  await expect(fresh.getByText("Ada Lovelace of Analytical Engines invited you to join as Admin.")).toBeVisible();
  // The page does not tell whether the address has an account: both choices are offered.
  await expect(fresh.getByRole("button", { name: "Register and Accept Invite" })).toBeVisible();
  await fresh.getByRole("link", { name: "Sign in to accept" }).click();
  await expect(fresh.getByText("Sign in with your Roster account to accept.")).toBeVisible();
  await hydrated(fresh);
  await expectAccessible(fresh);
  await fresh.getByLabel("Password").fill("not the password");
  await fresh.getByRole("button", { name: "Sign in to accept" }).click();
  await expect(fresh.getByRole("alert").filter({ hasText: "The email address or password is incorrect." })).toBeVisible();
  await fresh.getByLabel("Password").fill(PASSWORD);
  await fresh.getByRole("button", { name: "Sign in to accept" }).click();
  await expect(fresh).toHaveURL(/\/team$/);
  await expect(row(fresh, bob).getByRole("cell", { name: "Admin", exact: true })).toBeVisible();
  await expect(row(page, bob).getByText("Active")).toBeVisible({ timeout: 3_000 });

  // Two organizations: a switcher in the menu and a default on the Profile page.
  const switcher = fresh.getByLabel("Organization", { exact: true });
  await expect(switcher.getByRole("option")).toHaveCount(2);
  await expectAccessible(fresh);
  await hydrated(fresh);
  await switcher.selectOption({ label: "Babbage Ltd" });
  await expect(fresh).toHaveURL(/\/$/);
  await expect(fresh.getByRole("heading", { name: "Babbage Ltd" })).toBeVisible();
  await fresh.goto("/profile");
  await hydrated(fresh);
  const choice = fresh.getByLabel("Default organization");
  await expect(choice.getByRole("option")).toHaveCount(2);
  await choice.selectOption({ label: "Analytical Engines" });
  await fresh.getByRole("button", { name: "Save Default" }).click();
  await expect(fresh.getByRole("status").filter({ hasText: "Default organization saved." })).toBeVisible();
  await expectAccessible(fresh);
});

test("Next and Previous page through a team of more than fifty, and a reload keeps the page", async ({ page }) => {
  await ownerOnTeamPage(page);
  // Room for 70 seats, then 64 invitations in one go: 65 rows, two pages.
  await page.goto("/billing");
  await hydrated(page);
  await page.getByRole("spinbutton", { name: "Seat limit" }).fill("70");
  await page.getByRole("button", { name: "Upgrade" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Seat limit is now 70." })).toBeVisible();
  await page.goto("/team");
  await hydrated(page);
  const tag = uniqueEmail("page").split("@")[0];
  const list = Array.from({ length: 64 }, (_, i) => `${tag}-${String(i).padStart(2, "0")}@example.com`).join("\n");
  await page.getByRole("button", { name: "Bulk Invite" }).click();
  const dialog = page.getByRole("dialog", { name: "Bulk Invite" });
  await dialog.getByLabel("Email addresses (one per line)").fill(list);
  await dialog.getByRole("button", { name: "Send Invitations" }).click();
  await expect(dialog.getByText("64 invited, 0 not invited.")).toBeVisible();
  await dialog.getByRole("button", { name: "Done" }).click();

  await page.getByRole("button", { name: "Email" }).click();
  await expect(page.getByText("1–50 of 65 · Page 1 of 2")).toBeVisible();
  const firstOnPage1 = await page.getByRole("row").nth(1).textContent();
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("51–65 of 65 · Page 2 of 2")).toBeVisible();
  await expect(page).toHaveURL(/page=2&at=a\.[mi]\d+/);
  await expect(page.getByRole("row")).toHaveCount(16);
  await expect(page.getByRole("button", { name: "Next" })).toBeDisabled();
  // The last address by email sorts last.
  await expect(page.getByRole("row").last()).toContainText(`${tag}-63@example.com`);
  await expectAccessible(page);
  await page.reload();
  await hydrated(page);
  await expect(page.getByText("51–65 of 65 · Page 2 of 2")).toBeVisible();
  await page.getByRole("button", { name: "Previous" }).click();
  await expect(page.getByText("1–50 of 65 · Page 1 of 2")).toBeVisible();
  await expect(page).toHaveURL(/page=1&at=b\.[mi]\d+/);
  await expect(page.getByRole("row").nth(1)).toHaveText(firstOnPage1 ?? "");
});
