// Browser tests of the web UI: the README's path through the bundled sample, in a real
// Chromium (Debian's, driven by playwright-core). Screenshots go to target/browser/.
//
// Run by `cargo xtask ci` after the Rust tests (the release binary must be built):
//   node --test tests/browser/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.STORYLINE_BIN ?? path.join(root, 'target/release/storyline');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = path.join(root, 'target/browser');

let db, server, base, browser, page;
// What the pages logged as errors (a style or script the Content-Security-Policy blocked, say).
const consoleErrors = [];

before(async () => {
  assert.ok(existsSync(bin), `${bin} is missing: build it with cargo build --release`);
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: apt-get install chromium`);
  mkdirSync(shots, { recursive: true });
  db = mkdtempSync(path.join(tmpdir(), 'storyline-ui-'));
  const ingest = spawnSync(bin, ['ingest', '--db', db, '--no-progress', path.join(root, 'examples')], { encoding: 'utf8' });
  assert.equal(ingest.status, 0, ingest.stderr);
  server = spawn(bin, ['serve', '--db', db, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    server.stdout.on('data', d => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    server.stderr.on('data', d => { out += d; });
    server.on('exit', code => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // (HTTP errors the tests ask for on purpose, and the favicon, are not page errors.)
  page.on('console', m => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const stopped = new Promise(resolve => server.on('exit', resolve));
    server.kill('SIGTERM');
    await stopped; // graceful shutdown: the process ends by itself
  }
  if (db) rmSync(db, { recursive: true, force: true });
});

test('the story list shows the stories of the sample, largest first', async () => {
  await page.goto(base);
  const rows = page.locator('#stories tr.story');
  assert.ok(await rows.count() >= 2, 'at least two stories');
  const sizes = await rows.locator('td:nth-child(2)').allInnerTexts();
  const numbers = sizes.map(Number);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), 'sorted by size');
  await page.screenshot({ path: path.join(shots, 'stories.png'), fullPage: true });
});

test('search and filters narrow the list', async () => {
  await page.goto(base);
  await page.fill('form.filters input[name=q]', 'Amr');
  await page.click('form.filters button');
  const titles = await page.locator('#stories tr.story a').allInnerTexts();
  assert.ok(titles.length >= 1);
  await page.goto(`${base}?from=2023-01-01`);
  const recent = await page.locator('#stories tr.story td:nth-child(4)').allInnerTexts();
  assert.ok(recent.length >= 1 && recent.every(t => t.includes('2023')), recent.join(' | '));
  await page.goto(`${base}?from=not-a-date`);
  assert.match(await page.locator('h1').innerText(), /400/);
});

test('the May 2021 story shows its summary, the title conflict and the quote variants', async () => {
  await page.goto(base);
  // The story about the envoy: the one whose comparison names Hady Amr.
  const links = await page.locator('#stories tr.story a').evaluateAll(as => as.map(a => a.href));
  let found = false;
  for (const href of links) {
    await page.goto(href);
    if ((await page.locator('#conflicts').innerText()).includes('Hady Amr')) { found = true; break; }
  }
  assert.ok(found, 'a story with a conflict over Hady Amr');
  const summary = page.locator('#summary li');
  const n = await summary.count();
  assert.ok(n >= 1 && n <= 5, `summary of ${n} sentences`);
  assert.ok(await page.locator('#summary li a.cite').count() >= n, 'every summary sentence cites');
  const conflict = page.locator('#conflicts .conflict', { hasText: 'Hady Amr' });
  const text = await conflict.innerText();
  assert.match(text, /majority/);
  assert.match(text, /minority/);
  assert.match(text, /deputy secretary of state/i);
  assert.match(text, /deputy assistant secretary of state/i);
  const variants = page.locator('#quote-variants .variants', { hasText: 'Blinken' });
  assert.ok(await variants.count() >= 1, 'variants of a Blinken quote');
  assert.ok(await page.locator('#quote-variants ins.w-added, #quote-variants del.w-missing').count() >= 1, 'word differences marked');
  assert.ok(await page.locator('#sources tr.source').count() >= 3, 'outlets listed');
  assert.ok(await page.locator('#matrix tr.row').count() >= 5, 'comparison matrix');
  assert.ok(await page.locator('#related a').count() >= 1, 'the other stories of the thread are linked');
  await page.screenshot({ path: path.join(shots, 'story.png'), fullPage: true });
  // The matrix can hide the facts every outlet reports.
  await page.check('#matrix input[type=checkbox]');
  const hidden = await page.locator('#matrix tr.row').evaluateAll(rs => rs.filter(r => r.style.display === 'none').length);
  assert.ok(hidden >= 1, 'rows reported by all outlets hidden');
});

test('an article page highlights entities, quotes and figures and shows removed boilerplate on demand', async () => {
  const href = await page.locator('#sources tr.source a').first().getAttribute('href');
  await page.goto(new URL(href, base).href);
  assert.ok(await page.locator('#text mark.PER').count() >= 1, 'people marked');
  assert.ok(await page.locator('#text q.quote').count() >= 1, 'quotes marked');
  const removed = page.locator('#removed');
  await removed.locator('summary').click();
  assert.equal(await removed.getAttribute('open'), '');
  await page.screenshot({ path: path.join(shots, 'article.png'), fullPage: true });
});

test('entity and thread pages open from the story', async () => {
  await page.goto(base);
  await page.locator('#stories tr.story a').first().click();
  await page.locator('#entities a.tag', { hasText: 'Blinken' }).first().click();
  assert.match(await page.locator('h1').innerText(), /Blinken/);
  assert.ok(await page.locator('text=Roles, as each article states them').count() === 1);
  await page.screenshot({ path: path.join(shots, 'entity.png'), fullPage: true });
  await page.goBack();
  const thread = page.locator('a', { hasText: 'thread' }).first();
  if (await thread.count()) {
    await thread.click();
    assert.ok(await page.locator('#thread tr').count() >= 2);
    await page.screenshot({ path: path.join(shots, 'thread.png'), fullPage: true });
  }
});

test('the API answers JSON, errors included', async () => {
  const ok = await fetch(`${base}stories?limit=1`).then(r => r.json());
  assert.equal(ok.stories.length, 1);
  const bad = await fetch(`${base}stories?limit=0`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, 'bad_request');
});

test('a story page and the story list open in Chromium show an article that arrives while they are open', async () => {
  const top = (await fetch(`${base}stories?limit=1`).then(r => r.json())).stories[0];
  await page.goto(`${base}ui/stories/${encodeURIComponent(top.id)}`);
  const list = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  list.on('pageerror', e => consoleErrors.push(String(e)));
  await list.goto(base);
  // Both pages are connected to the event stream.
  await page.waitForSelector('#live:not(.off)', { timeout: 15000 });
  await list.waitForSelector('#live:not(.off)', { timeout: 15000 });
  const before = await page.locator('#sources tr.source').count();
  assert.equal(await page.locator('#sources tr.source.new').count(), 0);

  // Another process stores a rewrite of one of the story's articles, under a new outlet.
  const text = readFileSync(path.join(root, 'examples/001_cd5b6eb30dfdc74c.txt'), 'utf8').replace('[ad_1]', '');
  const input = path.join(db, 'live.jsonl');
  writeFileSync(input, JSON.stringify({ id: 'live-1', url: 'https://live.example/news/envoy', outlet: 'live.example',
    title: 'U.S. envoy heads to the Middle East as violence mounts', published: '2021-05-13', text }) + '\n');
  const ingest = spawnSync(bin, ['ingest', '--db', db, '--no-progress', input], { encoding: 'utf8' });
  assert.equal(ingest.status, 0, ingest.stderr);

  // The open story page shows it, marked, without a reload.
  const added = page.locator('#sources tr.source.new');
  await added.first().waitFor({ timeout: 30000 });
  assert.equal(await added.count(), 1);
  assert.match(await added.innerText(), /live\.example/);
  assert.match(await added.locator('.badge').innerText(), /new since opened/);
  assert.equal(await page.locator('#sources tr.source').count(), before + 1);
  assert.match(await page.locator('#live').innerText(), /1 new since opened/);
  await page.screenshot({ path: path.join(shots, 'live-story.png'), fullPage: true });

  // The story list marks the story that grew.
  const grown = list.locator(`#stories tr.story.new[data-story="${top.id}"]`);
  await grown.waitFor({ timeout: 30000 });
  assert.match(await grown.locator('.badge').innerText(), /\+1 since opened/);
  assert.equal(Number(await grown.locator('td:nth-child(2)').innerText().then(t => t.trim())), top.articles + 1);
  await list.screenshot({ path: path.join(shots, 'live-list.png'), fullPage: true });
  await list.close();
});

test('no page logged an error: the Content-Security-Policy blocked nothing the UI needs', async () => {
  const res = await page.goto(base);
  assert.match(res.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
  assert.equal(await page.locator('link[rel=stylesheet]').count(), 1);
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.querySelector('header.top')).display), 'block', 'the stylesheet applied');
  assert.deepEqual(consoleErrors, []);
});
