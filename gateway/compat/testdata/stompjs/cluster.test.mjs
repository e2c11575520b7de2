// Two gateway nodes on one RabbitMQ cluster, driven by @stomp/stompjs (on
// the ws package): a topic published through gateway A reaches a
// subscriber on gateway B, and clients that fail over from A to B when A
// is stopped (SIGTERM) miss no message they got a RECEIPT for.
//
// relay/cluster_gateways_test.go (TestClusterTwoGatewaysStompJS, build tag
// cluster, `make test-cluster`) starts the gateways and runs this file with:
//
//   GATEWAY_A   ws://127.0.0.1:PORT/ws of gateway A (stopped mid-stream)
//   GATEWAY_B   ws://127.0.0.1:PORT/ws of gateway B
//   PREFIX      a prefix unique to the run, for the queue and topic keys
//   STOP_FILE   this script creates it once the stream flows through A;
//               the Go test then sends gateway A SIGTERM
//
// Every wait is bounded and every client is closed at the end, so the run
// can never hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set; run this through \`make test-cluster\``);
  }
  return v;
};
const A = env('GATEWAY_A');
const B = env('GATEWAY_B');
const PREFIX = env('PREFIX');
const STOP_FILE = env('STOP_FILE');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// until polls cond every 20 ms and fails after ms.
async function until(cond, what, ms) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

// Clients records what every client of the test did.
class Clients {
  constructor() {
    this.all = [];
    this.errors = []; // STOMP ERRORs other than the shutdown's
    this.log = []; // the last stompjs debug lines, printed on failure
  }

  // make creates a client whose WebSocket factory tries urls in turn, one
  // per (re)connect: it starts on urls[0] and fails over to the next.
  make(name, urls, reconnectDelay) {
    let attempt = 0;
    const rec = { name, connects: [], url: undefined, closing: false };
    const client = new Client({
      webSocketFactory: () => {
        rec.url = urls[attempt++ % urls.length];
        return new WebSocket(rec.url, ['v12.stomp']);
      },
      connectHeaders: { login: name, passcode: 'x' },
      reconnectDelay,
      connectionTimeout: 5_000,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: (line) => {
        this.log.push(`[${name}] ${line.slice(0, 300)}`);
        if (this.log.length > 300) this.log.shift();
      },
    });
    client.onStompError = (frame) => {
      if (frame.headers.message !== 'server shutting down') {
        this.errors.push(`${name}: ERROR ${frame.headers.message}: ${frame.body}`);
      }
    };
    client.rec = rec;
    this.all.push(client);
    return client;
  }

  async closeAll() {
    for (const c of this.all) {
      c.rec.closing = true;
      try {
        await Promise.race([c.deactivate(), sleep(1_000)]);
        if (c.active) await Promise.race([c.deactivate({ force: true }), sleep(1_000)]);
      } catch {
        // closed by force below, if at all
      }
    }
  }
}

test('a topic published through gateway A reaches a subscriber on gateway B', { timeout: 30_000 }, async (t) => {
  const cs = new Clients();
  t.after(() => cs.closeAll());
  const key = `${PREFIX}cluster.news`;
  const sub = cs.make('sub-b', [B], 0);
  const got = [];
  const subscribed = new Promise((resolve) => {
    sub.onConnect = () => {
      sub.watchForReceipt('sub', resolve);
      sub.subscribe(`/topic/${key}`, (m) => got.push(m), { id: 'news', receipt: 'sub' });
    };
  });
  sub.activate();
  await Promise.race([subscribed, sleep(10_000).then(() => Promise.reject(new Error('no SUBSCRIBE receipt from B')))]);

  const pub = cs.make('pub-a', [A], 0);
  const connected = new Promise((resolve) => (pub.onConnect = resolve));
  pub.activate();
  await Promise.race([connected, sleep(10_000).then(() => Promise.reject(new Error('no CONNECTED from A')))]);
  const receipted = new Promise((resolve) => pub.watchForReceipt('news-1', resolve));
  pub.publish({ destination: `/topic/${key}`, body: 'hello from A', headers: { receipt: 'news-1' } });
  await Promise.race([receipted, sleep(10_000).then(() => Promise.reject(new Error('no RECEIPT from A')))]);
  await until(() => got.length > 0, 'the topic message on B', 10_000);
  assert.equal(got[0].body, 'hello from A');
  assert.equal(got[0].headers.destination, `/topic/${key}`);
  assert.deepEqual(cs.errors, []);
});

test('clients fail over from a stopped gateway and miss no receipted message', { timeout: 90_000 }, async (t) => {
  const cs = new Clients();
  t.after(() => cs.closeAll());
  try {
    await failover(cs);
  } catch (err) {
    console.log(cs.log.join('\n'));
    throw err;
  }
});

async function failover(cs) {
  const queue = `${PREFIX}cluster.work`;
  const urls = [A, B];
  const consumed = new Map(); // body: deliveries
  const receipted = new Set();
  let redelivered = 0;

  const consumers = [1, 2].map((i) => {
    const c = cs.make(`consumer-${i}`, urls, 200);
    c.onConnect = () => {
      c.rec.connects.push(c.rec.url);
      c.subscribe(
        `/queue/${queue}`,
        (m) => {
          consumed.set(m.body, (consumed.get(m.body) ?? 0) + 1);
          if (m.headers.redelivered === 'true') redelivered++;
          m.ack();
        },
        { id: 'work', ack: 'client-individual', 'x-queue-type': 'quorum', 'prefetch-count': '20' },
      );
    };
    c.activate();
    return c;
  });
  await until(() => consumers.every((c) => c.rec.connects.length === 1), 'the consumers to connect to A', 10_000);

  let sent = 0;
  let publishing = true;
  const publishers = [1, 2].map((i) => {
    const c = cs.make(`publisher-${i}`, urls, 200);
    c.onConnect = () => c.rec.connects.push(c.rec.url);
    c.activate();
    return c;
  });
  const loops = publishers.map(async (c, i) => {
    for (let seq = 0; publishing; seq++) {
      await sleep(10);
      if (!c.connected) continue;
      const body = `p${i}-${seq}`;
      c.watchForReceipt(body, () => receipted.add(body));
      try {
        c.publish({
          destination: `/queue/${queue}`,
          body,
          headers: { persistent: 'true', receipt: body, 'x-queue-type': 'quorum' },
        });
        sent++;
      } catch {
        // the connection went away between the check and the publish
      }
    }
  });

  await until(() => receipted.size >= 200 && consumed.size >= 100, 'the stream to flow through A', 20_000);
  const beforeStop = receipted.size;
  writeFileSync(STOP_FILE, 'stop A\n');
  const all = [...consumers, ...publishers];
  await until(() => all.every((c) => c.rec.connects.length >= 2 && c.connected), 'every client to reconnect through B', 30_000);
  const failedOver = receipted.size;
  await until(() => receipted.size >= failedOver + 200, '200 more receipts through B', 20_000);
  publishing = false;
  await Promise.all(loops);

  await until(
    () => [...receipted].every((body) => consumed.has(body)),
    'every receipted message to be consumed',
    20_000,
  ).catch((err) => {
    const missing = [...receipted].filter((body) => !consumed.has(body));
    throw new Error(`${err.message}: ${missing.length} of ${receipted.size} missing, e.g. ${missing.slice(0, 5)}`);
  });
  const duplicates = [...consumed.values()].filter((n) => n > 1).length;
  console.log(
    `two gateways: ${receipted.size} receipted (${beforeStop} before gateway A stopped), 0 lost, ${sent} sent, ` +
      `${redelivered} redelivered, ${duplicates} consumed more than once`,
  );
  for (const c of all) {
    assert.equal(c.rec.connects[0], A, `${c.rec.name} first connected to ${c.rec.connects[0]}`);
    assert.equal(c.rec.connects.at(-1), B, `${c.rec.name} last connected to ${c.rec.connects.at(-1)}`);
  }
  assert.deepEqual(cs.errors, []);
}
