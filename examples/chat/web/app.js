// The chat room page: @stomp/stompjs (the global StompJs from
// /vendor/stomp.umd.min.js) over the gateway's /ws endpoint.
//
// A room is the topic /topic/chat.room.N. Posting SENDs a JSON post to the
// application destination /pub/chat; the chat backend stamps the writer
// from the gateway's trusted identity header and publishes the post to
// the room's topic, so what we render always comes back from the server.
// User text is only ever set with textContent.
//
// Rooms are history topics (STOMP_GATEWAY_HISTORY_TOPICS): every post
// carries x-stream-offset, its place in the room's history. The page keeps
// the last one it rendered and, when the connection comes back, resubscribes
// with x-stream-offset:<last+1> and a receipt: the posts it missed come
// first, marked x-recovered, and the RECEIPT says it has caught up. Offsets
// only grow; they need not be contiguous.
(function () {
  'use strict';

  const MAX_ROOM = 1000000; // as the backend's chat.Route accepts
  const GROUP_MS = 2 * 60 * 1000; // consecutive posts by one writer group within this
  const STATE_LABELS = {
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Reconnecting…',
    disconnected: 'Disconnected',
  };

  const $ = (id) => document.getElementById(id);
  const app = $('app');
  const joinView = $('join-view');
  const roomView = $('room-view');
  const joinForm = $('join-form');
  const nameInput = $('name');
  const roomInput = $('room');
  const joinButton = $('join');
  const joinError = $('join-error');
  const roomNumber = $('room-number');
  const meLabel = $('me');
  const stateBadge = $('state');
  const switchForm = $('switch-form');
  const switchInput = $('switch-room');
  const leaveButton = $('leave');
  const list = $('messages');
  const composer = $('composer');
  const messageInput = $('message');
  const sendButton = $('send');

  // session is the current join: one STOMP client for one person, who may
  // switch rooms while it stays connected.
  let session = null;

  function parseRoom(value) {
    const n = Number(String(value).trim());
    return Number.isInteger(n) && n >= 1 && n <= MAX_ROOM ? n : null;
  }

  function remember(name, room) {
    try {
      localStorage.setItem('chat.name', name);
      localStorage.setItem('chat.room', String(room));
    } catch (_) { /* storage may be disabled; prefilling is a nicety */ }
  }

  function prefill() {
    try {
      const name = localStorage.getItem('chat.name');
      if (name) nameInput.value = name;
      const room = parseRoom(localStorage.getItem('chat.room') || '');
      if (room) roomInput.value = room;
    } catch (_) { /* see remember */ }
    const fromHash = /^#room-(\d+)$/.exec(location.hash);
    if (fromHash && parseRoom(fromHash[1])) roomInput.value = fromHash[1];
  }

  function showJoinError(text) {
    joinError.textContent = text;
    joinError.hidden = !text;
  }

  function setState(state) {
    stateBadge.dataset.state = state;
    stateBadge.textContent = STATE_LABELS[state];
    const up = state === 'connected';
    messageInput.disabled = !up;
    sendButton.disabled = !up;
    messageInput.placeholder = up ? 'Write a message…' : 'Waiting for the connection…';
  }

  function show(view) {
    app.dataset.view = view;
    joinView.hidden = view !== 'join';
    roomView.hidden = view !== 'room';
  }

  // --- rendering -----------------------------------------------------------

  function hue(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h % 360;
  }

  function timeOf(ms) {
    const d = new Date(typeof ms === 'number' && ms > 0 ? ms : Date.now());
    const el = document.createElement('time');
    el.dateTime = d.toISOString();
    el.title = d.toLocaleString();
    el.textContent = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return el;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function append(li, force) {
    const stick = force || nearBottom();
    list.appendChild(li);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  // note adds a line of the page's own (not from the room).
  function note(text, kind) {
    const li = document.createElement('li');
    li.className = 'system note' + (kind ? ' ' + kind : '');
    li.dataset.testid = 'note';
    const span = document.createElement('span');
    span.textContent = text;
    li.appendChild(span);
    append(li, true);
  }

  // render shows a post; recovered ones (sent while the page was away)
  // are marked as such.
  function render(post, recovered) {
    const writer = typeof post.writer === 'string' && post.writer ? post.writer : 'anonymous';
    const own = session !== null && writer === session.me;
    const li = document.createElement('li');
    li.dataset.testid = 'message';
    li.dataset.type = post.type;
    li.dataset.writer = writer;
    if (recovered) {
      li.dataset.recovered = 'true';
      li.title = 'Sent while you were away';
    }

    if (post.type === 'ENTER' || post.type === 'LEAVE') {
      li.className = 'system ' + post.type.toLowerCase() + (recovered ? ' recovered' : '');
      const span = document.createElement('span');
      const who = document.createElement('strong');
      who.textContent = own ? 'You' : writer;
      span.append(who, post.type === 'ENTER' ? ' joined the room · ' : ' left the room · ', timeOf(post.sentAt));
      li.appendChild(span);
      append(li, own);
      return;
    }

    li.className = 'msg' + (own ? ' own' : '') + (recovered ? ' recovered' : '');
    const prev = list.lastElementChild;
    if (prev && prev.classList.contains('msg') && prev.dataset.writer === writer &&
        typeof post.sentAt === 'number' && post.sentAt - Number(prev.dataset.sentAt || 0) < GROUP_MS) {
      li.classList.add('cont');
    }
    li.dataset.sentAt = String(post.sentAt || Date.now());
    li.style.setProperty('--hue', hue(writer));

    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    avatar.textContent = Array.from(writer)[0].toUpperCase();

    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'writer';
    who.dataset.testid = 'writer';
    who.textContent = writer;
    meta.append(who, timeOf(post.sentAt));
    const text = document.createElement('p');
    text.className = 'text';
    text.dataset.testid = 'text';
    text.textContent = typeof post.message === 'string' ? post.message : '';
    bubble.append(meta, text);

    li.append(avatar, bubble);
    append(li, own);
  }

  // --- STOMP -----------------------------------------------------------------

  function post(type, room, message) {
    if (!session || !session.client.connected) return false;
    session.client.publish({
      destination: '/pub/chat',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chatRoomId: room, type: type, writer: session.me, message: message || '' }),
    });
    return true;
  }

  // subscribe subscribes to the current room. With recover, and an offset
  // seen in this room, it asks for what was posted after that offset: the
  // gateway sends those posts first (x-recovered), then the RECEIPT.
  function subscribe(s, recover) {
    if (s.sub) s.sub.unsubscribe();
    const room = s.room;
    const headers = {};
    let recovering = false;
    if (recover && s.last !== null) {
      recovering = true;
      s.missed = 0;
      headers['x-stream-offset'] = String(s.last + 1);
      headers.receipt = 'caught-up-' + room + '-' + (++s.receipts);
      s.client.watchForReceipt(headers.receipt, () => {
        if (session !== s || s.room !== room) return;
        recovering = false;
        const n = s.missed;
        note(n === 0 ? 'You are caught up: nothing was posted while you were away.'
          : 'You are caught up: ' + n + (n === 1 ? ' message' : ' messages') + ' sent while you were away ' + (n === 1 ? 'is' : 'are') + ' shown above.', 'ok caught-up');
      });
    }
    s.sub = s.client.subscribe('/topic/chat.room.' + room, (frame) => {
      if (session !== s || s.room !== room) return;
      const offset = Number(frame.headers['x-stream-offset']);
      const kept = frame.headers['x-stream-offset'] !== undefined && Number.isSafeInteger(offset);
      if (kept && s.last !== null && offset <= s.last) return; // shown already
      const mark = frame.headers['x-recovered'];
      if (mark === 'partial') note('Some messages from while you were away are no longer available.', 'warn partial');
      if (kept) s.last = offset;
      let p;
      try {
        p = JSON.parse(frame.body);
      } catch (_) {
        return; // not a chat post
      }
      if (!p || typeof p !== 'object' || p.chatRoomId !== room) return;
      const recovered = recovering && mark !== undefined;
      if (recovered) s.missed++;
      render(p, recovered);
    }, headers);
  }

  function enterRoom(s, room) {
    s.room = room;
    s.last = null; // a new room starts live: there is nothing to catch up on
    roomNumber.textContent = String(room);
    document.title = 'Room ' + room + ' · Chat';
    history.replaceState(null, '', '#room-' + room);
    list.replaceChildren();
    s.entered = false;
    if (s.client.connected) {
      subscribe(s);
      s.entered = post('ENTER', room);
    }
  }

  function join(name, room) {
    const client = new StompJs.Client({
      brokerURL: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws',
      connectHeaders: { login: name, passcode: '' },
      reconnectDelay: 2000,
      heartbeatIncoming: 10000,
      heartbeatOutgoing: 10000,
    });
    // last: the offset of the last post shown in the room (null until one
    // with an offset came); missed: posts recovered since the last
    // reconnect; receipts numbers the recovering SUBSCRIBEs.
    const s = { client: client, name: name, me: name, room: 0, sub: null, entered: false, wasUp: false, lastError: '', last: null, missed: 0, receipts: 0 };
    session = s;

    client.onConnect = (frame) => {
      if (session !== s) return;
      // The gateway says who we are (with authentication off, the login).
      s.me = frame.headers['user-name'] || name;
      meLabel.textContent = s.me;
      const again = s.wasUp;
      if (again) note('Reconnected.', 'ok');
      s.wasUp = true;
      s.lastError = '';
      setState('connected');
      subscribe(s, again); // subscriptions do not survive a reconnect: resume after the last post shown
      if (!s.entered) s.entered = post('ENTER', s.room);
    };
    client.onWebSocketClose = () => {
      if (session !== s) return;
      s.sub = null;
      if (!client.active) {
        setState('disconnected');
        return;
      }
      if (stateBadge.dataset.state === 'connected') note('Connection lost. Reconnecting…', 'warn');
      setState(s.wasUp ? 'reconnecting' : 'connecting');
    };
    client.onStompError = (frame) => {
      if (session !== s) return;
      const why = frame.headers.message || 'error';
      if (why !== s.lastError) note('Gateway: ' + why + (frame.body && frame.body.trim() ? '. ' + frame.body.trim() : ''), 'warn');
      s.lastError = why;
    };

    meLabel.textContent = name;
    switchInput.value = '';
    enterRoom(s, room);
    setState('connecting');
    show('room');
    client.activate();
    messageInput.focus();
  }

  function leave() {
    const s = session;
    if (!s) return;
    post('LEAVE', s.room);
    session = null;
    s.client.deactivate(); // sends DISCONNECT after the LEAVE
    setState('disconnected');
    history.replaceState(null, '', location.pathname + location.search);
    document.title = 'Chat · stomp-gateway';
    show('join');
    nameInput.focus();
  }

  // --- events ----------------------------------------------------------------

  joinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = nameInput.value.trim();
    const room = parseRoom(roomInput.value);
    if (!name) return showJoinError('Pick a name first.');
    if (!room) return showJoinError('The room is a whole number from 1 to ' + MAX_ROOM.toLocaleString() + '.');
    showJoinError('');
    remember(name, room);
    join(name, room);
  });

  switchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const room = parseRoom(switchInput.value);
    if (!session || !room || room === session.room) {
      switchInput.value = '';
      return;
    }
    if (session.entered) post('LEAVE', session.room);
    remember(session.name, room);
    switchInput.value = '';
    enterRoom(session, room);
    messageInput.focus();
  });

  leaveButton.addEventListener('click', leave);

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = messageInput.value;
    if (!text.trim() || !session) return;
    if (post('MESSAGE', session.room, text)) {
      messageInput.value = '';
      messageInput.focus();
    }
  });

  // Best effort: tell the room when the tab goes away.
  window.addEventListener('pagehide', () => {
    if (session) post('LEAVE', session.room);
  });

  prefill();
  setState('disconnected');
  if (typeof StompJs === 'undefined' || !StompJs.Client) {
    showJoinError('The STOMP client did not load from /vendor/stomp.umd.min.js. Run `make run` (it installs @stomp/stompjs with npm ci).');
    joinButton.disabled = true;
  }
})();
