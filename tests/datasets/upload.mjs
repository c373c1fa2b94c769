// Drives Debian's chromium through playwright-core over the upload page: a file dropped on the drop zone lands in
// the file input; a real upload moves the upload bar; the live progress panel follows the pipeline over the
// websocket and, once the dataset is loaded, the browser lands on its page. Prints "UPLOADED <id>" when the
// panel is up (the Python test then runs the pipeline), and one line "RESULT <json>" with what it saw.
import { chromium } from "playwright-core";

const [baseUrl, username, password, filePath] = process.argv.slice(2);
const TIMEOUT = 20000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
});
const result = { pageErrors: [] };
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  // Recorded on this side, so what the upload page saw survives the navigation to the dataset's page.
  result.socketTypes = [];
  result.progressSeen = [];
  await page.exposeFunction("recordSocket", (type) => result.socketTypes.push(type));
  await page.exposeFunction("recordProgress", (seen) => result.progressSeen.push(seen));
  await page.addInitScript(() => {
    window.nexusSocketOpen = false;
    document.addEventListener("htmx:wsOpen", () => {
      window.nexusSocketOpen = true;
    });
    // On the window, capturing: this runs before upload.js, which takes the progress messages for itself.
    window.addEventListener(
      "htmx:wsBeforeMessage",
      (event) => {
        const payload = JSON.parse(event.detail.message);
        window.recordSocket(payload.type);
        setTimeout(() => {
          const bar = document.querySelector("[data-progress-bar]");
          const stage = document.querySelector("[data-progress-stage]");
          const loaded = document.querySelector('[data-progress-count="rows_loaded"]');
          const toasts = document.querySelectorAll('.notifications__list li[data-type="dataset.progress"]').length;
          if (bar && payload.type === "dataset.progress") {
            window.recordProgress({
              sent: payload.percent,
              value: bar.value,
              stage: stage ? stage.textContent : "",
              loaded: loaded ? loaded.textContent : "",
              toasts,
            });
          }
        }, 0);
      },
      true
    );
  });

  await page.goto(`${baseUrl}/accounts/login/?next=/datasets/upload/`);
  await page.fill("#id_username", username);
  await page.fill("#id_password", password);
  await Promise.all([page.waitForURL(`${baseUrl}/datasets/upload/`), page.click("main form button[type=submit]")]);

  result.dropped = await page.evaluate(() => {
    const zone = document.querySelector("[data-dropzone]");
    const transfer = new DataTransfer();
    transfer.items.add(new File(["ПІБ\nКоваль Олена\n"], "перетягнутий.csv", { type: "text/csv" }));
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent("dragenter", init));
    const highlighted = zone.classList.contains("dropzone--active");
    zone.dispatchEvent(new DragEvent("drop", init));
    const input = zone.querySelector('input[type="file"]');
    return {
      highlighted,
      highlightedAfterDrop: zone.classList.contains("dropzone--active"),
      fileName: input.files.length ? input.files[0].name : null,
      chosen: zone.querySelector("[data-dropzone-chosen]").textContent,
    };
  });

  await page.setInputFiles("#id_file", filePath);
  await page.selectOption("#id_kind", "registry_person");
  await page.evaluate(() => {
    window.uploadBar = [];
    document.addEventListener("htmx:xhr:progress", () => {
      const box = document.querySelector("[data-upload-progress]");
      const bar = document.querySelector("#upload-progress");
      if (box && bar) {
        window.uploadBar.push({ value: bar.value, hidden: box.hidden });
      }
    });
  });
  await page.click("[data-upload-form] button[type=submit]");
  const panel = await page.waitForSelector("[data-dataset-progress]");
  result.datasetId = await panel.getAttribute("data-dataset-progress");
  result.uploadPath = new URL(page.url()).pathname;
  result.uploadBar = await page.evaluate(() => window.uploadBar);
  result.panelPolls = await panel.getAttribute("hx-trigger");

  await page.waitForFunction(() => window.nexusSocketOpen === true);
  console.log(`UPLOADED ${result.datasetId}`);

  await page.waitForURL(new RegExp(`/datasets/${result.datasetId}/$`));
  await page.waitForSelector("h1");
  result.finalPath = new URL(page.url()).pathname;
  result.heading = (await page.textContent("h1")).trim();
  result.messages = (await page.textContent("#messages")).trim();
  result.status = (await page.textContent(".page-header .status")).trim();
  result.progressToasts = await page.$$eval('.notifications__list li[data-type="dataset.progress"]', (items) => items.length);
} catch (error) {
  result.error = String(error);
} finally {
  await browser.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);
