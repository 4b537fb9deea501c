import { expect, test } from "@playwright/test";
import { copyKey, expectAccessible, ownerOnTeamPage, row, uniqueEmail } from "./helpers";

const roster = process.env.ROSTER_URL ?? "http://127.0.0.1:3000";

test("the Owner's key drives the REST API, and its changes show live on the open Team page", async ({ page }) => {
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  const owner = await ownerOnTeamPage(page);
  const key = await copyKey(page, owner);
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${roster}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const me = await (await api("GET", "/me")).json();
  expect(me.email).toBe(owner);
  expect(me.role).toBe("owner");

  // An invitation made through the API appears on the page without a reload.
  const grace = uniqueEmail("grace");
  const created = await api("POST", "/invitations", {
    email: grace,
    first_name: "Grace",
    last_name: "Hopper",
    role: "member",
  });
  expect(created.status).toBe(201);
  const invitation = await created.json();
  await expect(row(page, grace)).toContainText("Pending");

  // Cancelled through the API, it leaves the page the same way.
  expect((await api("DELETE", `/invitations/${invitation.id}`)).status).toBe(204);
  await expect(row(page, grace)).toHaveCount(0);

  // The session cookie is no key: the browser's own call is refused.
  const refused = await page.evaluate(async () => (await fetch("/api/v1/me")).status);
  expect(refused).toBe(401);
});

test("the API reference is readable and accessible", async ({ page }) => {
  await page.goto("/api/docs");
  await expect(page.getByRole("heading", { level: 1, name: /Roster API/ })).toBeVisible();
  await expect(page.locator("#post-apiv1invitations")).toContainText("Needs: Team Management: Edit");
  await page.getByRole("navigation", { name: "API reference" }).getByRole("link", { name: /members\/\{id\}\/api-key\/refresh/ }).click();
  await expect(page).toHaveURL(/#post-apiv1membersidapi-keyrefresh$/);
  await expectAccessible(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await expectAccessible(page);
});
