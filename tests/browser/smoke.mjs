// Drives Debian's chromium through playwright-core: sign in, read the home page, receive a live
// notification over the websocket, switch language. Prints "READY" once the notification socket is open,
// then one line "RESULT <json>" with what it saw; the Python test makes the assertions.
import { chromium } from "playwright-core";

const [baseUrl, username, password] = process.argv.slice(2);
const TIMEOUT = 15000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  // Root (as in CI containers) cannot use chromium's sandbox.
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
const result = { offsiteRequests: [], pageErrors: [] };
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const origin = new URL(baseUrl).host;
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.host !== origin && url.protocol !== "data:") {
      result.offsiteRequests.push(request.url());
    }
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  await page.addInitScript(() => {
    document.addEventListener("htmx:wsOpen", () => {
      window.nexusSocketOpen = true;
    });
  });

  await page.goto(`${baseUrl}/`);
  const loginUrl = new URL(page.url());
  result.loginPath = loginUrl.pathname + loginUrl.search;
  result.loginLang = await page.getAttribute("html", "lang");

  result.loginFocus = await page.evaluate(() => document.activeElement.getAttribute("name"));

  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click("main form button[type=submit]")]);
  result.homeLang = await page.getAttribute("html", "lang");
  result.homeHeading = (await page.textContent("h1")).trim();
  result.navigation = await page.$$eval("nav a", (links) => links.map((a) => a.textContent.trim()));
  result.htmxVersion = await page.evaluate(() => (window.htmx ? window.htmx.version : null));
  await page.keyboard.press("Tab");
  result.firstTabStop = await page.evaluate(() => ({
    text: document.activeElement.textContent.trim(),
    href: document.activeElement.getAttribute("href"),
    visible: document.activeElement.getBoundingClientRect().top >= 0,
  }));
  await page.keyboard.press("Enter");
  result.focusAfterSkip = await page.evaluate(() => document.activeElement.id);

  await page.waitForFunction(() => window.nexusSocketOpen === true);
  console.log("READY");
  await page.waitForSelector(".notifications__list li");
  result.notification = await page.$eval(".notifications__list li", (item) => ({
    className: item.className,
    level: item.querySelector(".notification__level").textContent,
    text: item.querySelector(".notification__text").textContent,
    href: item.querySelector("a") ? item.querySelector("a").getAttribute("href") : null,
    elementsInText: item.querySelector(".notification__text").children.length,
    dismissLabel: item.querySelector("button").getAttribute("aria-label"),
  }));
  await page.click(".notification__dismiss");
  result.notificationsAfterDismiss = await page.$$eval(".notifications__list li", (items) => items.length);

  await Promise.all([page.waitForURL(`${baseUrl}/en/`), page.click("button[name=language][value=en]")]);
  result.englishLang = await page.getAttribute("html", "lang");
  result.englishHeading = (await page.textContent("h1")).trim();
  await Promise.all([page.waitForURL(`${baseUrl}/`), page.click("button[name=language][value=uk]")]);
  result.backLang = await page.getAttribute("html", "lang");
} catch (error) {
  result.error = String(error);
} finally {
  await browser.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);
