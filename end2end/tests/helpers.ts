import AxeBuilder from "@axe-core/playwright";
import { Browser, expect, Page } from "@playwright/test";

const mailApi = process.env.MAILDEV_URL ?? "http://127.0.0.1:1080";

export const PASSWORD = "correct horse battery";

/** Seed 002's sentence for an action the role does not allow. */
export const PERMISSION_DENIED =
  "Sorry, you don't have permission to use this feature. If access is required, please reach out to your team administrator.";

/** A fresh address per test, so runs never collide. */
export function uniqueEmail(name: string): string {
  return `${name}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

type Mail = { subject: string; text: string; html: string; to: { address: string }[] };

/** Waits until an email to `to` whose subject contains `subject` reaches the SMTP capture server. */
export async function waitForEmail(to: string, subject: string, count = 1): Promise<Mail> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${mailApi}/api/email`);
    const all = (await res.json()) as Mail[];
    const matching = all.filter(
      (m) => m.to.some((t) => t.address.toLowerCase() === to.toLowerCase()) && m.subject.includes(subject),
    );
    if (matching.length >= count) return matching[matching.length - 1];
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no email "${subject}" reached ${to}`);
}

/** The first link in an email's text part that goes to `path`. */
export function linkIn(mail: Mail, path: string): string {
  const match = mail.text.match(new RegExp(`https?://\\S+${path}\\?token=\\S+`));
  if (!match) throw new Error(`no ${path} link in: ${mail.text}`);
  return match[0];
}

/** Fails on any serious or critical accessibility violation on the page as it is now. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

/** Waits until the WASM has hydrated the page, so clicks reach their handlers. */
export async function hydrated(page: Page) {
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
}

export async function signUp(page: Page, email: string, first = "Ada", org = "Analytical Engines") {
  await page.goto("/sign-up");
  await hydrated(page);
  await page.getByLabel("First Name").fill(first);
  await page.getByLabel("Last Name").fill("Lovelace");
  await page.getByLabel("Email Address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Organization Name").fill(org);
  await page.getByRole("button", { name: "Sign Up" }).click();
  await expect(page.getByText("Check your email.")).toBeVisible();
}

export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/sign-in");
  await hydrated(page);
  await page.getByLabel("Email Address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign In" }).click();
}

/** Follows the newest verification link emailed to `email` and verifies the address. */
export async function verifyByEmail(page: Page, email: string, count = 1) {
  const mail = await waitForEmail(email, "Verify your email address", count);
  await page.goto(linkIn(mail, "/verify-email"));
  await hydrated(page);
  await page.getByRole("button", { name: "Verify Email Address" }).click();
  await expect(page.getByText("Your email address is verified.")).toBeVisible();
}

/** Verifies the address from the email, signs in, accepts the terms and lands on Overview. */
export async function verifyAndEnter(page: Page, email: string) {
  await verifyByEmail(page, email);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/terms$/);
  await hydrated(page);
  await page.getByRole("button", { name: "I Accept" }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** A new organization whose Owner is signed in and on the Team page. */
export async function ownerOnTeamPage(page: Page, org = "Analytical Engines"): Promise<string> {
  const email = uniqueEmail("owner");
  await signUp(page, email, "Ada", org);
  await verifyAndEnter(page, email);
  await page.goto("/team");
  await hydrated(page);
  return email;
}

export async function invite(page: Page, email: string, first: string, role = "Member") {
  await page.getByRole("button", { name: "Invite User" }).click();
  const dialog = page.getByRole("dialog", { name: "Invite User" });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel("First Name").fill(first);
  await dialog.getByLabel("Last Name").fill("Hopper");
  await dialog.getByLabel("Email Address").fill(email);
  await dialog.getByLabel("Role").selectOption({ label: role });
  await dialog.getByRole("button", { name: "Invite User" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("status").filter({ hasText: `Invitation sent to ${email}.` })).toBeVisible();
}

export function row(page: Page, email: string) {
  return page.getByRole("row").filter({ hasText: email });
}

/** Opens the row's actions menu (unless open) and returns its item with this label. */
export async function rowAction(page: Page, email: string, label: string) {
  const r = row(page, email);
  const button = r.getByRole("button", { name: /^Actions for / });
  if ((await button.getAttribute("aria-expanded")) !== "true") await button.click();
  return r.getByRole("menuitem", { name: label, exact: true });
}

export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

/** The invitee follows the emailed link, registers, verifies, signs in and accepts the terms. */
export async function joinByInvitation(browser: Browser, email: string, org = "Analytical Engines"): Promise<Page> {
  const mail = await waitForEmail(email, `invited you to join ${org}`);
  const page = await newPage(browser);
  await page.goto(linkIn(mail, "/invitation"));
  await hydrated(page);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register and Accept Invite" }).click();
  await expect(page.getByText("Check your email.")).toBeVisible();
  await verifyAndEnter(page, email);
  return page;
}

// scripts/test runs nginx with deploy/nginx/roster-gateway.conf in front of an echo upstream.
const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

export async function callApi(key: string, path = "/products/widgets") {
  const res = await fetch(`${gateway}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: res.status, reason: res.headers.get("x-roster-reason"), body: await res.json() };
}

/** "Copy API Key" from the row's menu, read back from the clipboard. */
export async function copyKey(page: Page, email: string): Promise<string> {
  await (await rowAction(page, email, "Copy API Key")).click();
  await expect(page.getByRole("status").filter({ hasText: "API key copied" }).last()).toBeVisible();
  // The clipboard may still hold a key copied a moment before: wait for this row's key, whose
  // first characters the row shows.
  let key = "";
  await expect(async () => {
    key = await page.evaluate(() => navigator.clipboard.readText());
    expect(key).toMatch(/^rst_[0-9A-Za-z]{36}$/);
    await expect(row(page, email).getByText(key.slice(0, 7) + "…")).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 10_000 });
  return key;
}
