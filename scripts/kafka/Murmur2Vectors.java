import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;

import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

/**
 * Writes test vectors for Herald's partitioner, computed by Apache Kafka's own code in the
 * kafka-clients jar: for each key, {@code Utils.murmur2(key)} and, for each partition count n,
 * {@code Utils.toPositive(Utils.murmur2(key)) % n}, which is what the Java producer's default
 * partitioner does with a keyed record (cross-checked here against
 * {@code BuiltInPartitioner.partitionForKey}).
 *
 * <p>Text keys are hashed as their UTF-8 bytes, as Kafka's StringSerializer encodes them. The
 * output is deterministic (fixed keys, fixed random seed, no timestamp), so regenerating with the
 * same kafka-clients version rewrites the same file.
 *
 * <p>Run via {@code scripts/kafka/kafka.sh vectors}, or directly:
 * {@code java -cp '<libs>/*' scripts/kafka/Murmur2Vectors.java <out.json>}
 */
public class Murmur2Vectors {
  static final int[] PARTITION_COUNTS = {1, 2, 3, 6, 12, 50, 1000};
  static final long RANDOM_SEED = 0x6865726c64L; // "herld"
  static final int RANDOM_EXTRA_KEYS = 63;

  record Key(byte[] bytes, String text) {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: java -cp '<kafka libs>/*' Murmur2Vectors.java <out.json>");
      System.exit(2);
    }
    List<Key> keys = keys();
    StringBuilder json = new StringBuilder();
    json.append("{\n");
    json.append("  \"generatedBy\": \"scripts/kafka/Murmur2Vectors.java\",\n");
    json.append("  \"kafkaClientsVersion\": ").append(quote(kafkaClientsVersion())).append(",\n");
    json.append("  \"cases\": [\n");
    for (int i = 0; i < keys.size(); i++) {
      Key key = keys.get(i);
      int hash = Utils.murmur2(key.bytes());
      json.append("    { \"keyHex\": ").append(quote(hex(key.bytes())));
      if (key.text() != null) {
        json.append(", \"keyText\": ").append(quote(key.text()));
      }
      json.append(", \"murmur2\": ").append(hash).append(", \"partitions\": {");
      for (int j = 0; j < PARTITION_COUNTS.length; j++) {
        int n = PARTITION_COUNTS[j];
        int partition = Utils.toPositive(hash) % n;
        int producers = BuiltInPartitioner.partitionForKey(key.bytes(), n);
        if (partition != producers) {
          throw new IllegalStateException(
              "toPositive(murmur2) % " + n + " = " + partition + " but the producer picks " + producers);
        }
        json.append(j == 0 ? " " : ", ").append(quote(Integer.toString(n))).append(": ").append(partition);
      }
      json.append(" } }").append(i + 1 < keys.size() ? ",\n" : "\n");
    }
    json.append("  ]\n}\n");
    Files.writeString(Path.of(args[0]), json, StandardCharsets.UTF_8);
    System.err.println("wrote " + keys.size() + " cases to " + args[0]);
  }

  static List<Key> keys() {
    List<Key> keys = new ArrayList<>();
    // ASCII of every length 0..20 (length 0 is the empty string), covering each tail length
    // of the 4-byte blocks several times.
    String ascii = "abcdefghijklmnopqrstuvwxyz";
    for (int length = 0; length <= 20; length++) {
      text(keys, ascii.substring(0, length));
    }
    // Multi-byte UTF-8; written as escapes so the source file's encoding cannot change them.
    text(keys, "\u00fcn\u00efc\u00f8d\u00e9"); // ünïcødé
    text(keys, "\u6ce8\u6587-42"); // 注文-42
    text(keys, "\ud83d\ude80"); // rocket, 4 bytes
    text(keys, "order-\ud83d\udce6-7"); // order-📦-7
    text(keys, "\ud83d\udc69\u200d\ud83d\udcbb"); // woman technologist (ZWJ sequence)
    text(keys, "caf\u00e9"); // é precomposed
    text(keys, "cafe\u0301"); // é as e + combining acute: different bytes, different hash
    text(keys, "\u00ff\u00ff\u00ff\u00ff"); // bytes >= 0x80 exercise sign extension
    text(keys, "\u0000"); // NUL is a valid one-byte key
    text(keys, "\u0430\u0431\u0432"); // Cyrillic
    for (int i = 0; i < 200; i++) {
      text(keys, "order-" + i);
    }
    // Bytes that are not text: runs of 0xff and 0x00, then one random array of every length
    // 0..64 and more of random lengths, from a fixed seed.
    for (int length = 1; length <= 8; length++) {
      byte[] ones = new byte[length];
      Arrays.fill(ones, (byte) 0xff);
      keys.add(new Key(ones, null));
    }
    for (int length = 1; length <= 4; length++) {
      keys.add(new Key(new byte[length], null));
    }
    Random random = new Random(RANDOM_SEED);
    for (int length = 0; length <= 64; length++) {
      keys.add(new Key(randomBytes(random, length), null));
    }
    for (int i = 0; i < RANDOM_EXTRA_KEYS; i++) {
      keys.add(new Key(randomBytes(random, random.nextInt(65)), null));
    }
    return keys;
  }

  static void text(List<Key> keys, String text) {
    keys.add(new Key(text.getBytes(StandardCharsets.UTF_8), text));
  }

  static byte[] randomBytes(Random random, int length) {
    byte[] bytes = new byte[length];
    random.nextBytes(bytes);
    return bytes;
  }

  /** The version recorded inside the kafka-clients jar that supplied {@link Utils}. */
  static String kafkaClientsVersion() throws IOException {
    try (InputStream in = Utils.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      if (in == null) {
        throw new IllegalStateException("kafka/kafka-version.properties not found in kafka-clients");
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version");
    }
  }

  static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return out.toString();
  }

  /** A JSON string literal; non-ASCII characters stay as UTF-8, control characters are escaped. */
  static String quote(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
