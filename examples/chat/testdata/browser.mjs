// Drives the chat page in headless Chromium (playwright-core on the
// system's chromium), for browser_test.go (TestChatRoomInARealBrowser).
//
// Environment: CHAT_URL (the page), CONTROL_URL (the test's side: POST
// /gateway/stop, /gateway/start and /post?room=&writer=&text=, a post
// published through the broker), CHROMIUM (the browser binary),
// SCREENSHOT (where to save the PNG of bob's page; a composite of the
// three pages goes beside it as NAME-all.png). Exits non-zero, saying
// which step failed, on any failure.
import { chromium } from 'playwright-core';
import path from 'node:path';

const url = process.env.CHAT_URL;
const controlURL = process.env.CONTROL_URL;
const executablePath = process.env.CHROMIUM;
const screenshot = process.env.SCREENSHOT;
for (const [k, v] of Object.entries({ CHAT_URL: url, CONTROL_URL: controlURL, CHROMIUM: executablePath, SCREENSHOT: screenshot })) {
  if (!v) {
    console.error(`FAIL: ${k} is not set`);
    process.exit(2);
  }
}

const WAIT = 15_000; // for anything the page should show
const QUIET = 1_500; // how long a message that must not arrive gets

// A post from the room, as the page renders it.
const post = (type, writer) => `#messages li[data-type="${type}"][data-writer="${writer}"]`;
// The page's "caught up" line, after a reconnect's SUBSCRIBE RECEIPT.
const caughtUp = '#messages li.note.caught-up';

// control asks the test's side (browser_test.go) to act, and waits for it.
async function control(path, query) {
  const res = await fetch(controlURL + path + (query ? '?' + new URLSearchParams(query) : ''), { method: 'POST' });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

let current = 'launch Chromium';
async function step(name, fn) {
  current = name;
  const start = Date.now();
  const r = await fn();
  console.log(`ok   ${name} (${Date.now() - start} ms)`);
  return r;
}

const pageErrors = [];
let browser;
const pages = {};

try {
  browser = await chromium.launch({
    executablePath,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  console.log(`ok   launched Chromium ${browser.version()}`);

  // joinAs opens the page in a browser context of its own (its own
  // storage), as one person, and joins a room: connected, and the
  // person's own ENTER has come back, so the subscription is live.
  async function joinAs(name, room, setup) {
    const context = await browser.newContext({ viewport: { width: 820, height: 700 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/WebSocket/i.test(m.text())) pageErrors.push(`${name} console: ${m.text()}`);
    });
    if (setup) await setup(page);
    await page.goto(url);
    await page.fill('#name', name);
    await page.fill('#room', String(room));
    await page.click('#join');
    await page.waitForSelector('#state[data-state="connected"]');
    await page.waitForSelector(post('ENTER', name));
    const shown = await page.textContent('#room-number');
    if (shown !== String(room)) throw new Error(`${name}'s header shows room ${shown}, want ${room}`);
    if (await page.isDisabled('#message')) throw new Error(`${name}'s message box is disabled while connected`);
    pages[name] = page;
    return page;
  }

  // send types text into the composer and presses Send.
  async function send(page, text) {
    await page.fill('#message', text);
    await page.click('#send');
    await page.waitForFunction(() => document.getElementById('message').value === '');
  }

  // messages returns the MESSAGE posts a page shows, as {writer, text, own,
  // recovered}.
  const messages = (page) => page.$$eval('#messages li[data-type="MESSAGE"]', (els) => els.map((el) => ({
    writer: el.dataset.writer,
    text: el.querySelector('[data-testid="text"]').textContent,
    own: el.classList.contains('own'),
    markup: el.querySelector('[data-testid="text"]').children.length,
    recovered: el.dataset.recovered === 'true',
  })));

  // timeline returns what a page's list shows, in order: posts as
  // "writer: text" (recovered ones prefixed "~"), the caught-up line as
  // "CAUGHT UP", other lines as "·".
  const timeline = (page) => page.$$eval('#messages li', (els) => els.map((el) => {
    if (el.classList.contains('caught-up')) return 'CAUGHT UP';
    if (el.dataset.type !== 'MESSAGE') return '·';
    return (el.dataset.recovered === 'true' ? '~' : '') + el.dataset.writer + ': ' + el.querySelector('[data-testid="text"]').textContent;
  }));

  async function expectMessage(page, who, writer, text, own) {
    await page.waitForFunction(
      ([w, t]) => [...document.querySelectorAll('#messages li[data-type="MESSAGE"]')]
        .some((el) => el.dataset.writer === w && el.querySelector('[data-testid="text"]').textContent === t),
      [writer, text], { timeout: WAIT });
    const m = (await messages(page)).find((x) => x.writer === writer && x.text === text);
    if (m.own !== own) throw new Error(`${who} shows ${writer}'s message as ${m.own ? 'own' : "someone else's"}`);
    if (m.markup !== 0) throw new Error(`${who} rendered markup inside ${writer}'s message`);
  }

  // bob's WebSocket goes through a route the test can cut, to see the
  // page notice the drop and reconnect.
  let bobSocket = null;
  const routeBob = (page) => page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    bobSocket = { page: ws, server };
  });

  await step('alice joins room 5', () => joinAs('alice', 5));
  await step('bob joins room 5', () => joinAs('bob', 5, routeBob));
  await step('carol joins room 6', () => joinAs('carol', 6));
  const { alice, bob, carol } = pages;

  await step('alice sees bob enter room 5', () => alice.waitForSelector(post('ENTER', 'bob')));

  const hello = 'Hi bob! Has the build finished?';
  await step('alice posts to room 5', () => send(alice, hello));
  await step('bob sees it, written by alice', () => expectMessage(bob, 'bob', 'alice', hello, false));
  await step('alice sees her own message, marked as hers', () => expectMessage(alice, 'alice', 'alice', hello, true));

  const markup = 'Yes, all green. <b>x</b> <img src=x onerror="window.pwned=1"> & done';
  await step('bob posts a message containing HTML', () => send(bob, markup));
  await step('alice sees the HTML as text, not markup', () => expectMessage(alice, 'alice', 'bob', markup, false));
  if (await alice.evaluate(() => window.pwned === 1)) throw new Error('bob\'s message ran script in alice\'s page');

  const elsewhere = 'Anyone in room 6?';
  await step('carol posts to room 6', () => send(carol, elsewhere));
  await step('carol sees her own message', () => expectMessage(carol, 'carol', 'carol', elsewhere, true));

  await step(`after ${QUIET} ms, room 6 has not seen room 5's messages, nor room 5 room 6's`, async () => {
    await carol.waitForTimeout(QUIET);
    const leaked = (await messages(carol)).filter((m) => m.writer !== 'carol');
    if (leaked.length) throw new Error(`carol (room 6) shows room 5's messages: ${JSON.stringify(leaked)}`);
    if (await carol.$(post('ENTER', 'alice')) || await carol.$(post('ENTER', 'bob'))) throw new Error('carol (room 6) shows room 5\'s ENTER posts');
    for (const [who, page] of [['alice', alice], ['bob', bob]]) {
      const wrong = (await messages(page)).filter((m) => m.writer === 'carol');
      if (wrong.length) throw new Error(`${who} (room 5) shows carol's room 6 message`);
    }
  });

  await step('bob\'s connection drops: the badge says reconnecting and the composer is disabled', async () => {
    if (!bobSocket) throw new Error('bob\'s WebSocket was not routed');
    const { page: ws, server } = bobSocket;
    bobSocket = null;
    await server.close();
    await ws.close();
    await bob.waitForSelector('#state[data-state="reconnecting"]');
    if (!(await bob.isDisabled('#message')) || !(await bob.isDisabled('#send'))) throw new Error('the composer stays enabled while disconnected');
  });
  await step('bob reconnects on his own and is caught up, nothing having been posted meanwhile', async () => {
    await bob.waitForSelector('#state[data-state="connected"]');
    await bob.waitForSelector(caughtUp);
    if ((await messages(bob)).some((m) => m.recovered)) throw new Error('bob shows posts as missed, though none were posted while he was away');
  });

  const after = 'Back again: did I miss anything?';
  await step('bob posts after reconnecting and alice sees it', async () => {
    await send(bob, after);
    await expectMessage(alice, 'alice', 'bob', after, false);
  });
  const reply = 'Nothing much, welcome back.';
  await step('alice answers and bob, resubscribed, sees it', async () => {
    await send(alice, reply);
    await expectMessage(bob, 'bob', 'alice', reply, false);
  });

  // The gateway restarts in the middle of the conversation (a deploy): the
  // pages lose their connection, dave posts meanwhile through the broker,
  // and once a gateway is back on the same address each page resubscribes
  // from the last offset it saw and shows what it missed.
  const missed = ['Deploying the gateway now', 'It may drop you for a moment', 'Should be back in a few seconds'];
  const caughtUpBefore = {};
  await step('the gateway stops: every page says reconnecting', async () => {
    for (const [who, page] of Object.entries(pages)) caughtUpBefore[who] = (await page.$$(caughtUp)).length;
    await control('/gateway/stop');
    for (const page of [alice, bob, carol]) await page.waitForSelector('#state[data-state="reconnecting"]');
  });
  await step('dave posts three messages to room 5 while the gateway is down', async () => {
    for (const text of missed) await control('/post', { room: '5', writer: 'dave', text });
  });
  await step('a gateway starts again on the same address', () => control('/gateway/start'));
  for (const [who, page] of [['alice', alice], ['bob', bob]]) {
    await step(`${who} reconnects and shows dave's posts once, in order, as missed, then "caught up"`, async () => {
      await page.waitForSelector('#state[data-state="connected"]', { timeout: 2 * WAIT });
      await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length === n, [caughtUp, caughtUpBefore[who] + 1]);
      const lines = await timeline(page);
      const at = lines.indexOf('~dave: ' + missed[0]);
      const want = [...missed.map((t) => '~dave: ' + t), 'CAUGHT UP'];
      const got = lines.slice(at, at + want.length);
      if (at < 0 || JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${who}'s page shows ${JSON.stringify(lines)}, want ${JSON.stringify(want)} in it`);
      const dave = (await messages(page)).filter((m) => m.writer === 'dave');
      if (dave.length !== missed.length) throw new Error(`${who} shows ${dave.length} of dave's posts, want ${missed.length} (each once)`);
      if (lines.indexOf('dave: ' + missed[0]) >= 0) throw new Error(`${who} shows dave's post live as well as missed`);
      const last = await page.textContent(caughtUp + ':last-of-type');
      if (!/3 messages/.test(last)) throw new Error(`${who}'s caught-up line says "${last}"`);
      if (await page.$('#messages li.note.partial')) throw new Error(`${who} says messages are no longer available, though the history has them all`);
    });
  }
  await step('carol, in room 6, reconnects and is caught up with nothing missed', async () => {
    await carol.waitForSelector('#state[data-state="connected"]', { timeout: 2 * WAIT });
    await carol.waitForSelector(caughtUp);
    if ((await messages(carol)).some((m) => m.writer === 'dave')) throw new Error('carol (room 6) shows dave\'s room 5 posts');
  });
  await step('the conversation goes on live after the restart', async () => {
    const text = 'Welcome back, everyone';
    await send(alice, text);
    await expectMessage(bob, 'bob', 'alice', text, false);
    if ((await messages(bob)).find((m) => m.text === text).recovered) throw new Error('a live post is marked as missed');
  });

  await step(`screenshot ${screenshot}`, async () => {
    await bob.screenshot({ path: screenshot });
    // A composite of the three pages, side by side, for a person to look at.
    const shots = {};
    for (const [name, page] of Object.entries(pages)) shots[name] = (await page.screenshot()).toString('base64');
    const ctx = await browser.newContext({ viewport: { width: 3 * 820 + 40, height: 760 } });
    const board = await ctx.newPage();
    await board.setContent(`<body style="margin:0;padding:10px;display:flex;gap:10px;background:#222;font:14px sans-serif;color:#eee">${
      Object.entries(shots).map(([n, b]) => `<figure style="margin:0"><figcaption style="padding:0 0 6px">${n}</figcaption><img src="data:image/png;base64,${b}"></figure>`).join('')}</body>`);
    const p = path.parse(screenshot);
    await board.screenshot({ path: path.join(p.dir, `${p.name}-all${p.ext}`) });
    await ctx.close();
  });

  await step('alice leaves: bob sees her go and her page is back at the join form', async () => {
    await alice.click('#leave');
    await alice.waitForSelector('#join-form', { state: 'visible' });
    const state = await alice.getAttribute('#state', 'data-state');
    if (state !== 'disconnected') throw new Error(`alice's badge says ${state} after leaving`);
    await bob.waitForSelector(post('LEAVE', 'alice'));
  });

  await step('carol switches to room 5 and sees new posts there', async () => {
    await carol.fill('#switch-room', '5');
    await carol.click('#switch');
    await carol.waitForSelector(post('ENTER', 'carol'));
    if (await carol.textContent('#room-number') !== '5') throw new Error('carol\'s header does not show room 5');
    await bob.waitForSelector(post('ENTER', 'carol'));
    await send(bob, 'Hello carol');
    await expectMessage(carol, 'carol', 'bob', 'Hello carol', false);
    if ((await messages(carol)).some((m) => m.text === elsewhere)) throw new Error('room 6\'s messages stayed on screen after the switch');
  });

  if (pageErrors.length) {
    current = 'no script errors in the pages';
    throw new Error(pageErrors.join('\n'));
  }
  console.log('PASS: two people chatted in room 5, room 6 saw none of it, the page reconnected after a drop, and showed what it missed while the gateway restarted');
} catch (err) {
  console.error(`FAIL at "${current}": ${err && err.stack ? err.stack : err}`);
  if (pageErrors.length) console.error('page errors:\n' + pageErrors.join('\n'));
  for (const [name, page] of Object.entries(pages)) {
    const p = path.parse(screenshot);
    await page.screenshot({ path: path.join(p.dir, `${p.name}-failed-${name}${p.ext}`) }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch((err) => console.error(`closing Chromium: ${err}`));
}
