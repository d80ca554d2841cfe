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
  // A wrong date is shown where it was typed, with what is wrong; the list stays.
  for (const bad of ['2021-13-01', '2021-02-30', 'not-a-date']) {
    await page.goto(`${base}?from=${bad}`);
    assert.equal(await page.inputValue('form.filters input[name=from]'), bad, 'the wrong value stays visible');
    assert.equal(await page.getAttribute('form.filters input[name=from]', 'aria-invalid'), 'true');
    const error = page.locator('#error-from');
    assert.ok(await error.isVisible(), `an error for ${bad}`);
    assert.match(await error.innerText(), new RegExp(`from wants a date like 2021-05-12, not .${bad}.`));
    assert.ok(await page.locator('#stories tr.story').count() >= 2, 'the list is not filtered by it');
  }
  await page.goto(`${base}?from=2021-06-01&to=2021-05-01`);
  assert.match(await page.locator('#error-to').innerText(), /from \(2021-06-01\) is after to \(2021-05-01\)/);
  // The text box's hint reads as written.
  assert.equal(await page.getAttribute('form.filters input[name=q]', 'placeholder'), 'words, "phrases", AND/OR, -word');
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

  // A page for reading: a contents bar over collapsible parts, the long ones closed.
  const parts = await page.locator('nav.contents a').evaluateAll(as => as.map(a => a.getAttribute('href')));
  assert.deepEqual(parts.slice(0, 3), ['#summary', '#sources', '#conflicts']);
  for (const id of ['summary', 'sources', 'conflicts']) assert.equal(await page.getAttribute(`details#${id}`, 'open'), '', `${id} open`);
  for (const id of ['quote-variants', 'copies', 'timeline', 'matrix', 'entities']) assert.equal(await page.getAttribute(`details#${id}`, 'open'), null, `${id} closed`);
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(height <= 3.5 * 900, `the four-article story fits in about three screens: ${height} px`);
  // The contents bar opens the part it links to.
  await page.click('nav.contents a[href="#matrix"]');
  assert.equal(await page.getAttribute('details#matrix', 'open'), '');
  // The matrix opens on the facts some outlets leave out; the box shows the rest.
  const shown = () => page.locator('#matrix tr.row').evaluateAll(rs => rs.filter(r => getComputedStyle(r).display !== 'none').length);
  const all = await page.locator('#matrix tr.row').count();
  assert.ok(await page.isChecked('#matrix input.only-diffs'));
  const some = await shown();
  assert.ok(some >= 1 && some < all, `${some} of ${all} rows shown`);
  assert.equal(await page.locator('#matrix tr.row.all').evaluateAll(rs => rs.filter(r => getComputedStyle(r).display !== 'none').length), 0);
  await page.uncheck('#matrix input.only-diffs');
  assert.equal(await shown(), all);
  await page.screenshot({ path: path.join(shots, 'story-matrix.png'), fullPage: true });
});

test('every summary citation shows the sentence of its article that supports it', async () => {
  const cites = page.locator('#summary .cite-wrap');
  const n = await cites.count();
  assert.ok(n >= 2, `${n} citations`);
  for (let i = 0; i < n; i++) {
    const c = cites.nth(i);
    const said = (await c.locator('.support').textContent()).trim();
    assert.ok(said.length > 40 && /“.+”/.test(said), `citation ${i} carries its sentence: ${said}`);
  }
  // On hover it shows; a click pins it open without leaving the page.
  const first = cites.first();
  assert.ok(!(await first.locator('.support').isVisible()));
  await first.locator('a.cite').hover();
  assert.ok(await first.locator('.support').isVisible(), 'shown on hover');
  await page.mouse.move(0, 0);
  const url = page.url();
  await first.locator('a.cite').click();
  assert.equal(page.url(), url, 'the first click shows the sentence, it does not navigate');
  await page.mouse.move(0, 0);
  assert.ok(await first.locator('.support').isVisible(), 'pinned by the click');
  assert.ok(await first.locator('.support a', { hasText: 'open article' }).count() === 1);
  await page.screenshot({ path: path.join(shots, 'citation.png') });
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
  await page.click('nav.contents a[href="#entities"]');
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
