"""Third-party client test: Python's stomp.py (Debian's python3-stomp)
against a running stomp-gateway, over STOMP/TCP.

gateway/compat/stomppy_test.go (TestStompPy) starts a gateway, once on
RabbitMQ and once on the embedded broker, serves STOMP over TCP, and runs
this file with `/usr/bin/python3 -m unittest -v client_test` here, with:

  GATEWAY_ADDR  127.0.0.1:PORT, the gateway's STOMP over TCP listener
  PREFIX        a prefix unique to the run, for every queue, key and id
  AMQ_QUEUE     an existing queue, for /amq/queue
  REPLY_QUEUE   another existing queue, for /reply-queue
  DECLARED      (optional) a file this script appends to, line by line and
                before using them, the durable queues it makes the gateway
                declare ("queue NAME", "durable-subscription KEY ID"), so
                the Go test deletes them even when a test fails midway
  BROKER        rabbitmq or memory, for messages only

Every wait is bounded (stomp.py's own connect(wait=True) and
disconnect(receipt) can wait forever, so they are not used unbounded), every
connection is closed when its test ends, and a failing test prints every
frame it sent and received. All tests share one gateway, so each uses
destinations of its own.

The ERROR texts are RabbitMQ's STOMP plugin's, word for word (header
`message`, then the body), as rabbit_stomp_processor.erl on rabbitmq-server
main writes them; where 3.10 differs, the test says so.
"""

import os
import threading
import time
import unittest

import stomp


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set; run this through `go test -run TestStompPy ./gateway/compat`")
    return value


HOST, _, PORT = env("GATEWAY_ADDR").rpartition(":")
PORT = int(PORT)
PREFIX = env("PREFIX")
AMQ_QUEUE = env("AMQ_QUEUE")
REPLY_QUEUE = env("REPLY_QUEUE")
DECLARED = os.environ.get("DECLARED", "")
BROKER = os.environ.get("BROKER", "unknown")

WAIT = 5.0  # seconds, longest wait for one expected frame
QUIET = 0.3  # seconds, how long "nothing arrives" is watched
LOGIN, PASSCODE = "alice", "x"

CONNECTIONS = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}

# What RabbitMQ lists after an unknown destination
# (rabbit_stomp_headers.hrl ALL_DEST_PREFIXES).
DESTINATION_TYPES = "/temp-queue, /exchange, /topic, /queue, /amq/queue, /reply-queue/"


def name(what):
    """A key, id or queue name unique to this run."""
    return PREFIX + what


def queue(what):
    """The name of a durable queue the gateway will declare (SEND or
    SUBSCRIBE to /queue/NAME): recorded first, so it is deleted whatever
    happens."""
    q = name(what)
    if DECLARED:
        with open(DECLARED, "a") as f:
            f.write(f"queue {q}\n")
    return q


def durable_subscription(key, sub_id):
    """Records the queue of a durable topic subscription (RabbitMQ names it
    from the key and the subscription id)."""
    if DECLARED:
        with open(DECLARED, "a") as f:
            f.write(f"durable-subscription {key} {sub_id}\n")


class FrameLog:
    """The frames of one test, both ways, printed when it fails."""

    def __init__(self):
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.lines = []

    def add(self, n, text):
        ms = (time.monotonic() - self.start) * 1000
        with self.lock:
            self.lines.append(f"[{ms:6.0f} ms, client {n}] {text}")

    def frame(self, n, arrow, frame):
        body = frame.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        body = body or ""
        if len(body) > 300:
            body = body[:300] + "..."
        self.add(n, f"{arrow} {frame.cmd} {frame.headers!r} {body!r}")

    def dump(self):
        with self.lock:
            return "\n".join(self.lines)


class Recorder(stomp.ConnectionListener):
    """Everything one connection received, with bounded waits on it."""

    def __init__(self, n, log, expect_error):
        self.n = n
        self.log = log
        self.expect_error = expect_error
        self.cond = threading.Condition()
        self.frames = []  # CONNECTED, MESSAGE, RECEIPT and ERROR frames, in order
        self.heartbeats = 0
        self.closed = False

    def _received(self, frame):
        self.log.frame(self.n, "<", frame)
        with self.cond:
            self.frames.append(frame)
            self.cond.notify_all()

    on_connected = on_message = on_receipt = on_error = _received

    def on_send(self, frame):
        if frame.cmd:  # not a heart-beat
            self.log.frame(self.n, ">", frame)

    def on_heartbeat(self):
        with self.cond:
            self.heartbeats += 1
            self.cond.notify_all()

    def on_heartbeat_timeout(self):
        self.log.add(self.n, "server heart-beats lost")

    def on_disconnected(self):
        self.log.add(self.n, "disconnected")

    # The receiver loop ends after it handed every frame to the listeners:
    # from then on the frames are complete.
    def on_receiver_loop_completed(self, *_):
        self.log.add(self.n, "connection closed")
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def first(self, cmd, **headers):
        """The first frame cmd with these headers, or None; call with cond held."""
        for f in self.frames:
            if f.cmd == cmd and all(f.headers.get(k.replace("_", "-")) == v for k, v in headers.items()):
                return f
        return None

    def problem(self):
        """What went wrong on the side, or None; call with cond held."""
        if not self.expect_error:
            err = self.first("ERROR")
            if err is not None:
                return f"ERROR {err.headers.get('message')!r}: {err.body!r}"
        if self.closed:
            return "the connection closed"
        return None

    def wait(self, ready, what, timeout=WAIT):
        """Waits until ready() (called with cond held) returns something true
        and returns it; fails on an unexpected ERROR, a close, or after
        timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = ready()
                if got:
                    return got
                problem = self.problem()
                if problem:
                    raise AssertionError(f"client {self.n}: {problem} while waiting for {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"client {self.n}: timed out after {timeout} s waiting for {what}")
                self.cond.wait(left)

    def check(self):
        """Fails on an unexpected ERROR or a close."""
        with self.cond:
            problem = self.problem()
        if problem:
            raise AssertionError(f"client {self.n}: {problem}")


class Client:
    """One stomp.py connection of a test, with bounded helpers."""

    def __init__(self, log, n, version, heartbeats, expect_error):
        self.n = n
        self.version = version
        kwargs = {"host_and_ports": [(HOST, PORT)], "reconnect_attempts_max": 1}
        if version != "1.0":
            # vhost becomes the host header (1.2 would send the address
            # otherwise, which names no virtual host); stomp.py gives up on
            # the server after 1.5 heart-beat intervals by default, the
            # gateway allows clients 2: match it.
            kwargs.update(vhost="/", heartbeats=heartbeats, heart_beat_receive_scale=2.0)
        self.conn = CONNECTIONS[version](**kwargs)
        self.rec = Recorder(n, log, expect_error)
        self.conn.set_listener("recorder", self.rec)
        self.connected = None  # the CONNECTED frame
        self.seen = {}  # subscription id -> MESSAGEs next() returned
        self.receipts = 0

    def connect(self):
        # connect(wait=True) waits without a bound: wait for CONNECTED here.
        self.conn.connect(LOGIN, PASSCODE, wait=False)
        self.connected = self.rec.wait(lambda: self.rec.first("CONNECTED"), "CONNECTED")
        return self.connected

    def receipt_id(self, what):
        self.receipts += 1
        return f"{what}-{self.receipts}"

    def receipt(self, rid):
        """Waits for RECEIPT rid and returns it."""
        return self.rec.wait(lambda: self.rec.first("RECEIPT", receipt_id=rid), f"RECEIPT {rid}")

    def send(self, dest, body, headers=None):
        """SENDs with a receipt and waits for it: the broker has the message."""
        rid = self.receipt_id("send")
        self.conn.send(dest, body, headers=dict(headers or {}), receipt=rid)
        return self.receipt(rid)

    def subscribe(self, dest, sub_id, ack="auto", headers=None):
        """SUBSCRIBEs with a receipt and waits for it: the subscription is live."""
        rid = self.receipt_id("subscribe")
        self.conn.subscribe(dest, id=sub_id, ack=ack, headers=dict(headers or {}), receipt=rid)
        return self.receipt(rid)

    def unsubscribe(self, sub_id, headers=None):
        rid = self.receipt_id("unsubscribe")
        self.conn.unsubscribe(id=sub_id, headers=dict(headers or {}), receipt=rid)
        return self.receipt(rid)

    def ack(self, m, transaction=None, subscription=None):
        """ACKs m the way its version does: 1.0 by message-id; 1.1 by
        message-id and (stomp.py insists) a subscription, m's own unless
        one is given; 1.2 by the ack header. Outside a transaction it waits
        for a receipt."""
        rid = None if transaction else self.receipt_id("ack")
        if self.version == "1.0":
            self.conn.ack(m.headers["message-id"], transaction=transaction, receipt=rid)
        elif self.version == "1.1":
            sub = subscription or m.headers["subscription"]
            self.conn.ack(m.headers["message-id"], sub, transaction=transaction, receipt=rid)
        else:
            self.conn.ack(m.headers["ack"], transaction=transaction, receipt=rid)
        if rid:
            self.receipt(rid)

    def nack(self, m, **headers):
        """NACKs m, with a receipt, the way its version does; 1.0 has no
        NACK in stomp.py (nor in STOMP 1.0), so it sends the frame RabbitMQ
        accepts on 1.0 too."""
        rid = self.receipt_id("nack")
        if self.version == "1.0":
            self.conn.send_frame("NACK", {"message-id": m.headers["message-id"], "receipt": rid, **headers})
        elif self.version == "1.1":
            self.conn.nack(m.headers["message-id"], m.headers["subscription"], receipt=rid, **headers)
        else:
            self.conn.nack(m.headers["ack"], receipt=rid, **headers)
        self.receipt(rid)

    def messages(self, sub_id):
        """The MESSAGEs of subscription sub_id so far; call with cond held."""
        return [f for f in self.rec.frames if f.cmd == "MESSAGE" and f.headers.get("subscription") == sub_id]

    def next(self, sub_id, what=None):
        """Waits for the next MESSAGE of subscription sub_id."""
        i = self.seen.get(sub_id, 0)

        def ready():
            ms = self.messages(sub_id)
            return ms[i] if len(ms) > i else None

        m = self.rec.wait(ready, what or f"MESSAGE {i + 1} of subscription {sub_id}")
        self.seen[sub_id] = i + 1
        return m

    def none(self, sub_id, quiet=QUIET, why=""):
        """Checks that no further MESSAGE arrives on sub_id within quiet."""
        time.sleep(quiet)
        self.rec.check()
        with self.rec.cond:
            extra = self.messages(sub_id)[self.seen.get(sub_id, 0):]
        if extra:
            raise AssertionError(
                f"client {self.n}: unexpected MESSAGE on {sub_id}{why}: "
                + ", ".join(f"{m.headers!r} {m.body!r}" for m in extra))

    def disconnect(self):
        """DISCONNECTs with a receipt, waits for it and for the close.
        stomp.py's disconnect(receipt) waits for the close without a bound,
        so it runs on a thread that is waited for with one."""
        rid = self.receipt_id("disconnect")
        t = threading.Thread(target=self.conn.disconnect, kwargs={"receipt": rid}, daemon=True)
        t.start()
        t.join(WAIT)
        if t.is_alive():
            raise AssertionError(f"client {self.n}: disconnect(receipt={rid!r}) did not return within {WAIT} s")
        self.rec.wait(lambda: self.rec.closed, "the close after DISCONNECT")
        with self.rec.cond:
            receipt = self.rec.first("RECEIPT", receipt_id=rid)
        if receipt is None:
            raise AssertionError(f"client {self.n}: closed without the DISCONNECT's RECEIPT {rid}")
        return receipt

    def close(self):
        """Closes whatever is still open: gracefully if it can, by force
        after a second."""
        if not self.rec.closed and self.conn.is_connected():
            t = threading.Thread(target=self.conn.disconnect, kwargs={"receipt": "cleanup"}, daemon=True)
            t.start()
            t.join(1.0)
        if not self.rec.closed:
            self.conn.transport.disconnect_socket()
        with self.rec.cond:
            self.rec.cond.wait_for(lambda: self.rec.closed, 1.0)


class GatewayTest(unittest.TestCase):
    """A test's connections, closed at the end, and its frames, printed
    when it fails."""

    def setUp(self):
        self.log = FrameLog()
        self.clients = []
        self.addCleanup(self.close_all)

    def close_all(self):
        for c in self.clients:
            c.close()

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            print(f"--- frames of {self.id()} ({BROKER}) ---\n{self.log.dump()}\n--- end ---", flush=True)
        return result

    def connect(self, version="1.2", heartbeats=(0, 0), expect_error=False):
        """A new connected client."""
        c = Client(self.log, len(self.clients) + 1, version, heartbeats, expect_error)
        self.clients.append(c)
        c.connect()
        return c


class TestConnect(GatewayTest):
    def check_version(self, version):
        c = self.connect(version)
        self.assertEqual(c.connected.headers.get("version"), version)
        self.assertTrue(c.connected.headers.get("session"), "CONNECTED has a session header")

        dest = "/queue/" + queue(f"connect.v{version}")
        sub = f"sub-{version}"
        c.subscribe(dest, sub, ack="client")
        c.send(dest, f"hello over {version}")
        m = c.next(sub)
        self.assertEqual(m.body, f"hello over {version}")
        self.assertEqual(m.headers.get("destination"), dest)
        self.assertEqual(m.headers.get("subscription"), sub)
        self.assertTrue(m.headers.get("message-id"), "MESSAGE has a message-id")
        if version == "1.2":
            self.assertTrue(m.headers.get("ack"), "a 1.2 client-ack MESSAGE has an ack header")
        c.ack(m)
        c.disconnect()

        # The ACK settled it: the next subscriber finds the queue empty.
        again = self.connect(version)
        again.subscribe(dest, sub, ack="client")
        again.none(sub, why=" (the ACK settled the only message)")
        again.disconnect()

    def test_stomp_1_0_connects_and_acks_by_message_id(self):
        self.check_version("1.0")

    def test_stomp_1_1_connects_and_acks_by_message_id_and_subscription(self):
        self.check_version("1.1")

    def test_stomp_1_2_connects_and_acks_by_ack_id(self):
        self.check_version("1.2")

    def check_heartbeats(self, version):
        c = self.connect(version, heartbeats=(250, 250))
        self.assertEqual(c.connected.headers.get("heart-beat"), "250,250")
        time.sleep(1.0)
        c.rec.check()
        self.assertGreaterEqual(c.rec.heartbeats, 2, "server heart-beats in 1 s at 250 ms")
        c.send("/topic/" + name("hb"), "still here")
        c.disconnect()

    def test_stomp_1_1_heart_beats_250_ms_both_ways_keep_an_idle_connection_up(self):
        self.check_heartbeats("1.1")

    def test_stomp_1_2_heart_beats_250_ms_both_ways_keep_an_idle_connection_up(self):
        self.check_heartbeats("1.2")


class TestDestinations(GatewayTest):
    def test_topic_star_and_hash_subscriptions_get_what_their_pattern_matches(self):
        c = self.connect()
        base = name("room")
        c.subscribe(f"/topic/{base}.*", "star")
        c.subscribe(f"/topic/{base}.#", "hash")
        c.send(f"/topic/{base}.5", "room 5")
        c.send(f"/topic/{base}.5.desk", "desk in room 5")
        s = c.next("star")
        self.assertEqual(s.body, "room 5")
        self.assertEqual(s.headers.get("destination"), f"/topic/{base}.5")
        self.assertEqual([c.next("hash").body, c.next("hash").body], ["room 5", "desk in room 5"])
        c.none("star", why=" (* matches one word only)")
        c.none("hash", 0)
        c.disconnect()

    def test_queue_is_declared_by_the_first_send_and_holds_messages(self):
        dest = "/queue/" + queue("work")
        c = self.connect()
        c.send(dest, "waiting")
        c.subscribe(dest, "work")
        m = c.next("work")
        self.assertEqual(m.body, "waiting")
        self.assertEqual(m.headers.get("destination"), dest)
        c.disconnect()

    def test_amq_queue_an_existing_queue_is_consumed_and_published_to(self):
        c = self.connect()
        c.subscribe(f"/amq/queue/{AMQ_QUEUE}", "amq")
        c.send(f"/amq/queue/{AMQ_QUEUE}", "to an existing queue", headers={"content-type": "text/plain"})
        m = c.next("amq")
        self.assertEqual(m.body, "to an existing queue")
        # As on RabbitMQ, a message through the default exchange shows as
        # /queue/Q.
        self.assertEqual(m.headers.get("destination"), f"/queue/{AMQ_QUEUE}")
        self.assertEqual(m.headers.get("content-type"), "text/plain")
        c.none("amq", 0.1)
        c.disconnect()

    def test_exchange_amq_direct_a_binding_gets_its_key_only(self):
        c = self.connect()
        dest = "/exchange/amq.direct/" + name("direct.key")
        c.subscribe(dest, "direct")
        c.send("/exchange/amq.direct/" + name("other.key"), "not for us")
        c.send(dest, "for us")
        m = c.next("direct")
        self.assertEqual(m.body, "for us")
        self.assertEqual(m.headers.get("destination"), dest)
        c.none("direct", 0.1)
        c.disconnect()

    def test_temp_queue_a_responder_sends_to_the_reply_queue_it_was_given_and_the_reply_comes_back(self):
        svc = "/queue/" + queue("service")
        service = self.connect()
        service.subscribe(svc, "requests")
        caller = self.connect()
        # Replies come with subscription /temp-queue/replies and no
        # SUBSCRIBE: stomp.py hands every MESSAGE to the listener.
        for n in (1, 2):
            caller.send(svc, f"ping {n}", headers={"reply-to": "/temp-queue/replies", "correlation-id": f"c-{n}"})
            req = service.next("requests")
            self.assertEqual(req.body, f"ping {n}")
            reply_to = req.headers.get("reply-to", "")
            self.assertTrue(reply_to.startswith("/reply-queue/amq.gen-"),
                            f"the responder sees reply-to {reply_to!r}, want /reply-queue/amq.gen-...")
            self.assertEqual(req.headers.get("correlation-id"), f"c-{n}")
            service.send(reply_to, f"pong {n}", headers={"correlation-id": req.headers["correlation-id"]})
            rep = caller.next("/temp-queue/replies")
            self.assertEqual(rep.body, f"pong {n}")
            self.assertEqual(rep.headers.get("correlation-id"), f"c-{n}")
        caller.none("/temp-queue/replies", 0.1)
        caller.disconnect()
        service.disconnect()

    def test_reply_queue_an_existing_queue_is_consumed_and_replied_to(self):
        c = self.connect()
        c.subscribe(f"/reply-queue/{REPLY_QUEUE}", "reply")
        c.send(f"/reply-queue/{REPLY_QUEUE}", "a reply")
        m = c.next("reply")
        self.assertEqual(m.body, "a reply")
        self.assertEqual(m.headers.get("destination"), f"/queue/{REPLY_QUEUE}")
        c.disconnect()

    def test_durable_topic_subscription_collects_while_away_and_survives_a_reconnect(self):
        key, sub = name("alerts"), name("durable")
        durable_subscription(key, sub)
        dest = "/topic/" + key
        durable = {"durable": "true", "auto-delete": "false"}
        c = self.connect()
        c.subscribe(dest, sub, ack="client", headers=durable)
        c.disconnect()

        p = self.connect()
        p.send(dest, "while away", headers={"persistent": "true"})
        p.disconnect()

        c = self.connect()
        c.subscribe(dest, sub, ack="client", headers=durable)
        m = c.next(sub, "the message published while away")
        self.assertEqual(m.body, "while away")
        self.assertEqual(m.headers.get("subscription"), sub)
        c.ack(m)
        # UNSUBSCRIBE durable:true removes the subscription's queue.
        c.unsubscribe(sub, headers={"durable": "true"})
        c.disconnect()


class TestAcks(GatewayTest):
    def test_auto_ack_settles_on_delivery(self):
        dest = "/queue/" + queue("ack.auto")
        c = self.connect()
        c.subscribe(dest, "auto")
        c.send(dest, "one")
        c.send(dest, "two")
        self.assertEqual([c.next("auto").body, c.next("auto").body], ["one", "two"])
        c.disconnect()
        again = self.connect()
        again.subscribe(dest, "auto")
        again.none("auto", why=" (auto ack settled both on delivery)")
        again.disconnect()

    def test_client_ack_of_the_3rd_message_settles_all_three(self):
        dest = "/queue/" + queue("ack.cumulative")
        c = self.connect()
        c.subscribe(dest, "client", ack="client")
        for body in ("m1", "m2", "m3"):
            c.send(dest, body)
        got = [c.next("client"), c.next("client"), c.next("client")]
        self.assertEqual([m.body for m in got], ["m1", "m2", "m3"])
        c.ack(got[2])
        c.disconnect()
        again = self.connect()
        again.subscribe(dest, "client", ack="client")
        again.none("client", why=" (the cumulative ACK settled all three)")
        again.disconnect()

    def test_client_ack_a_cumulative_ack_settles_its_own_subscription_only(self):
        qa, qb = "/queue/" + queue("ack.own.a"), "/queue/" + queue("ack.own.b")
        c = self.connect()
        c.subscribe(qa, "a", ack="client")
        c.subscribe(qb, "b", ack="client")
        # Delivered in this order on one connection: a1, b1, a2.
        c.send(qa, "a1")
        self.assertEqual(c.next("a").body, "a1")
        c.send(qb, "b1")
        self.assertEqual(c.next("b").body, "b1")
        c.send(qa, "a2")
        a2 = c.next("a")
        self.assertEqual(a2.body, "a2")
        c.ack(a2)  # a1 and a2, not b1
        c.disconnect()

        again = self.connect()
        again.subscribe(qa, "a", ack="client")
        again.subscribe(qb, "b", ack="client")
        b1 = again.next("b", "b1 again: the ACK on a did not settle it")
        self.assertEqual(b1.body, "b1")
        self.assertEqual(b1.headers.get("redelivered"), "true")
        again.ack(b1)
        again.none("a", why=" (the cumulative ACK settled a1 and a2)")
        again.disconnect()

    def test_client_individual_ack_one_nack_the_other_which_comes_back_redelivered(self):
        dest = "/queue/" + queue("ack.individual")
        c = self.connect()
        c.subscribe(dest, "ind", ack="client-individual")
        c.send(dest, "one")
        c.send(dest, "two")
        one, two = c.next("ind"), c.next("ind")
        self.assertEqual([one.body, two.body], ["one", "two"])
        for m in (one, two):
            self.assertEqual(m.headers.get("redelivered"), "false", f"{m.body}: first delivery")
        c.ack(one)
        c.nack(two)
        again = c.next("ind", "the NACKed message redelivered")
        self.assertEqual(again.body, "two")
        self.assertEqual(again.headers.get("redelivered"), "true")
        c.ack(again)
        c.none("ind", why=" after everything was settled")
        c.disconnect()

    def check_nack_requeues(self, version, **requeue):
        dest = "/queue/" + queue(f"nack.requeue.v{version}")
        c = self.connect(version)
        c.subscribe(dest, "nack", ack="client-individual")
        c.send(dest, "try again")
        m = c.next("nack")
        self.assertEqual(m.headers.get("redelivered"), "false")
        c.nack(m, **requeue)
        again = c.next("nack", "the NACKed message redelivered")
        self.assertEqual(again.body, "try again")
        self.assertEqual(again.headers.get("redelivered"), "true")
        c.ack(again)
        c.none("nack")
        c.disconnect()

    def test_stomp_1_0_nack_requeues(self):
        # Not in STOMP 1.0, but RabbitMQ takes NACK on every version.
        self.check_nack_requeues("1.0")

    def test_stomp_1_1_nack_requeues(self):
        self.check_nack_requeues("1.1")

    def test_stomp_1_2_nack_requeue_true_requeues(self):
        # stomp.py writes a Python True as "True".
        self.check_nack_requeues("1.2", requeue=True)

    def check_nack_requeue_false_drops(self, version):
        dest = "/queue/" + queue(f"nack.drop.v{version}")
        c = self.connect(version)
        c.subscribe(dest, "drop", ack="client-individual")
        c.send(dest, "not wanted")
        m = c.next("drop")
        # stomp.py writes a Python False as "False", which RabbitMQ reads
        # as false.
        c.nack(m, requeue=False)
        c.none("drop", why=" after NACK requeue:False")
        c.disconnect()
        again = self.connect(version)
        again.subscribe(dest, "drop", ack="client-individual")
        again.none("drop", why=" (NACK requeue:False dropped it)")
        again.disconnect()

    def test_stomp_1_1_nack_requeue_false_drops_the_message(self):
        self.check_nack_requeue_false_drops("1.1")

    def test_stomp_1_2_nack_requeue_false_drops_the_message(self):
        self.check_nack_requeue_false_drops("1.2")

    def test_stomp_1_1_ack_is_settled_by_message_id_whatever_subscription_it_names(self):
        # RabbitMQ reads the subscription from the message-id and ignores
        # the subscription header, which clients fill in loosely (its own
        # python tests send a random one).
        dest = "/queue/" + queue("ack.other.sub")
        c = self.connect("1.1")
        c.subscribe(dest, "mine", ack="client")
        c.send(dest, "acked under another name")
        m = c.next("mine")
        c.ack(m, subscription="stomp-sub-id 42")
        c.disconnect()
        again = self.connect("1.1")
        again.subscribe(dest, "mine", ack="client")
        again.none("mine", why=" (the ACK settled it)")
        again.disconnect()


class TestReceipts(GatewayTest):
    def test_receipts_for_send_subscribe_unsubscribe_and_disconnect(self):
        c = self.connect()
        dest = "/queue/" + queue("receipts")
        c.conn.subscribe(dest, id="r", receipt="sub-receipt")
        self.assertEqual(c.receipt("sub-receipt").headers.get("receipt-id"), "sub-receipt")
        c.conn.send(dest, "with a receipt", receipt="send-receipt")
        c.receipt("send-receipt")
        m = c.next("r")
        self.assertEqual(m.body, "with a receipt")
        self.assertNotIn("receipt", m.headers, "the SEND's receipt header does not travel with the message")
        c.conn.unsubscribe(id="r", receipt="unsub-receipt")
        c.receipt("unsub-receipt")
        c.send(dest, "after UNSUBSCRIBE")
        c.none("r", why=" after UNSUBSCRIBE")
        r = c.disconnect()
        self.assertEqual(r.cmd, "RECEIPT")
        self.assertFalse(c.conn.is_connected())


class TestTransactions(GatewayTest):
    def test_sends_are_delivered_at_commit_and_abort_discards_them(self):
        dest = "/queue/" + queue("tx")
        c = self.connect()
        c.subscribe(dest, "tx")
        tx = c.conn.begin()
        c.conn.send(dest, "tx 1", transaction=tx)
        c.conn.send(dest, "tx 2", transaction=tx)
        # A confirmed SEND outside the transaction: the gateway has read
        # the transaction's SENDs, and holds them.
        c.send("/topic/" + name("tx.barrier"), "barrier")
        c.none("tx", why=" before COMMIT")
        c.conn.commit(tx, receipt="committed")
        c.receipt("committed")
        self.assertEqual([c.next("tx").body, c.next("tx").body], ["tx 1", "tx 2"])

        tx = c.conn.begin()
        c.conn.send(dest, "aborted", transaction=tx)
        c.conn.abort(tx, receipt="aborted")
        c.receipt("aborted")
        c.send(dest, "after ABORT")
        self.assertEqual(c.next("tx").body, "after ABORT")
        c.none("tx", why=" (the aborted SEND)")
        c.disconnect()

    def test_an_ack_takes_effect_at_commit_and_not_at_all_after_abort(self):
        dest = "/queue/" + queue("tx.ack")
        c = self.connect()
        c.subscribe(dest, "txack", ack="client-individual")
        c.send(dest, "acked in a transaction")
        m = c.next("txack")
        tx = c.conn.begin()
        c.ack(m, transaction=tx)
        c.conn.abort(tx, receipt="aborted")
        c.receipt("aborted")
        c.disconnect()

        c = self.connect()
        c.subscribe(dest, "txack", ack="client-individual")
        m = c.next("txack", "the message whose ACK was aborted")
        self.assertEqual(m.body, "acked in a transaction")
        self.assertEqual(m.headers.get("redelivered"), "true")
        tx = c.conn.begin()
        c.ack(m, transaction=tx)
        c.conn.commit(tx, receipt="committed")
        c.receipt("committed")
        c.disconnect()

        c = self.connect()
        c.subscribe(dest, "txack", ack="client-individual")
        c.none("txack", why=" (the committed ACK settled it)")
        c.disconnect()


class TestErrors(GatewayTest):
    """The mistakes users make, each on a fresh connection: the gateway
    closes the connection after every ERROR (RabbitMQ keeps it open after
    most), and the ERROR says what RabbitMQ's STOMP plugin says."""

    def check_error(self, act, message, body, version="1.2"):
        c = self.connect(version, expect_error=True)
        act(c.conn)
        err = c.rec.wait(lambda: c.rec.first("ERROR"), "the ERROR")
        self.assertEqual(err.headers.get("message"), message, f"ERROR body {err.body!r}")
        self.assertEqual(err.body, body, f"body of ERROR {message!r}")
        c.rec.wait(lambda: c.rec.closed, "the close after the ERROR")

    def test_send_without_destination(self):
        # 3.10: "SEND" must include a 'destination' header
        self.check_error(lambda conn: conn.send_frame("SEND", {}, "nowhere"),
                         "Missing destination", "'SEND' must include a 'destination' header\n")

    def test_subscribe_to_an_unknown_destination_type(self):
        self.check_error(lambda conn: conn.subscribe("/bah/baz", id="bad"),
                         "Unknown destination",
                         f"'/bah/baz' is not a valid destination.\nValid destination types are: {DESTINATION_TYPES}.\n")

    def test_subscribe_to_an_empty_queue_name(self):
        self.check_error(lambda conn: conn.subscribe("/queue/", id="bad"),
                         "Invalid destination", "'/' is not a valid queue destination\n")

    def test_subscribe_to_a_topic_with_a_slash(self):
        self.check_error(lambda conn: conn.subscribe("/topic/bah/baz", id="bad"),
                         "Invalid destination", "'/bah/baz' is not a valid topic destination\n")

    def test_subscribe_twice_with_one_id(self):
        def act(conn):
            conn.subscribe("/topic/" + name("dup.a"), id="dup")
            conn.subscribe("/topic/" + name("dup.b"), id="dup")
        self.check_error(act, "Duplicated subscription identifier", "A subscription identified by 'T_dup' already exists.")

    def test_send_with_a_message_id_header(self):
        self.check_error(lambda conn: conn.send("/topic/" + name("mid"), "x", headers={"message-id": "mine"}),
                         "Invalid header", "'message-id' is not allowed on 'SEND'.\n")

    def test_unknown_command(self):
        self.check_error(lambda conn: conn.send_frame("FOO", {}),
                         "Bad command", 'Could not interpret command "FOO"\n')

    def test_durable_subscribe_without_id(self):
        # Only STOMP 1.0 lets a SUBSCRIBE go without an id.
        self.check_error(lambda conn: conn.subscribe("/topic/" + name("durable.noid"), headers={"durable": "true"}),
                         "Missing Header", "Header 'id' is required for durable subscriptions", version="1.0")

    def test_subscribe_to_a_missing_amq_queue(self):
        # 3.10: NOT_FOUND - no queue '...' in vhost '/'
        missing = name("missing")
        self.check_error(lambda conn: conn.subscribe("/amq/queue/" + missing, id="missing"),
                         "not_found", f"no queue '{missing}' in vhost '/'")

    def test_send_to_a_missing_exchange(self):
        # 3.10: NOT_FOUND - no exchange '...' in vhost '/'
        nope = name("nope")
        self.check_error(lambda conn: conn.send(f"/exchange/{nope}/k", "x"),
                         "not_found", f"no exchange '{nope}' in vhost '/'")


if __name__ == "__main__":
    unittest.main(verbosity=2)
