// Live pages: the story list and story pages follow the server's events (GET /events) and
// refetch themselves when their stories change; what arrived since the page was opened is
// marked. Without a marker (#live) or EventSource, the page stays as it was served.
(() => {
  const live = document.getElementById('live');
  if (!live || !window.EventSource) return;
  const mode = live.dataset.live;
  const story = live.dataset.story;
  // What the page showed when it was opened.
  const storiesAtOpen = new Map();
  document.querySelectorAll('tr[data-story]').forEach(r => storiesAtOpen.set(r.dataset.story, Number(r.dataset.articles)));
  const articlesAtOpen = new Set([...document.querySelectorAll('tr[data-article]')].map(r => r.dataset.article));
  let arrived = 0, updated = null, merged = null, connected = false;
  let timer = null, busy = false, again = false;

  function status() {
    const el = document.getElementById('live');
    if (!el) return;
    el.hidden = false;
    el.classList.toggle('off', !connected);
    let text = connected ? 'Live: this page updates as articles arrive' : 'Live updates paused: reconnecting';
    if (arrived > 0) text += ` · ${arrived} new since opened`;
    if (updated) text += ` · updated ${updated.toLocaleTimeString()}`;
    el.textContent = text;
    if (merged) {
      const a = document.createElement('a');
      a.href = `/ui/stories/${encodeURIComponent(merged)}`;
      a.textContent = 'this story was merged: open the story it joined';
      a.id = 'merged-into';
      el.append(' · ', a);
    }
  }

  function badge(row, text) {
    row.classList.add('new');
    const cell = row.querySelector('td:first-child');
    if (cell && !cell.querySelector('.badge')) {
      const b = document.createElement('span');
      b.className = 'badge';
      b.textContent = text;
      cell.append(b);
    }
  }

  function mark() {
    arrived = 0;
    if (mode === 'stories') {
      document.querySelectorAll('tr[data-story]').forEach(r => {
        const before = storiesAtOpen.get(r.dataset.story);
        const now = Number(r.dataset.articles);
        if (before === undefined) { badge(r, 'new'); arrived += 1; }
        else if (now > before) { badge(r, `+${now - before} since opened`); arrived += now - before; }
      });
    } else {
      document.querySelectorAll('tr[data-article]').forEach(r => {
        if (!articlesAtOpen.has(r.dataset.article)) { badge(r, 'new since opened'); arrived += 1; }
      });
    }
    status();
  }

  function swap(doc, selector) {
    const now = document.querySelector(selector), next = doc.querySelector(selector);
    if (now && next) now.replaceWith(next);
  }

  async function reload() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const r = await fetch(location.href, { headers: { Accept: 'text/html' }, cache: 'no-store' });
      if (r.ok) {
        const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
        if (mode === 'stories') {
          ['#counts', '#matching', '#stories', '.pager'].forEach(s => swap(doc, s));
        } else {
          const main = document.querySelector('main'), next = doc.querySelector('main');
          if (main && next) main.replaceWith(next);
        }
        updated = new Date();
        mark();
      }
    } catch (e) {
      // The server is away; the next event or reconnect tries again.
    } finally {
      busy = false;
      if (again) { again = false; schedule(); }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(reload, 300);
  }

  const url = '/events?type=story_created,story_grew,story_merged' + (mode === 'story' ? `&story=${encodeURIComponent(story)}` : '');
  const events = new EventSource(url);
  events.onopen = () => { connected = true; status(); };
  events.onerror = () => { connected = false; status(); };
  for (const type of ['story_created', 'story_grew', 'story_merged']) {
    events.addEventListener(type, m => {
      let e = {};
      try { e = JSON.parse(m.data); } catch (_) { return; }
      if (type === 'story_merged' && mode === 'story' && e.story === story && e.into) { merged = e.into; status(); return; }
      schedule();
    });
  }
  events.addEventListener('reset', schedule);
  status();
})();
