// Signs in to the reviewer page in a real browser: Playwright's library (playwright-core, no
// browser download) drives Debian's Chromium from START_URL through the OpenID provider's
// development login form as LOGIN, then screenshots the page it lands on.
//
//   node signin_browser.mjs --url START_URL --login LOGIN --screenshot FILE
//
// Prints one JSON line: the final URL, the page's text and the session cookie's attributes.
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
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 420 } });
  await page.goto(args.url);
  await page.fill('input[name="login"]', args.login);
  await page.fill('input[name="password"]', 'any');
  await page.click('button[type="submit"]');
  // The consent screen, the first time a client asks.
  await page.waitForLoadState();
  if (page.url().includes('/interaction/')) {
    await page.click('button[type="submit"]');
  }
  await page.waitForSelector('text=Signed in as');
  await page.screenshot({ path: args.screenshot });
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.endsWith('recert_session'));
  console.log(JSON.stringify({
    url: page.url(),
    text: await page.innerText('main'),
    cookie: session && { httpOnly: session.httpOnly, sameSite: session.sameSite, path: session.path },
  }));
} finally {
  await browser.close();
}
