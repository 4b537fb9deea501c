import { expect, test } from "@playwright/test";
import {
  expectAccessible,
  hydrated,
  linkIn,
  PASSWORD,
  signIn,
  signUp,
  uniqueEmail,
  verifyAndEnter,
  verifyByEmail,
  waitForEmail,
} from "./helpers";

test("a newcomer signs up, verifies by email, signs in, accepts the terms and signs out", async ({ page }) => {
  const email = uniqueEmail("ada");
  await page.goto("/sign-up");
  await expectAccessible(page);
  await signUp(page, email);
  await expectAccessible(page);

  const mail = await waitForEmail(email, "Verify your email address");
  expect(mail.html).toContain("Verify Email Address");
  await page.goto(linkIn(mail, "/verify-email"));
  await hydrated(page);
  await expectAccessible(page);
  await page.getByRole("button", { name: "Verify Email Address" }).click();
  await expect(page.getByText("Your email address is verified.")).toBeVisible();
  await page.getByRole("link", { name: "Sign In" }).click();

  await expect(page).toHaveURL(/\/sign-in$/);
  await expectAccessible(page);
  await signIn(page, email);

  await expect(page).toHaveURL(/\/terms$/);
  await expect(page.getByRole("heading", { name: "Terms of Use" })).toBeVisible();
  await expectAccessible(page);
  await hydrated(page);
  await page.getByRole("button", { name: "I Accept" }).click();

  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Welcome, Ada" })).toBeVisible();
  await expect(page.getByText("Analytical Engines").first()).toBeVisible();
  await expectAccessible(page);

  await hydrated(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in$/);
});

test("a wrong password gets a plain message and no session", async ({ page }) => {
  const email = uniqueEmail("grace");
  await signUp(page, email, "Grace");
  await verifyByEmail(page, email);

  await signIn(page, email, "not the password at all");
  await expect(page.getByRole("alert").filter({ hasText: "The email address or password is incorrect." })).toBeVisible();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expectAccessible(page);
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/sign-in$/);
});

test("an unverified account is told to verify and can have the email sent again", async ({ page }) => {
  const email = uniqueEmail("hopper");
  await signUp(page, email, "Grace");
  await waitForEmail(email, "Verify your email address");

  await signIn(page, email, PASSWORD);
  await expect(page.getByText("Please verify your email address first")).toBeVisible();
  await page.getByRole("button", { name: "Resend verification email" }).click();
  await expect(page.getByText("a new link is on its way")).toBeVisible();
  await verifyByEmail(page, email, 2);
});

test("field errors appear next to their fields and keep what was typed", async ({ page }) => {
  await page.goto("/sign-up");
  await hydrated(page);
  await page.getByLabel("First Name").fill("Ada");
  await page.getByLabel("Email Address").fill("not-an-email");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Sign Up" }).click();
  await expect(page.getByText("Enter a valid email address, like name@example.com.")).toBeVisible();
  await expect(page.getByText("Use at least 12 characters (you have 5).")).toBeVisible();
  await expect(page.getByText("Enter a last name.")).toBeVisible();
  await expect(page.getByLabel("First Name")).toHaveValue("Ada");
  await expect(page.getByLabel("Email Address")).toHaveAttribute("aria-invalid", "true");
  await expectAccessible(page);
});

test("forgot password sends a link that sets a new password", async ({ page }) => {
  const email = uniqueEmail("lin");
  await signUp(page, email, "Lin");
  await waitForEmail(email, "Verify your email address");

  await page.goto("/forgot-password");
  await hydrated(page);
  await expectAccessible(page);
  await page.getByLabel("Email Address").fill(email);
  await page.getByRole("button", { name: "Send Reset Link" }).click();
  await expect(page.getByText("a link to reset the password is on its way")).toBeVisible();
  const mail = await waitForEmail(email, "Reset your Roster password");

  await page.goto(linkIn(mail, "/reset-password"));
  await hydrated(page);
  await expectAccessible(page);
  await page.getByLabel("New Password").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Reset Password" }).click();
  await expect(page.getByText("Your password was changed")).toBeVisible();

  await signIn(page, email, "a brand new passphrase");
  await expect(page).toHaveURL(/\/terms$/);
});

test("a member edits their profile and sees the change confirmed", async ({ page }) => {
  const email = uniqueEmail("mary");
  await signUp(page, email, "Mary");
  await verifyAndEnter(page, email);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profile" }).click();
  await expect(page.getByRole("heading", { name: "Profile" })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await page.getByLabel("Mobile Number").fill("letters");
  await page.getByRole("button", { name: "Save Profile" }).click();
  await expect(page.getByText("Enter a mobile number of 6 to 20 digits")).toBeVisible();
  await page.getByLabel("First Name").fill("Mary Ann");
  await page.getByLabel("Mobile Number").fill("+1 555 010 2030");
  await page.getByRole("button", { name: "Save Profile" }).click();
  await expect(page.getByRole("status").getByText("Profile saved.")).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("First Name")).toHaveValue("Mary Ann");
  await expect(page.getByLabel("Mobile Number")).toHaveValue("+1 555 010 2030");

  await hydrated(page);
  await page.getByLabel("Current Password").fill("not my password at all");
  await page.getByLabel("New Password").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Change Password" }).click();
  await expect(page.getByText("Your current password is incorrect.")).toBeVisible();
  await expectAccessible(page);
});

test("\"I Accept\" pressed before the page has hydrated still accepts the terms", async ({ page }) => {
  const email = uniqueEmail("early");
  await signUp(page, email);
  await verifyByEmail(page, email);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/terms$/);
  // Hold the WebAssembly back, load the terms afresh and press at once: the form posts
  // natively, and the browser must still arrive on Overview with the terms accepted.
  await page.route("**/*.wasm", async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await route.continue();
  });
  await page.goto("/terms");
  await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
  await page.getByRole("button", { name: "I Accept" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.unroute("**/*.wasm");
  // Accepted for good: Overview opens on a fresh load instead of sending them to the terms.
  await page.goto("/");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Analytical Engines" })).toBeVisible();
});
