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
