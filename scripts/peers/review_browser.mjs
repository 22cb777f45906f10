// Uses the reviewer page in a real browser: Playwright's library (playwright-core) drives
// Debian's Chromium from START_URL through the OpenID provider's development login form as
// LOGIN, to the review page; screenshots it; then, when asked, denies one item with a reason
// and accepts the recommendations of the rest through the page's own forms, and screenshots
// the result, on a desktop and on a phone-sized screen.
//
//   node review_browser.mjs --url START_URL --login LOGIN --screenshots PREFIX
//        [--deny PRINCIPAL_ID --reason TEXT] [--accept yes]
//
// Prints one JSON line: the final URL, the page's text, and the principals the page offered
// to decide (its checkboxes) before and after.
import { chromium } from 'playwright-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// CI runs as root, where Chromium's sandbox cannot start.
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const offered = (page) =>
  page.$$eval('input[name="principal"]', (boxes) => boxes.map((b) => b.value));
// Reloads the page until the items it offers satisfy `done` (at most 30 s).
const settle = async (page, done) => {
  for (let i = 0; i < 120 && !done(await offered(page)); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    await page.reload();
    await page.waitForSelector('main h1');
  }
};
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  await page.goto(args.url);
  await page.fill('input[name="login"]', args.login);
  await page.fill('input[name="password"]', 'any');
  await page.click('button[type="submit"]');
  await page.waitForLoadState();
  if (page.url().includes('/interaction/')) {
    await page.click('button[type="submit"]');
  }
  await page.waitForSelector('main h1');
  const before = await offered(page);
  await page.screenshot({ path: `${args.screenshots}-items.png`, fullPage: true });
  const steps = [];
  if (args.deny) {
    // The controls are found by their labels, as assistive technology finds them.
    await page.check(`input[name="principal"][value="${args.deny}"]`);
    await page.getByLabel('Deny', { exact: false }).check();
    await page.getByLabel('Reason', { exact: false }).fill(args.reason || '');
    await Promise.all([
      page.waitForLoadState(),
      page.click('button[name="action"][value="decide"]'),
    ]);
    await page.waitForSelector('main h1');
    steps.push({ after: 'deny', url: page.url(), title: await page.title() });
    // The page records the decision at once; the daemon's pass that takes it up follows.
    await settle(page, (left) => !left.includes(args.deny));
  }
  if (args.accept) {
    await Promise.all([
      page.waitForLoadState(),
      page.click('button[name="action"][value="accept"]'),
    ]);
    await page.waitForSelector('main h1');
    steps.push({ after: 'accept', url: page.url(), title: await page.title() });
    await settle(page, (left) => left.length === 0);
  }
  if (steps.length) {
    await page.screenshot({ path: `${args.screenshots}-decided.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${args.screenshots}-phone.png` });
  console.log(JSON.stringify({
    url: page.url(),
    text: await page.innerText('main'),
    offered: before,
    offeredAfter: await offered(page),
    steps,
  }));
} finally {
  await browser.close();
}
