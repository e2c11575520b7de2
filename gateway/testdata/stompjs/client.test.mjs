// Third-party client test: @stomp/stompjs (with the ws package as its
// WebSocket) against a running stomp-gateway.
//
// gateway/stompjs_test.go (TestStompJSClient) starts the gateway on the
// embedded broker and runs this file with GATEWAY_URL set:
//
//   GATEWAY_URL=ws://127.0.0.1:PORT/ws node --test --test-reporter=spec client.test.mjs
//
// Every test has a hard timeout and deactivates (or, failing that,
// terminates) every client it made, so the run can never hang. All tests
// share one gateway, so each uses destinations of its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const URL = process.env.GATEWAY_URL;
if (!URL) {
  throw new Error('GATEWAY_URL is not set; run this through `go test -run TestStompJSClient ./gateway/`');
}

const PROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];
const TEST_TIMEOUT = 10_000; // ms, per test
const WAIT = 5_000; // ms, longest wait for one expected event
const QUIET = 300; // ms, how long "nothing arrives" is watched

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function unique(prefix) {
  return `${prefix}.${Date.now()}.${randomUUID().slice(0, 8)}`;
}

// Harness owns the clients of one test: it fails the test on any STOMP
// ERROR, WebSocket error or unexpected close, bounds every wait, and closes
// everything at the end.
class Harness {
  constructor(name) {
    this.name = name;
    this.clients = [];
    this.problems = [];
    this.log = []; // stompjs debug lines, printed when the test fails
    this.started = Date.now();
    let fail;
    this.failed = new Promise((_, reject) => {
      fail = reject;
    });
    this.failed.catch(() => {}); // observed through wait()
    this.fail = (err) => {
      this.problems.push(err);
      fail(err);
    };
  }

  // wait resolves with promise's value, or rejects when the harness sees a
  // failure or after ms.
  async wait(promise, what, ms = WAIT) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    try {
      return await Promise.race([promise, this.failed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // client creates a stompjs Client (not yet active). opts are Client
  // options that override the defaults.
  client(opts = {}) {
    const n = this.clients.length + 1;
    const rec = {
      n,
      closing: false, // set before a close the test asks for
      closes: [], // onWebSocketClose events
      heartbeats: 0, // server heart-beats stompjs saw
      socket: undefined, // the ws WebSocket
      wsMessages: [], // {binary, bytes} of every WebSocket message received
    };
    const client = new Client({
      webSocketFactory: () => {
        const ws = new WebSocket(URL, PROTOCOLS);
        ws.on('message', (data, isBinary) => {
          rec.wsMessages.push({ binary: isBinary, bytes: data.byteLength });
        });
        rec.socket = ws;
        return ws;
      },
      connectHeaders: { login: 'alice', passcode: 'x' },
      reconnectDelay: 0,
      connectionTimeout: WAIT,
      debug: (line) => {
        this.log.push(`[${Date.now() - this.started} ms, client ${n}] ${line}`);
        if (this.log.length > 400) this.log.shift();
      },
      ...opts,
    });
    client.onStompError = (frame) => {
      this.fail(new Error(`client ${n}: STOMP ERROR ${JSON.stringify(frame.headers)}: ${frame.body}`));
    };
    client.onWebSocketError = (evt) => {
      this.fail(new Error(`client ${n}: WebSocket error: ${evt?.message ?? evt?.error ?? evt}`));
    };
    client.onWebSocketClose = (evt) => {
      rec.closes.push({ code: evt.code, reason: evt.reason, wasClean: evt.wasClean });
      if (!rec.closing) {
        this.fail(new Error(`client ${n}: WebSocket closed unexpectedly: code ${evt.code} ${JSON.stringify(evt.reason)}`));
      }
    };
    client.onHeartbeatReceived = () => {
      rec.heartbeats++;
    };
    client.onHeartbeatLost = () => {
      this.fail(new Error(`client ${n}: server heart-beats lost`));
    };
    client.onUnhandledMessage = (m) => {
      this.fail(new Error(`client ${n}: MESSAGE for no subscription: ${JSON.stringify(m.headers)}`));
    };
    client.onUnhandledFrame = (f) => {
      this.fail(new Error(`client ${n}: unexpected ${f.command} ${JSON.stringify(f.headers)}`));
    };
    client.onUnhandledReceipt = (f) => {
      this.fail(new Error(`client ${n}: RECEIPT nobody waited for: ${JSON.stringify(f.headers)}`));
    };
    client.rec = rec;
    this.clients.push(client);
    return client;
  }

  // connect activates a new client and returns it with its CONNECTED frame.
  async connect(opts = {}) {
    const client = this.client(opts);
    const connected = new Promise((resolve) => {
      client.onConnect = resolve;
    });
    client.activate();
    const frame = await this.wait(connected, `CONNECTED (client ${client.rec.n})`);
    return { client, frame };
  }

  // disconnect deactivates client gracefully (DISCONNECT, RECEIPT, close).
  async disconnect(client) {
    client.rec.closing = true;
    await this.wait(client.deactivate(), `deactivate() of client ${client.rec.n}`);
  }

  // cleanup closes whatever is still open, by force where a graceful
  // close does not finish quickly.
  async cleanup() {
    for (const client of this.clients) {
      client.rec.closing = true;
      try {
        await Promise.race([client.deactivate(), sleep(1_000)]);
      } catch {
        // forced below
      }
      try {
        if (client.active) await Promise.race([client.deactivate({ force: true }), sleep(1_000)]);
      } catch {
        // nothing more to do
      }
      const ws = client.rec.socket;
      if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
    }
  }
}

// Inbox collects the MESSAGEs of one subscription.
class Inbox {
  constructor(h, what) {
    this.h = h;
    this.what = what;
    this.messages = [];
    this.waiters = [];
  }

  // onMessage is the subscription callback.
  onMessage = (m) => {
    this.messages.push(m);
    const w = this.waiters.shift();
    if (w) w();
  };

  // next returns the next message, waiting for it.
  async next(what = `a MESSAGE on ${this.what}`) {
    if (this.messages.length === 0) {
      await this.h.wait(new Promise((resolve) => this.waiters.push(resolve)), what);
    }
    return this.messages.shift();
  }

  // none asserts that no message arrives within ms.
  async none(ms = QUIET, why = '') {
    await this.h.wait(sleep(ms), `${ms} ms of silence`, ms + WAIT);
    assert.equal(
      this.messages.length,
      0,
      `unexpected MESSAGE on ${this.what}${why}: ${this.messages.map((m) => JSON.stringify({ headers: m.headers, body: m.body })).join(', ')}`,
    );
  }
}

// receipt resolves with the RECEIPT frame for id (register before sending).
function receipt(h, client, id) {
  const p = new Promise((resolve) => client.watchForReceipt(id, resolve));
  return { wait: () => h.wait(p, `RECEIPT ${id}`) };
}

// stompTest is test() with a timeout, a harness, a check that nothing went
// wrong on the side, and cleanup that always runs.
function stompTest(name, fn) {
  test(name, { timeout: TEST_TIMEOUT }, async () => {
    const h = new Harness(name);
    try {
      await fn(h);
      // Let late ERRORs or closes surface before declaring success.
      await sleep(20);
      assert.deepEqual(h.problems.map(String), [], 'errors during the test');
      if (process.env.STOMPJS_DEBUG) console.log(`--- stompjs debug log of "${name}" ---\n${h.log.join('\n')}\n--- end ---`);
    } catch (err) {
      console.log(`--- stompjs debug log of "${name}" ---\n${h.log.join('\n')}\n--- end ---`);
      throw err;
    } finally {
      await h.cleanup();
    }
  });
}

stompTest('connect: CONNECTED with version 1.2, server and user-name', async (h) => {
  const { client, frame } = await h.connect();
  assert.equal(frame.command, 'CONNECTED');
  assert.equal(frame.headers.version, '1.2');
  assert.equal(client.connectedVersion, '1.2');
  assert.equal(client.rec.socket.protocol, 'v12.stomp', 'negotiated WebSocket subprotocol');
  assert.ok(frame.headers.server?.startsWith('stomp-gateway/'), `server header ${JSON.stringify(frame.headers.server)}`);
  assert.equal(frame.headers['user-name'], 'alice', 'user-name echoes the login');
  assert.ok(frame.headers.session, 'session header present');
  // stompjs asks for 10000,10000 by default; the gateway agrees to both.
  assert.equal(frame.headers['heart-beat'], '10000,10000');
  assert.equal(client.connected, true);
  await h.disconnect(client);
});

stompTest('subscribe and send: a JSON message round-trips with its headers', async (h) => {
  const { client } = await h.connect();
  const dest = '/topic/chat.room.5';
  const inbox = new Inbox(h, dest);
  const sub = client.subscribe(dest, inbox.onMessage);
  const payload = { text: 'hello, room 5 — grüße', n: 42, nested: { ok: true } };
  const custom = unique('trace');
  client.publish({
    destination: dest,
    body: JSON.stringify(payload),
    headers: {
      'content-type': 'application/json',
      'x-trace-id': custom,
      // 1.2 header escaping, both ways: colon and backslash.
      'x-note': 'a:b\\x',
    },
  });
  const m = await inbox.next();
  assert.equal(m.command, 'MESSAGE');
  assert.equal(m.headers.destination, dest);
  assert.equal(m.headers.subscription, sub.id);
  assert.ok(m.headers['message-id'], 'message-id present');
  assert.equal(m.headers['content-type'], 'application/json');
  assert.equal(m.headers['x-trace-id'], custom);
  assert.equal(m.headers['x-note'], 'a:b\\x');
  assert.equal(m.headers['content-length'], String(Buffer.byteLength(JSON.stringify(payload))));
  assert.deepEqual(JSON.parse(m.body), payload);
  await inbox.none(100, ' (one SEND, one MESSAGE)');
  sub.unsubscribe();
  await h.disconnect(client);
});

stompTest('receipt: RECEIPT for a SEND and for a SUBSCRIBE', async (h) => {
  const { client } = await h.connect();
  const dest = `/queue/${unique('receipts')}`;

  const subReceipt = unique('sub-receipt');
  const subDone = receipt(h, client, subReceipt);
  const inbox = new Inbox(h, dest);
  client.subscribe(dest, inbox.onMessage, { receipt: subReceipt });
  const rs = await subDone.wait();
  assert.equal(rs.command, 'RECEIPT');
  assert.equal(rs.headers['receipt-id'], subReceipt);

  const sendReceipt = unique('send-receipt');
  const sendDone = receipt(h, client, sendReceipt);
  client.publish({ destination: dest, body: 'with a receipt', headers: { receipt: sendReceipt } });
  const r = await sendDone.wait();
  assert.equal(r.command, 'RECEIPT');
  assert.equal(r.headers['receipt-id'], sendReceipt);

  const m = await inbox.next();
  assert.equal(m.body, 'with a receipt');
  assert.equal(m.headers.receipt, undefined, 'the SEND receipt header does not travel with the message');
  await h.disconnect(client);
});

stompTest('client-individual ack: ACK one, NACK the other, which comes back redelivered', async (h) => {
  const { client } = await h.connect();
  const dest = `/queue/${unique('ack-individual')}`;
  const inbox = new Inbox(h, dest);
  const subDone = receipt(h, client, 'sub');
  client.subscribe(dest, inbox.onMessage, { ack: 'client-individual', receipt: 'sub' });
  await subDone.wait();
  client.publish({ destination: dest, body: 'one' });
  client.publish({ destination: dest, body: 'two' });

  const one = await inbox.next();
  const two = await inbox.next();
  assert.equal(one.body, 'one');
  assert.equal(two.body, 'two');
  for (const m of [one, two]) {
    assert.equal(m.headers.redelivered, 'false', `${m.body}: first delivery`);
    assert.ok(m.headers.ack, `${m.body}: 1.2 ack header present`);
  }
  one.ack();
  two.nack();

  const again = await inbox.next('the NACKed message redelivered');
  assert.equal(again.body, 'two');
  assert.equal(again.headers.redelivered, 'true');
  assert.ok(again.headers.ack, 'redelivery has an ack header');
  const ackDone = receipt(h, client, 'ack');
  again.ack({ receipt: 'ack' });
  await ackDone.wait();
  await inbox.none(QUIET, ' after everything was settled');
  await h.disconnect(client);
});

stompTest('client ack: ACK of the 3rd message settles all three cumulatively', async (h) => {
  const dest = `/queue/${unique('ack-cumulative')}`;
  {
    const { client } = await h.connect();
    const inbox = new Inbox(h, dest);
    const subDone = receipt(h, client, 'sub');
    client.subscribe(dest, inbox.onMessage, { ack: 'client', receipt: 'sub' });
    await subDone.wait();
    for (const body of ['m1', 'm2', 'm3']) client.publish({ destination: dest, body });
    const got = [await inbox.next(), await inbox.next(), await inbox.next()];
    assert.deepEqual(
      got.map((m) => m.body),
      ['m1', 'm2', 'm3'],
    );
    got[2].ack();
    // DISCONNECT follows the ACK on the same connection, so the gateway
    // has settled before it answers the DISCONNECT's receipt.
    await h.disconnect(client);
    assert.equal(client.connected, false);
  }
  {
    const { client } = await h.connect();
    const inbox = new Inbox(h, dest);
    const subDone = receipt(h, client, 'sub');
    client.subscribe(dest, inbox.onMessage, { ack: 'client', receipt: 'sub' });
    await subDone.wait();
    await inbox.none(QUIET, ' (all three were settled by the cumulative ACK)');
    // The queue and the new subscription work: a fresh message arrives,
    // first and not redelivered.
    client.publish({ destination: dest, body: 'm4' });
    const m4 = await inbox.next();
    assert.equal(m4.body, 'm4');
    assert.equal(m4.headers.redelivered, 'false');
    m4.ack();
    await h.disconnect(client);
  }
});

stompTest('client ack: unsettled messages are redelivered to the next subscriber', async (h) => {
  // The control for the cumulative test above: without the ACK the same
  // sequence redelivers all three.
  const dest = `/queue/${unique('ack-none')}`;
  {
    const { client } = await h.connect();
    const inbox = new Inbox(h, dest);
    const subDone = receipt(h, client, 'sub');
    client.subscribe(dest, inbox.onMessage, { ack: 'client', receipt: 'sub' });
    await subDone.wait();
    for (const body of ['m1', 'm2', 'm3']) client.publish({ destination: dest, body });
    for (const body of ['m1', 'm2', 'm3']) assert.equal((await inbox.next()).body, body);
    await h.disconnect(client); // no ACK
  }
  {
    const { client } = await h.connect();
    const inbox = new Inbox(h, dest);
    client.subscribe(dest, inbox.onMessage, { ack: 'client' });
    const got = [await inbox.next(), await inbox.next(), await inbox.next()];
    assert.deepEqual(
      got.map((m) => [m.body, m.headers.redelivered]),
      [
        ['m1', 'true'],
        ['m2', 'true'],
        ['m3', 'true'],
      ],
    );
    got[2].ack();
    await inbox.none(100);
    await h.disconnect(client);
  }
});

stompTest('binary body: bytes including 0x00 and 0xff round-trip exactly', async (h) => {
  const { client } = await h.connect();
  const dest = `/queue/${unique('binary')}`;
  const inbox = new Inbox(h, dest);
  const subDone = receipt(h, client, 'sub');
  client.subscribe(dest, inbox.onMessage, { receipt: 'sub' });
  await subDone.wait();

  const bytes = new Uint8Array([0x00, 0xff, 0x01, 0x0a, 0x00, 0x80, 0xfe, 0x7f, 0xc3, 0x28, 0x00, 0xff]);
  const before = client.rec.wsMessages.length;
  client.publish({
    destination: dest,
    binaryBody: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  const m = await inbox.next();
  assert.equal(m.headers['content-type'], 'application/octet-stream');
  assert.equal(m.headers['content-length'], String(bytes.length));
  assert.deepEqual(new Uint8Array(m.binaryBody), bytes);

  const frames = client.rec.wsMessages.slice(before).filter((w) => w.bytes > 1); // not heart-beats
  assert.equal(frames.length, 1, `one WebSocket message for the MESSAGE, got ${JSON.stringify(frames)}`);
  assert.equal(frames[0].binary, true, 'a body that is not UTF-8 travels in a binary WebSocket message');
  await h.disconnect(client);
});

stompTest('disconnect: deactivate() resolves after the RECEIPT and the socket closes', async (h) => {
  const { client } = await h.connect();
  let disconnectFrame;
  client.onDisconnect = (f) => {
    disconnectFrame = f;
  };
  const closed = new Promise((resolve) => {
    const orig = client.onWebSocketClose;
    client.onWebSocketClose = (evt) => {
      orig(evt);
      resolve(evt);
    };
  });
  client.rec.closing = true;
  await h.wait(client.deactivate(), 'deactivate()');
  const evt = await h.wait(closed, 'onWebSocketClose');
  assert.ok(disconnectFrame, 'onDisconnect fired: the DISCONNECT receipt arrived');
  assert.equal(disconnectFrame.command, 'RECEIPT');
  assert.match(disconnectFrame.headers['receipt-id'], /^close-/);
  assert.equal(evt.code, 1000, `close code ${evt.code} ${JSON.stringify(evt.reason)}`);
  assert.equal(client.rec.closes.length, 1);
  assert.equal(client.connected, false);
  assert.equal(client.active, false);
  assert.equal(client.rec.socket.readyState, WebSocket.CLOSED);
});

stompTest('heart-beats: 250 ms both ways keep an idle connection up', async (h) => {
  // 250 ms rather than shorter so a busy CI machine's scheduling delays
  // stay well inside the gateway's 2 x interval allowance.
  const { client, frame } = await h.connect({ heartbeatIncoming: 250, heartbeatOutgoing: 250 });
  assert.equal(frame.headers['heart-beat'], '250,250');
  await h.wait(sleep(1500), '1500 ms idle', 1500 + WAIT);
  assert.equal(client.connected, true, 'still connected after 1500 ms of heart-beats only');
  assert.deepEqual(client.rec.closes, [], 'no close');
  assert.ok(client.rec.heartbeats >= 3, `server heart-beats seen: ${client.rec.heartbeats}, want >= 3 in 1500 ms at 250 ms`);
  // The session is still usable.
  const r = receipt(h, client, 'still-alive');
  client.publish({ destination: `/queue/${unique('hb')}`, body: 'x', headers: { receipt: 'still-alive' } });
  await r.wait();
  await h.disconnect(client);
});
