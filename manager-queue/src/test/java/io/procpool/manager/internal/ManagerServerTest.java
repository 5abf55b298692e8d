package io.procpool.manager.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.procpool.api.spi.Connection;
import io.procpool.manager.internal.ManagerProtocol.Answer;
import io.procpool.manager.internal.ManagerProtocol.Drain;
import io.procpool.manager.internal.ManagerProtocol.Open;
import io.procpool.manager.internal.ManagerProtocol.Opened;
import io.procpool.manager.internal.ManagerProtocol.Put;
import io.procpool.manager.internal.ManagerProtocol.QueueAndTimeout;
import io.procpool.manager.internal.ManagerProtocol.QueueOnly;
import io.procpool.manager.internal.ManagerProtocol.Request;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link ManagerServer} driven through an in-memory connection with a small maxFrameSize, so that
 * the size boundaries are cheap to reach: every item a client may put ({@link ManagerProtocol#maxItemBytes})
 * is delivered by every read op in answers no larger than maxFrameSize.
 */
@Timeout(30)
class ManagerServerTest {
  private static final int FRAME = 4096;

  /** A connection that records what the server writes and checks the transport's size limit. */
  private static final class Recorder implements Connection {
    final ArrayDeque<ByteBuffer> written = new ArrayDeque<>();
    Listener listener;

    @Override
    public void start(Listener l) {
      listener = l;
    }

    @Override
    public void write(ByteBuffer message) {
      assertTrue(message.remaining() <= FRAME, "the manager wrote a message of " + message.remaining()
          + " bytes, over maxFrameSize " + FRAME);
      written.add(message);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public String describe() {
      return "in-memory";
    }
  }

  private final ManagerServer server = new ManagerServer(FRAME);
  private final Recorder client = new Recorder();
  private long ids;

  ManagerServerTest() {
    server.onConnection(client);
  }

  private Answer call(Request r) {
    long id = ++ids;
    client.listener.onMessage(r.encode(id));
    client.listener.onReadComplete();
    ByteBuffer m = client.written.poll();
    assertTrue(m != null, "no answer to " + r);
    Answer a = ManagerProtocol.decodeAnswer(m);
    assertEquals(id, a.requestId());
    return a;
  }

  /** The payload of an answer that must be OK. */
  private byte[] ok(Request r) {
    Answer a = call(r);
    assertEquals(ManagerProtocol.OK, a.status(), () -> ManagerProtocol.opName(r.op()) + " answered "
        + ManagerProtocol.statusName(a.status()) + " " + a.message());
    return a.payload();
  }

  @Test
  void theLargestItemAPutMayCarryIsDeliveredByEveryReadOp() {
    int largest = ManagerProtocol.maxItemBytes(FRAME);
    assertEquals(FRAME - 25, largest, "a PUT request's header and fields take 25 bytes");
    long q = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    // Items from maxFrameSize - 81 to maxFrameSize - 25 bytes could be put but never drained.
    for (int size : new int[] {FRAME - 81, FRAME - 72, FRAME - 64, FRAME - 30, largest}) {
      byte[] item = new byte[size];
      item[size - 1] = 7;
      assertTrue(new Put(q, 0, item).encode(1).remaining() <= FRAME, "the PUT fits");
      assertEquals(ManagerProtocol.OK, call(new Put(q, 0, item)).status());
      assertEquals(size, ok(new QueueOnly(ManagerProtocol.PEEK, q)).length, "PEEK of " + size);
      List<byte[]> snapshot = ManagerProtocol.decodeSnapshotPage(ok(new ManagerProtocol.Snapshot(q, 0))).items();
      assertEquals(1, snapshot.size(), "SNAPSHOT of " + size);
      List<byte[]> drained = ManagerProtocol.decodeItems(ok(new Drain(q, Integer.MAX_VALUE)));
      assertEquals(1, drained.size(), "DRAIN of " + size);
      assertEquals(7, drained.get(0)[size - 1]);
      assertEquals(ManagerProtocol.OK, call(new Put(q, 0, item)).status());
      assertEquals(size, ok(new QueueAndTimeout(ManagerProtocol.GET, q, 0)).length, "GET of " + size);
    }
  }

  @Test
  void drainBatchesAreSplitBySizeAndEveryItemArrives() {
    long q = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    int item = FRAME / 3;
    for (int i = 0; i < 7; i++) {
      assertEquals(ManagerProtocol.OK, call(new Put(q, 0, new byte[item])).status());
    }
    int total = 0;
    int batches = 0;
    while (true) {
      List<byte[]> batch = ManagerProtocol.decodeItems(ok(new Drain(q, Integer.MAX_VALUE)));
      if (batch.isEmpty()) {
        break;
      }
      total += batch.size();
      batches++;
    }
    assertEquals(7, total);
    assertTrue(batches >= 3, "batches of at most one frame: " + batches);
  }

  @Test
  void aSnapshotLargerThanOneMessageComesInPages() {
    long q = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    int largest = ManagerProtocol.maxItemBytes(FRAME);
    for (int i = 0; i < 3; i++) {
      byte[] item = new byte[largest];
      item[0] = (byte) i;
      assertEquals(ManagerProtocol.OK, call(new Put(q, 0, item)).status());
    }
    int from = 0;
    while (from < 3) {
      ManagerProtocol.SnapshotPage page = ManagerProtocol.decodeSnapshotPage(ok(new ManagerProtocol.Snapshot(q, from)));
      assertEquals(3, page.size());
      assertEquals(1, page.items().size(), "one maximal item per page");
      assertEquals(from, page.items().get(0)[0]);
      from++;
    }
    assertEquals(3, ManagerProtocol.decodeSize(ok(new QueueOnly(ManagerProtocol.QSIZE, q))), "items stay");
  }

  @Test
  void aDroppedAnonymousQueueIsFreedAndANamedOneIsNot() {
    long anon = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    long named = Opened.decode(call(new Open(true, false, 0, "n")).payload()).queueId();
    assertEquals(2, ManagerProtocol.Stats.decode(call(new ManagerProtocol.NoFields(ManagerProtocol.STATS)).payload())
        .queues());
    client.listener.onMessage(new ManagerProtocol.Ref(ManagerProtocol.RELEASE, anon).encode(0));
    client.listener.onMessage(new ManagerProtocol.Ref(ManagerProtocol.RELEASE, named).encode(0));
    assertEquals(0, client.written.size(), "RELEASE is not answered");
    assertEquals(1, ManagerProtocol.Stats.decode(call(new ManagerProtocol.NoFields(ManagerProtocol.STATS)).payload())
        .queues());
    assertEquals(ManagerProtocol.NO_SUCH_QUEUE, call(new QueueOnly(ManagerProtocol.QSIZE, anon)).status());
    assertEquals(ManagerProtocol.OK, call(new QueueOnly(ManagerProtocol.QSIZE, named)).status());
    // A RELEASE of a reference this connection does not hold changes nothing.
    client.listener.onMessage(new ManagerProtocol.Ref(ManagerProtocol.RELEASE, named).encode(0));
    assertEquals(ManagerProtocol.OK, call(new ManagerProtocol.Delete("n")).status());
    assertEquals(ManagerProtocol.NO_SUCH_QUEUE, call(new QueueOnly(ManagerProtocol.QSIZE, named)).status());
    assertEquals(ManagerProtocol.NO_SUCH_QUEUE, call(new ManagerProtocol.Delete("n")).status());
  }

  @Test
  void aPinnedQueueSurvivesItsLastReleaseAndARetainKeepsIt() {
    long q = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    call(new Put(q, 0, new byte[] {1}));
    client.listener.onMessage(new ManagerProtocol.Pin(q, 60_000).encode(0));
    client.listener.onMessage(new ManagerProtocol.Ref(ManagerProtocol.RELEASE, q).encode(0));
    assertEquals(ManagerProtocol.OK, call(new QueueOnly(ManagerProtocol.QSIZE, q)).status(), "pinned: not freed");
    client.listener.onMessage(new ManagerProtocol.Ref(ManagerProtocol.RETAIN, q).encode(0)); // the proxy arrived
    assertEquals(1, call(new QueueAndTimeout(ManagerProtocol.GET, q, 0)).payload()[0]);
  }

  @Test
  void theEndOfAConnectionDropsItsReferences() {
    long q = Opened.decode(call(new Open(false, false, 0, "")).payload()).queueId();
    client.listener.onClosed(null);
    Recorder other = new Recorder();
    server.onConnection(other);
    other.listener.onMessage(new QueueOnly(ManagerProtocol.QSIZE, q).encode(1));
    assertEquals(ManagerProtocol.NO_SUCH_QUEUE, ManagerProtocol.decodeAnswer(other.written.poll()).status());
  }
}
