// The one way the browser tests start Chromium: Debian's /usr/bin/chromium (never a
// downloaded browser), headless, without the background traffic this machine's closed
// network refuses, with WebRTC allowed on loopback and real host addresses instead of
// mDNS names (the server under test listens on 127.0.0.1 only).
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

// A page whose context holds the session cookie of $WATCHPOST_TOKEN for `url`'s origin
// (Watchpost's pages and WHEP need a session; the test logs in through the API and hands
// the token over), as the browser has after logging in at /login.
export async function sessionPage(browser, url) {
  const context = await browser.newContext();
  const token = process.env.WATCHPOST_TOKEN;
  if (token) {
    await context.addCookies([{
      name: 'watchpost_session', value: token, url: new URL(url).origin,
      httpOnly: true, sameSite: 'Strict',
    }]);
  }
  return context.newPage();
}

// Echoes `page`'s console (prefixed with `label`) and errors to stderr, for the test's
// log, and collects Content-Security-Policy violations into `cspErrors` (the console's
// pages must raise none).
export function watchPage(page, cspErrors, label = 'page') {
  page.on('console', m => {
    console.error(`[${label}] ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  page.on('pageerror', e => console.error(`[${label} error] ${e}`));
}

// Logs in through the console's form (the page shows it at /console without a session).
export async function loginThroughForm(page, username, password, timeoutMs) {
  await page.waitForSelector('form[data-test=login]', { timeout: timeoutMs });
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form[data-test=login] button[type=submit]');
}
