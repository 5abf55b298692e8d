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
 * The pipes handshake, run once per connection before any frame.
 *
 * <pre>
 * server → client: "PPIP" (4 bytes), version (u16 BE), nonce (32 bytes, SecureRandom)
 * client → server: "PPIP" (4 bytes), version (u16 BE), HMAC-SHA256(authKey, nonce) (32 bytes)
 * server → client: status (1 byte): 0 OK, 1 wrong key, 2 bad magic / unsupported version;
 *                  if not OK: reason length (u16 BE) + reason (UTF-8), then the server closes
 * </pre>
 *
 * <p>All reads are of fixed, small sizes; nothing is allocated from a length sent by the peer except
 * the reason string, which is capped.
 */
final class Handshake {
  static final int MAGIC = 0x50504950; // "PPIP"
  static final int VERSION = 1;
  static final int NONCE_SIZE = 32;
  static final int MAC_SIZE = 32;
  static final int HELLO_SIZE = 4 + 2 + NONCE_SIZE; // both directions are 38 bytes
  static final byte STATUS_OK = 0;
  static final byte STATUS_BAD_KEY = 1;
  static final byte STATUS_BAD_PROTOCOL = 2;
  static final int MAX_REASON_BYTES = 1024;

  /** Only the server draws nonces: a holder keeps SecureRandom out of worker start-up. */
  private static final class Random {
    static final SecureRandom INSTANCE = new SecureRandom();
  }

  private Handshake() {}

  /**
   * Server side. Returns normally when the client proved the key; otherwise tells the client why
   * (when it still can) and throws.
   */
  static void serverSide(SocketChannel ch, byte[] authKey) throws IOException {
    byte[] nonce = new byte[NONCE_SIZE];
    Random.INSTANCE.nextBytes(nonce);
    ByteBuffer hello = ByteBuffer.allocate(HELLO_SIZE);
    hello.putInt(MAGIC).putShort((short) VERSION).put(nonce).flip();
    writeFully(ch, hello);

    ByteBuffer in = ByteBuffer.allocate(HELLO_SIZE);
    in.limit(6);
    readFully(ch, in);
    int magic = in.getInt(0);
    int version = in.getShort(4) & 0xFFFF;
    if (magic != MAGIC) {
      refuse(ch, STATUS_BAD_PROTOCOL, "bad magic: the peer is not a procpool pipes client");
      throw new ProtocolException("pipes: bad magic 0x" + Integer.toHexString(magic) + " in handshake");
    }
    if (version != VERSION) {
      String reason = "protocol version " + version + " not supported by server (server speaks " + VERSION + ")";
      refuse(ch, STATUS_BAD_PROTOCOL, reason);
      throw new ProtocolException("pipes: " + reason);
    }
    in.limit(HELLO_SIZE);
    readFully(ch, in);
    byte[] proof = new byte[MAC_SIZE];
    in.get(6, proof);
    if (!MessageDigest.isEqual(proof, hmac(authKey, nonce))) {
      refuse(ch, STATUS_BAD_KEY, "the auth key did not match the pool's key");
      throw new ProtocolException("pipes: a client failed authentication (wrong auth key)");
    }
    writeFully(ch, ByteBuffer.wrap(new byte[] {STATUS_OK}));
  }

  /** Client side. Returns normally when the server accepted the key. */
  static void clientSide(SocketChannel ch, byte[] authKey, String address) throws IOException {
    ByteBuffer in = ByteBuffer.allocate(HELLO_SIZE);
    readFully(ch, in, address);
    int magic = in.getInt(0);
    if (magic != MAGIC) {
      throw new ProtocolException("pipes: " + address + " is not a procpool pipes endpoint (bad magic 0x"
          + Integer.toHexString(magic) + ")");
    }
    byte[] nonce = new byte[NONCE_SIZE];
    in.get(6, nonce);
    ByteBuffer out = ByteBuffer.allocate(HELLO_SIZE);
    out.putInt(MAGIC).putShort((short) VERSION).put(hmac(authKey, nonce)).flip();
    writeFully(ch, out);

    ByteBuffer status = ByteBuffer.allocate(1);
    readFully(ch, status, address);
    byte code = status.get(0);
    if (code == STATUS_OK) {
      return;
    }
    String reason = readReason(ch, address);
    if (code == STATUS_BAD_KEY) {
      throw new ProtocolException("pipes: authentication refused by " + address + ": " + reason);
    }
    throw new ProtocolException("pipes: handshake refused by " + address + ": " + reason);
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
