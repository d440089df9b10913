// SPDX-License-Identifier: Apache-2.0
/*
 * Drives headless chromium through casulo serve's dashboard (run by
 * dashboard.sh, which starts the daemon and creates the VM). Checks, in
 * order: the page loads with its embedded assets and no script errors,
 * the VM is listed as stopped, its Start button starts it, the console
 * panel shows the guest's output over the WebSocket, a typed line reaches
 * the guest and comes back echoed, and when the guest powers off the
 * console says so and the table shows the VM stopped. Saves a screenshot
 * once the echo is on screen.
 * Every wait is bounded (a hang detector, not a timing assertion).
 *
 * usage: node dashboard.js URL VM_NAME CHROMIUM SCREENSHOT
 */
'use strict';

const { chromium } = require('playwright-core');

const [url, vmName, executablePath, screenshot] = process.argv.slice(2);
const WAIT = 30000;

function step(msg) {
  console.log('OK ' + msg);
}

async function main() {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
    const failed = [];
    page.on('response', (r) => {
      // The source map is only fetched by devtools; anything else must load.
      if (r.status() >= 400 && !r.url().endsWith('.map')) failed.push(r.status() + ' ' + r.url());
    });

    await page.goto(url, { waitUntil: 'load' });
    const hasTerminal = await page.evaluate(() => typeof window.Terminal === 'function');
    if (!hasTerminal) throw new Error('xterm.js is not in the page (built without npm?)');
    step('page loaded with xterm.js');

    const row = page.locator(`tr[data-vm="${vmName}"]`);
    await row.waitFor({ timeout: WAIT });
    await page.waitForFunction((n) => {
      const r = document.querySelector(`tr[data-vm="${n}"]`);
      return r && r.dataset.state === 'stopped';
    }, vmName, { timeout: WAIT });
    step('VM listed as stopped');

    await row.locator('button[data-action="start"]').click();
    await page.waitForFunction((n) => {
      const r = document.querySelector(`tr[data-vm="${n}"]`);
      return r && r.dataset.state === 'running';
    }, vmName, { timeout: WAIT });
    step('Start button: VM running');

    await row.locator('button[data-action="console"]').click();
    await page.locator('#console').waitFor({ state: 'visible', timeout: WAIT });
    const termText = () => page.evaluate(() => {
      const s = window.casuloConsole;
      if (!s || !s.term) return '';
      const buf = s.term.buffer.active;
      const lines = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
      return lines.join('\n');
    });
    const waitText = async (text) => {
      const end = Date.now() + WAIT;
      for (;;) {
        const t = await termText();
        if (t.includes(text)) return t;
        if (Date.now() > end) throw new Error(`terminal never showed "${text}"; it shows:\n${t}`);
        await page.waitForTimeout(100);
      }
    };
    await waitText('READY');
    step('console shows the guest output (READY)');

    await page.locator('#terminal').click();
    await page.keyboard.type('hello from the browser');
    await page.keyboard.press('Enter');
    await waitText('ECHO: hello from the browser');
    step('typed line echoed by the guest');
    await page.screenshot({ path: screenshot, fullPage: true });
    step('screenshot ' + screenshot);

    // The echo guest powers off after one line: the socket closes, the table follows.
    await waitText('[console closed]');
    await page.waitForFunction((n) => {
      const r = document.querySelector(`tr[data-vm="${n}"]`);
      return r && r.dataset.state === 'stopped';
    }, vmName, { timeout: WAIT });
    step('guest powered off: console closed, VM stopped');

    if (failed.length) throw new Error('failed requests:\n' + failed.join('\n'));
    if (errors.length) throw new Error('errors in the page:\n' + errors.join('\n'));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log('FAIL ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
