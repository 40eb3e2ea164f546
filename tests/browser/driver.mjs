// Drives Debian's Chromium for tests/test_console.py: one JSON command per line on
// stdin, one JSON answer per line on stdout. The test decides what happens; this only
// does it in a real browser and reports what the page shows.
//
//   {"op": "open", "page": "en", "url": "..."}        load a page; wait for a live card
//   {"op": "badge", "page": "en", "badge": "x", "since": ms, "timeout": ms}
//                                                      wait for a badge; ms since `since`
//   {"op": "read", "page": "en"}                       the card's text, lang, status, badges
//   {"op": "tab", "page": "en", "count": n}            press Tab n times; what has focus
//   {"op": "shot", "page": "en", "path": "..."}        a screenshot
//   {"op": "offline", "offline": true}                 cut (or restore) the browser's network
//   {"op": "expire", "page": "en", "token": "..."}     give the card a refused token; wait
//                                                      until the page gave it a new one and
//                                                      it is live again
//   {"op": "close"}
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
const pages = new Map();
const console_lines = [];

const CARD = "accolade-agent-card";

async function open({ page: name, url }) {
  const page = await context.newPage();
  page.on("console", (m) => console_lines.push(`[${name}] ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console_lines.push(`[${name}] pageerror: ${e.message}`));
  pages.set(name, page);
  await page.goto(url);
  await page.locator(`${CARD} .status[data-state="live"]`).waitFor({ timeout: 15000 });
  return {};
}

async function badge({ page: name, badge, since, timeout }) {
  const page = pages.get(name);
  await page.locator(`${CARD} li[data-badge="${badge}"]`).waitFor({ timeout: timeout ?? 15000 });
  const elapsed = Date.now() - since;
  return { elapsed, ...(await read({ page: name })) };
}

async function read({ page: name }) {
  const page = pages.get(name);
  const errors = console_lines.filter((line) => line.startsWith(`[${name}] pageerror`));
  const shown = await page.evaluate((tag) => {
    const card = document.querySelector(tag);
    const root = card.shadowRoot;
    return {
      lang: document.documentElement.lang,
      text: root.querySelector(".body").innerText,
      status: root.querySelector(".status").dataset.state,
      announced: root.querySelector(".announce").textContent,
      toast: root.querySelector(".toast").hidden ? "" : root.querySelector(".toast span").textContent,
      badges: [...root.querySelectorAll("li[data-badge]")].map((li) => ({
        badge: li.dataset.badge,
        tier: li.dataset.tier,
        label: li.getAttribute("aria-label"),
      })),
      lastSequence: card.lastSequence,
      goals: [...root.querySelectorAll("li[data-goal]")].map((li) => li.firstChild.textContent),
    };
  }, CARD);
  return { ...shown, errors };
}

async function tab({ page: name, count }) {
  const page = pages.get(name);
  const focused = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press("Tab");
    focused.push(
      await page.evaluate(() => {
        let node = document.activeElement;
        while (node && node.shadowRoot && node.shadowRoot.activeElement) {
          node = node.shadowRoot.activeElement;
        }
        return node ? node.getAttribute("aria-label") || node.textContent.trim().slice(0, 60) : "";
      })
    );
  }
  return { focused };
}

async function shot({ page: name, path }) {
  await pages.get(name).screenshot({ path, fullPage: true });
  return {};
}

async function offline({ offline }) {
  await context.setOffline(offline);
  return {};
}

async function expire({ page: name, token }) {
  const page = pages.get(name);
  const refused = token || "acs_refused.refused";
  await page.evaluate(
    ([tag, token]) => {
      document.querySelector(tag).token = token;
    },
    [CARD, refused]
  );
  await page.waitForFunction(
    ([tag, token]) => {
      const card = document.querySelector(tag);
      const live = card.shadowRoot.querySelector('.status[data-state="live"]');
      return card.token && card.token !== token && live !== null;
    },
    [CARD, refused],
    { timeout: 15000 }
  );
  return {};
}

const ops = { open, badge, read, tab, shot, offline, expire };
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const command = JSON.parse(line);
  if (command.op === "close") break;
  let answer;
  try {
    answer = { ok: true, ...(await ops[command.op](command)) };
  } catch (err) {
    answer = { ok: false, error: String(err && err.message ? err.message : err), console: console_lines };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
