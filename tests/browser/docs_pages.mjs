#!/usr/bin/env node
// Opens the served docs in headless Chromium and checks what a reader would see:
//   /              the landing page links every document, and every link answers 200
//   /docs/api/     Swagger UI 5 renders exactly the operations of openapi.yaml; a click on
//                  a demo user in the dev panel authorizes "Try it out", and GET /api/chat
//                  then answers 200
//   /docs/asyncapi/ the AsyncAPI page renders every operation and message of asyncapi.yaml
//   /notebooks/NAME.html each notebook renders as a page with its cells and outputs, its
//                  Mermaid diagrams drawn as SVG (none left as source); and with Mermaid
//                  blocked, a diagram's source is still shown
//   /docs/guides/NAME.html each guide renders, and every link of it answers 200
// On every page: no console error, no uncaught exception, no failed or 4xx/5xx request,
// and no request to any host but the server's (each request URL is recorded; off-site
// ones are blocked and reported). Screenshots and report.json go to OUT_DIR.
//
// Usage: node tests/browser/docs_pages.mjs BASE_URL EXPECT_JSON OUT_DIR
//   EXPECT_JSON: {restOperations: ["GET /api/chat", ...], asyncapiOperations: [...],
//                 asyncapiMessages: {key: eventName | null}, notebooks: ["01-....ipynb"],
//                 notebookCells: {"01-....ipynb": cell count},
//                 notebookDiagrams: {"01-....ipynb": diagram count}, guides: ["NAME"],
//                 demoUser: "Bea Buyer", tryItOut: "operations-chats-list_chats"}
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
// Exit codes: 0 every check passed; 1 a check failed; 2 misuse or the browser failed.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argv, env, exit, stderr, stdout } from 'node:process';

import { chromium } from 'playwright-core';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const WAIT_MS = 30_000;
const LOCAL_SCHEMES = new Set(['data:', 'blob:', 'about:']);

/** Everything observed during the run; report.json is this object. */
class Recorder {
  constructor(base) {
    this.origin = new URL(base).origin;
    this.requests = [];
    this.offsite = [];
    this.failures = [];
    this.pages = [];
    this.diagrams = {};
    this.diagramFallback = null;
    this.tryItOut = null;
    this.guides = [];
    this.current = 'startup';
  }

  isLocal(url) {
    const parsed = new URL(url);
    return LOCAL_SCHEMES.has(parsed.protocol) || parsed.origin === this.origin;
  }

  fail(message) {
    this.failures.push(`${this.current}: ${message}`);
  }

  check(condition, message) {
    if (!condition) this.fail(message);
    return condition;
  }

  watch(context) {
    context.on('request', (request) => {
      this.requests.push({ page: this.current, method: request.method(), url: request.url() });
    });
    context.on('requestfailed', (request) => {
      if (this.isLocal(request.url())) {
        this.fail(`request failed: ${request.url()} (${request.failure()?.errorText})`);
      }
    });
    context.on('response', (response) => {
      if (response.status() >= 400) this.fail(`${response.status()} from ${response.url()}`);
    });
  }

  watchPage(page) {
    page.on('console', (message) => {
      if (message.type() === 'error') this.fail(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => this.fail(`uncaught exception: ${error.message}`));
    page.on('websocket', (socket) => {
      this.requests.push({ page: this.current, method: 'WEBSOCKET', url: socket.url() });
      if (!this.isLocal(socket.url().replace(/^ws/, 'http'))) this.offsite.push(socket.url());
    });
  }
}

async function blockOffsite(context, recorder) {
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (recorder.isLocal(url)) {
      await route.continue();
    } else {
      recorder.offsite.push(url);
      await route.abort('blockedbyclient');
    }
  });
}

async function visit(page, recorder, name, url) {
  recorder.current = name;
  const response = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  recorder.check(response?.status() === 200, `GET ${url} answered ${response?.status()}`);
}

async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: WAIT_MS });
}

async function shoot(page, recorder, outDir, name, fullPage) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage });
  recorder.pages.push({ name, url: page.url(), title: await page.title(), screenshot: path });
}

async function checkLanding(page, recorder, base, expect, outDir) {
  await visit(page, recorder, 'landing', `${base}/`);
  const hrefs = await page.$$eval('a[href]', (links) => links.map((a) => a.getAttribute('href')));
  const wanted = ['/docs/api/', '/docs/asyncapi/', '/openapi.yaml', '/openapi.json', '/asyncapi.yaml'];
  wanted.push(...expect.notebooks.map((name) => `/notebooks/${name}`));
  wanted.push(...expect.notebooks.map((name) => `/notebooks/${name.replace(/\.ipynb$/, '.html')}`));
  wanted.push(...expect.guides.map((name) => `/docs/guides/${name}.html`));
  for (const href of wanted) recorder.check(hrefs.includes(href), `no link to ${href}`);
  await checkLinksAnswer(page, recorder, hrefs);
  await settle(page);
  await shoot(page, recorder, outDir, 'landing', true);
}

// Every link of the page to this server answers 200; fetch() from the page, so the
// request is recorded and held to the same rules. Links that leave the site are not
// followed (the run blocks them).
async function checkLinksAnswer(page, recorder, hrefs) {
  for (const href of new Set(hrefs)) {
    if (href.startsWith('#') || !recorder.isLocal(new URL(href, page.url()).href)) continue;
    const status = await page.evaluate(async (h) => (await fetch(h)).status, href);
    recorder.check(status === 200, `link ${href} answered ${status}`);
  }
}

async function checkSwaggerUi(page, recorder, base, expect, outDir) {
  await visit(page, recorder, 'swagger-ui', `${base}/docs/api/`);
  const count = expect.restOperations.length;
  await page
    .waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, count, {
      timeout: WAIT_MS,
    })
    .catch(() => recorder.fail(`fewer than ${count} operations rendered`));
  const rendered = await page.$$eval('.opblock', (blocks) =>
    blocks.map((block) => {
      const method = [...block.classList].find((c) => /^opblock-(get|put|post|patch|delete)$/.test(c));
      const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path');
      return `${(method ?? '').replace('opblock-', '').toUpperCase()} ${path}`;
    })
  );
  compareSets(recorder, 'REST operations', expect.restOperations, rendered);
  const version = await page.evaluate(() => window.versions?.swaggerUI?.version ?? null);
  recorder.check(/^5\./.test(version ?? ''), `Swagger UI version is ${version}, not 5.x`);
  recorder.check(!(await page.$('.errors-wrapper')), 'Swagger UI shows errors about the spec');
  // The Servers choice must offer this server, not an empty entry.
  const servers = await page.$$eval('.servers select option', (options) => options.map((o) => o.value));
  recorder.check(servers.length > 0, 'Swagger UI offers no server');
  recorder.check(servers.every((url) => url !== ''), `Swagger UI offers an empty server: ${JSON.stringify(servers)}`);
  await settle(page);
  await shoot(page, recorder, outDir, 'swagger-ui', true);
  // Open one operation: its parameters and responses must render too.
  await page.locator('.opblock-summary').first().click();
  await page.locator('.opblock-body .responses-table').first().waitFor({ timeout: WAIT_MS });
  await settle(page);
  await shoot(page, recorder, outDir, 'swagger-ui-operation', false);
  await tryItOutAsDemoUser(page, recorder, expect, outDir);
}

// The dev panel's demo user authorizes Swagger UI; "Try it out" then needs nothing else.
async function tryItOutAsDemoUser(page, recorder, expect, outDir) {
  recorder.current = 'swagger-ui-try-it-out';
  await page.locator('#dev-users button', { hasText: expect.demoUser }).click({ timeout: WAIT_MS });
  const status = page.locator('#dev-user-status');
  const said = await status.innerText();
  recorder.check(said.startsWith(`Authorized as ${expect.demoUser}`), `the panel says: ${said}`);
  const operation = page.locator(`#${expect.tryItOut}`);
  const open = await operation.evaluate((block) => block.classList.contains('is-open'));
  if (!open) await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click({ timeout: WAIT_MS });
  await operation.locator('.execute').click({ timeout: WAIT_MS });
  const cell = operation.locator('.live-responses-table .response .response-col_status').first();
  await cell.waitFor({ timeout: WAIT_MS });
  recorder.tryItOut = { user: expect.demoUser, status: Number((await cell.innerText()).trim()) };
  recorder.check(recorder.tryItOut.status === 200, `Try it out answered ${recorder.tryItOut.status}`);
  await settle(page);
  await operation.scrollIntoViewIfNeeded();
  await shoot(page, recorder, outDir, 'swagger-ui-try-it-out', false);
}

async function checkAsyncApi(page, recorder, base, expect, outDir) {
  await visit(page, recorder, 'asyncapi', `${base}/docs/asyncapi/`);
  const ready = await page
    .waitForSelector('#asyncapi #messages', { timeout: WAIT_MS })
    .catch(() => null);
  recorder.check(ready !== null, 'the AsyncAPI component rendered no message list');
  await settle(page);
  const text = await page.evaluate(() => document.body.innerText);
  recorder.check(!text.includes('There are errors'), 'the AsyncAPI component reports errors');
  const ids = new Set(await page.$$eval('#asyncapi [id]', (nodes) => nodes.map((n) => n.id)));
  const operationIds = [...ids].filter((id) => /^operation-[a-z]+-[A-Za-z0-9_]+$/.test(id));
  const rendered = operationIds.map((id) => id.replace(/^operation-[a-z]+-/, ''));
  compareSets(recorder, 'AsyncAPI operations', expect.asyncapiOperations, rendered);
  const messages = (await page.locator('#messages').innerText()) ?? '';
  for (const [key, eventName] of Object.entries(expect.asyncapiMessages)) {
    recorder.check(ids.has(`message-${key}`), `message ${key} is not rendered`);
    if (eventName) {
      recorder.check(messages.includes(eventName), `event ${eventName} is not in the message list`);
    }
  }
  await shoot(page, recorder, outDir, 'asyncapi', false);
  await page.locator('#messages').scrollIntoViewIfNeeded();
  await shoot(page, recorder, outDir, 'asyncapi-messages', false);
}

async function checkNotebooks(page, recorder, base, expect, outDir) {
  for (const name of expect.notebooks) {
    const stem = name.replace(/\.ipynb$/, '');
    await visit(page, recorder, `notebook-${stem}`, `${base}/notebooks/${stem}.html`);
    const cells = await page.locator('.jp-Cell').count();
    recorder.check(cells === expect.notebookCells[name], `${name}: ${cells} cells rendered, not ${expect.notebookCells[name]}`);
    const outputs = await page.locator('.jp-OutputArea-output').count();
    recorder.check(outputs > 0, `${name}: no output rendered`);
    const headings = await page.locator('.jp-MarkdownOutput h1').count();
    recorder.check(headings > 0, `${name}: its markdown shows no heading`);
    recorder.check(await page.locator('#notebook-bar a[href="/"]').count() === 1, `${name}: no way back`);
    await checkDiagrams(page, recorder, name, expect.notebookDiagrams[name] ?? 0);
    await settle(page);
    if (name === expect.notebooks[0]) await shoot(page, recorder, outDir, `notebook-${stem}`, false);
  }
}

// Each diagram drawn as a picture that has size and words, and no source left in view.
async function checkDiagrams(page, recorder, name, wanted) {
  if (!wanted) return;
  const pictures = '.jp-Mermaid figure svg';
  await page
    .waitForFunction((args) => document.querySelectorAll(args[0]).length >= args[1], [pictures, wanted], {
      timeout: WAIT_MS,
    })
    .catch(() => recorder.fail(`${name}: fewer than ${wanted} diagrams drawn`));
  const drawn = await page.$$eval(pictures, (svgs) =>
    svgs.filter((svg) => svg.getBBox().width > 50 && svg.querySelectorAll('text').length > 1).length
  );
  recorder.diagrams[name] = drawn;
  const shown = await page.$$eval('pre.mermaid', (sources) => sources.filter((s) => s.checkVisibility()).length);
  recorder.check(shown === 0, `${name}: ${shown} diagrams still shown as source`);
}

// With Mermaid blocked, the page still reads: each diagram's source is in view.
async function checkDiagramFallback(browser, recorder, base, expect, outDir) {
  const name = expect.notebooks.find((n) => expect.notebookDiagrams[n] > 0);
  if (!name) return;
  recorder.current = 'diagram-fallback';
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, serviceWorkers: 'block' });
  try {
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (new URL(url).pathname.startsWith('/docs/mermaid/')) return route.abort('blockedbyclient');
      if (recorder.isLocal(url)) return route.continue();
      recorder.offsite.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => recorder.fail(`uncaught exception: ${error.message}`));
    await visit(page, recorder, 'diagram-fallback', `${base}/notebooks/${name.replace(/\.ipynb$/, '.html')}`);
    await settle(page);
    const source = page.locator('.jp-Mermaid pre.mermaid').first();
    const shown = (await source.isVisible()) && (await source.innerText()).includes('sequenceDiagram');
    recorder.diagramFallback = { sourceShown: shown, pictures: await page.locator('.jp-Mermaid svg').count() };
    await source.scrollIntoViewIfNeeded();
    await shoot(page, recorder, outDir, 'notebook-diagram-fallback', false);
  } finally {
    await context.close();
  }
}

async function checkGuides(page, recorder, base, expect, outDir) {
  for (const name of expect.guides) {
    await visit(page, recorder, `guide-${name}`, `${base}/docs/guides/${name}.html`);
    const headings = await page.locator('main.guide h1, main.guide h2').count();
    recorder.check(headings > 0, `${name}: the guide shows no heading`);
    const stylesheet = await page.evaluate(() => getComputedStyle(document.querySelector('main.guide')).maxWidth);
    recorder.check(stylesheet !== 'none', `${name}: the site's stylesheet is not applied`);
    const hrefs = await page.$$eval('a[href]', (links) => links.map((a) => a.getAttribute('href')));
    await checkLinksAnswer(page, recorder, hrefs);
    await settle(page);
    recorder.guides.push(name);
    if (name === expect.guides[0]) await shoot(page, recorder, outDir, `guide-${name}`, false);
  }
}

function compareSets(recorder, what, expected, rendered) {
  const have = new Set(rendered);
  const want = new Set(expected);
  const missing = [...want].filter((x) => !have.has(x));
  const extra = [...have].filter((x) => !want.has(x));
  recorder.check(missing.length === 0, `${what} not rendered: ${missing.join(', ')}`);
  recorder.check(extra.length === 0, `${what} rendered but not in the spec: ${extra.join(', ')}`);
}

async function main() {
  const [base, expectPath, outDir] = argv.slice(2);
  if (!base || !expectPath || !outDir) {
    stderr.write('usage: node tests/browser/docs_pages.mjs BASE_URL EXPECT_JSON OUT_DIR\n');
    return 2;
  }
  const expect = JSON.parse(await readFile(expectPath, 'utf8'));
  await mkdir(outDir, { recursive: true });
  const recorder = new Recorder(base);
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  const version = browser.version();
  try {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      serviceWorkers: 'block',
    });
    recorder.watch(context);
    await blockOffsite(context, recorder);
    const page = await context.newPage();
    recorder.watchPage(page);
    for (const check of [checkLanding, checkSwaggerUi, checkAsyncApi, checkNotebooks, checkGuides]) {
      try {
        await check(page, recorder, base, expect, outDir);
      } catch (error) {
        recorder.fail(`${error.name}: ${error.message.split('\n')[0]}`);
      }
    }
    await context.close();
    try {
      await checkDiagramFallback(browser, recorder, base, expect, outDir);
    } catch (error) {
      recorder.fail(`${error.name}: ${error.message.split('\n')[0]}`);
    }
  } finally {
    await browser.close();
  }
  for (const url of recorder.offsite) recorder.failures.push(`request left the server: ${url}`);
  const report = {
    browser: version,
    pages: recorder.pages,
    requests: recorder.requests,
    offsite: recorder.offsite,
    diagrams: recorder.diagrams,
    diagramFallback: recorder.diagramFallback,
    tryItOut: recorder.tryItOut,
    guides: recorder.guides,
    failures: recorder.failures,
  };
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const summary = `${recorder.pages.length} pages, ${recorder.requests.length} requests, ${recorder.offsite.length} off-site`;
  if (recorder.failures.length) {
    stderr.write(`FAILED (${summary}):\n${recorder.failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  stdout.write(`ok: ${summary}; screenshots in ${outDir}\n`);
  return 0;
}

main().then(
  (code) => exit(code),
  (error) => {
    stderr.write(`browser run failed: ${error.stack ?? error}\n`);
    exit(2);
  }
);
