package io.procpool.ipc.pipes;

import io.procpool.api.spi.ProtocolException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/**
 * The pipes handshake, run once per connection before any frame. Authentication is mutual: each side
 * proves the key over both sides' nonces, and the client checks the server's proof before it reads
 * any frame, so an endpoint that does not know the key (a spoofed socket path) never gets to feed
 * the client a message.
 *
 * <pre>
 * server → client: "PPIP" (4 bytes), version (u16 BE), server nonce (32 bytes)           = 38 bytes
 * client → server: "PPIP" (4 bytes), version (u16 BE), client nonce (32 bytes),
 *                  HMAC-SHA256(authKey, "procpool-pipes client" || server nonce || client nonce) = 70 bytes
 * server → client: status (1 byte): 0 OK, 1 wrong key, 2 bad magic / unsupported version;
 *                  if OK: HMAC-SHA256(authKey, "procpool-pipes server" || server nonce || client nonce);
 *                  if not: reason length (u16 BE) + reason (UTF-8), then the server closes
 * </pre>
 *
 * <p>The direction labels keep one side's proof from being reflected as the other's; fresh nonces on
 * both sides keep a recorded proof from being replayed. Version 1 (one-way: the server never proved
 * the key) is refused with a clear reason by both sides.
 *
 * <p>All reads are of fixed, small sizes; nothing is allocated from a length sent by the peer except
 * the reason string, which is capped.
 */
final class Handshake {
  static final int MAGIC = 0x50504950; // "PPIP"
  static final int VERSION = 2;
  static final int NONCE_SIZE = 32;
  static final int MAC_SIZE = 32;
  static final int SERVER_HELLO_SIZE = 4 + 2 + NONCE_SIZE;
  static final int CLIENT_HELLO_SIZE = 4 + 2 + NONCE_SIZE + MAC_SIZE;
  static final byte STATUS_OK = 0;
  static final byte STATUS_BAD_KEY = 1;
  static final byte STATUS_BAD_PROTOCOL = 2;
  static final int MAX_REASON_BYTES = 1024;
  private static final byte[] CLIENT_LABEL = "procpool-pipes client".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] SERVER_LABEL = "procpool-pipes server".getBytes(StandardCharsets.US_ASCII);

  /** A holder: SecureRandom is set up on first use only. */
  private static final class Random {
    static final SecureRandom INSTANCE = new SecureRandom();
  }

  private Handshake() {}

  /**
   * Server side. Returns normally when the client proved the key (and was sent the server's proof);
   * otherwise tells the client why (when it still can) and throws. {@code answered} runs once the
   * client's whole answer has arrived (from then on the handshake no longer waits for the client).
   */
  static void serverSide(SocketChannel ch, byte[] authKey, Runnable answered) throws IOException {
    byte[] serverNonce = nonce();
    ByteBuffer hello = ByteBuffer.allocate(SERVER_HELLO_SIZE);
    hello.putInt(MAGIC).putShort((short) VERSION).put(serverNonce).flip();
    writeFully(ch, hello);

    ByteBuffer in = ByteBuffer.allocate(CLIENT_HELLO_SIZE);
    in.limit(6);
    readFully(ch, in);
    int magic = in.getInt(0);
    int version = in.getShort(4) & 0xFFFF;
    if (magic != MAGIC) {
      answered.run();
      refuse(ch, STATUS_BAD_PROTOCOL, "bad magic: the peer is not a procpool pipes client");
      throw new ProtocolException("pipes: bad magic 0x" + Integer.toHexString(magic) + " in handshake");
    }
    if (version != VERSION) {
      answered.run();
      String reason = "protocol version " + version + " not supported by server (server speaks " + VERSION + ")";
      refuse(ch, STATUS_BAD_PROTOCOL, reason);
      throw new ProtocolException("pipes: " + reason);
    }
    in.limit(CLIENT_HELLO_SIZE);
    readFully(ch, in);
    answered.run();
    byte[] clientNonce = new byte[NONCE_SIZE];
    in.get(6, clientNonce);
    byte[] proof = new byte[MAC_SIZE];
    in.get(6 + NONCE_SIZE, proof);
    if (!MessageDigest.isEqual(proof, hmac(authKey, CLIENT_LABEL, serverNonce, clientNonce))) {
      refuse(ch, STATUS_BAD_KEY, "the auth key did not match the server's key (a pool's or a manager's)");
      throw new ProtocolException("pipes: a client failed authentication (wrong auth key)");
    }
    ByteBuffer ok = ByteBuffer.allocate(1 + MAC_SIZE);
    ok.put(STATUS_OK).put(hmac(authKey, SERVER_LABEL, serverNonce, clientNonce)).flip();
    writeFully(ch, ok);
  }

  /** Client side. Returns normally when the server accepted the key and proved that it knows it too. */
  static void clientSide(SocketChannel ch, byte[] authKey, String address) throws IOException {
    ByteBuffer in = ByteBuffer.allocate(SERVER_HELLO_SIZE);
    readFully(ch, in, address);
    int magic = in.getInt(0);
    if (magic != MAGIC) {
      throw new ProtocolException("pipes: " + address + " is not a procpool pipes endpoint (bad magic 0x"
          + Integer.toHexString(magic) + ")");
    }
    int version = in.getShort(4) & 0xFFFF;
    if (version != VERSION) {
      throw new ProtocolException("pipes: " + address + " speaks pipes handshake version " + version
          + ", this client speaks " + VERSION + " (are both sides the same procpool version?)");
    }
    byte[] serverNonce = new byte[NONCE_SIZE];
    in.get(6, serverNonce);
    byte[] clientNonce = nonce();
    ByteBuffer out = ByteBuffer.allocate(CLIENT_HELLO_SIZE);
    out.putInt(MAGIC).putShort((short) VERSION).put(clientNonce)
        .put(hmac(authKey, CLIENT_LABEL, serverNonce, clientNonce)).flip();
    writeFully(ch, out);

    ByteBuffer status = ByteBuffer.allocate(1);
    readFully(ch, status, address);
    byte code = status.get(0);
    if (code == STATUS_OK) {
      ByteBuffer proof = ByteBuffer.allocate(MAC_SIZE);
      readFully(ch, proof, address);
      if (!MessageDigest.isEqual(proof.array(), hmac(authKey, SERVER_LABEL, serverNonce, clientNonce))) {
        throw new ProtocolException("pipes: mutual authentication failed: " + address
            + " accepted our key but could not prove that it knows it (a spoofed endpoint?)");
      }
      return;
    }
    String reason = readReason(ch, address);
    if (code == STATUS_BAD_KEY) {
      throw new ProtocolException("pipes: authentication refused by " + address + ": " + reason);
    }
    throw new ProtocolException("pipes: handshake refused by " + address + ": " + reason);
  }

  private static byte[] nonce() {
    byte[] nonce = new byte[NONCE_SIZE];
    Random.INSTANCE.nextBytes(nonce);
    return nonce;
  }

  /** HMAC-SHA256 over the concatenation of {@code parts}. */
  static byte[] hmac(byte[] key, byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] message = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, message, at, p.length);
      at += p.length;
    }
    return hmac(key, message);
  }

  /**
   * HMAC-SHA256 (RFC 2104) built on {@link MessageDigest}. {@code javax.crypto.Mac} gives the same
   * bytes but makes a fresh worker JVM load every security provider, which measured ~180 ms of a
   * worker's start-up here; SHA-256 comes from the first provider.
   */
  static byte[] hmac(byte[] key, byte[] message) {
    final int block = 64;
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] k = key.length > block ? sha.digest(key) : key;
      byte[] ipad = new byte[block];
      byte[] opad = new byte[block];
      for (int i = 0; i < block; i++) {
        byte b = i < k.length ? k[i] : 0;
        ipad[i] = (byte) (b ^ 0x36);
        opad[i] = (byte) (b ^ 0x5c);
      }
      sha.update(ipad);
      byte[] inner = sha.digest(message);
      sha.update(opad);
      return sha.digest(inner);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available in this JVM", e);
    }
  }

  private static String readReason(SocketChannel ch, String address) throws IOException {
    try {
      ByteBuffer len = ByteBuffer.allocate(2);
      readFully(ch, len, address);
      int n = Math.min(len.getShort(0) & 0xFFFF, MAX_REASON_BYTES);
      ByteBuffer text = ByteBuffer.allocate(n);
      readFully(ch, text, address);
      return new String(text.array(), 0, n, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no reason given)";
    }
  }

  private static void refuse(SocketChannel ch, byte status, String reason) {
    byte[] text = reason.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(3 + text.length);
    out.put(status).putShort((short) text.length).put(text).flip();
    try {
      writeFully(ch, out);
    } catch (IOException ignored) {
      // The peer is gone or misbehaving; the caller closes the channel anyway.
    }
  }

  static void writeFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  static void readFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    readFully(ch, buf, "peer");
  }

  private static void readFully(SocketChannel ch, ByteBuffer buf, String peer) throws IOException {
    while (buf.hasRemaining()) {
      if (ch.read(buf) < 0) {
        throw new EOFException("pipes: " + peer + " closed the connection during the handshake");
      }
    }
  }
}
