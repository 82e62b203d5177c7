// Apache Kafka Java client (kafka-clients 4.1, classic group protocol) consumer-group member for
// test_groups.py (same protocol as ../../group_member.py), and a 50-consumer rebalance timer.
//
//   java -cp '.deps/classes:.deps/lib/*' GroupInterop member BOOTSTRAP TOPIC GROUP ASSIGNOR SESSION_TIMEOUT_MS
//       ASSIGNOR: range | roundrobin | cooperative-sticky
//       stdout: {"ev":"assign","parts":[...]} when the assignment changes, {"ev":"rec","p","o","v"} per record,
//               {"ev":"committed","offsets":{...}}, {"ev":"closed"}, {"ev":"error","msg"}
//       stdin:  "commit" | "close" (EOF = close)
//   java -cp ... GroupInterop stable-time BOOTSTRAP TOPIC GROUP PARTITIONS CONSUMERS TIMEOUT_MS
//       CONSUMERS KafkaConsumer threads (range assignor) subscribe at once; prints
//       {"stable_ms": T, "consumers": N, "partitions": P} once every partition is assigned exactly once and
//       every consumer has reported an assignment; exit 1 on timeout.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class GroupInterop {
  public static void main(String[] args) throws Exception {
    switch (args.length > 0 ? args[0] : "") {
      case "member" -> member(args[1], args[2], args[3], args[4], Integer.parseInt(args[5]));
      case "stable-time" -> stableTime(args[1], args[2], args[3], Integer.parseInt(args[4]),
          Integer.parseInt(args[5]), Long.parseLong(args[6]));
      default -> {
        System.err.println("usage: GroupInterop member|stable-time ...");
        System.exit(2);
      }
    }
  }

  static Properties props(String bootstrap, String group, String assignor, int sessionMs) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "java");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
    p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, switch (assignor) {
      case "range" -> RangeAssignor.class.getName();
      case "roundrobin" -> RoundRobinAssignor.class.getName();
      case "cooperative-sticky" -> CooperativeStickyAssignor.class.getName();
      default -> throw new IllegalArgumentException("unknown assignor " + assignor);
    });
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(sessionMs));
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return p;
  }

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static void member(String bootstrap, String topic, String group, String assignor, int sessionMs) {
    ConcurrentLinkedQueue<String> cmds = new ConcurrentLinkedQueue<>();
    Thread in = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) if (!line.isBlank()) cmds.add(line.trim());
      } catch (Exception e) {
        // EOF or closed stdin: close
      }
      cmds.add("close");
    });
    in.setDaemon(true);
    in.start();
    Map<Integer, Long> next = new HashMap<>();
    List<Integer> shown = null;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props(bootstrap, group, assignor, sessionMs))) {
      c.subscribe(List.of(topic));
      while (true) {
        try {
          for (ConsumerRecord<byte[], byte[]> rec : c.poll(Duration.ofMillis(100))) {
            next.put(rec.partition(), rec.offset() + 1);
            emit("{\"ev\":\"rec\",\"p\":" + rec.partition() + ",\"o\":" + rec.offset() + ",\"v\":"
                + quote(rec.value() == null ? null : new String(rec.value(), StandardCharsets.UTF_8)) + "}");
          }
        } catch (Exception e) {
          emit("{\"ev\":\"error\",\"msg\":" + quote(e.toString()) + "}");
        }
        List<Integer> parts = new ArrayList<>();
        for (TopicPartition tp : c.assignment()) if (tp.topic().equals(topic)) parts.add(tp.partition());
        parts.sort(null);
        if (!parts.equals(shown)) {
          shown = parts;
          emit("{\"ev\":\"assign\",\"parts\":" + parts + "}");
        }
        String cmd;
        while ((cmd = cmds.poll()) != null) {
          if (cmd.equals("commit")) {
            Map<TopicPartition, OffsetAndMetadata> offs = new HashMap<>();
            for (Map.Entry<Integer, Long> e : next.entrySet()) {
              if (parts.contains(e.getKey())) offs.put(new TopicPartition(topic, e.getKey()), new OffsetAndMetadata(e.getValue()));
            }
            try {
              c.commitSync(offs, Duration.ofSeconds(30));
              StringBuilder b = new StringBuilder("{\"ev\":\"committed\",\"offsets\":{");
              String sep = "";
              for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offs.entrySet()) {
                b.append(sep).append('"').append(e.getKey().partition()).append("\":").append(e.getValue().offset());
                sep = ",";
              }
              emit(b.append("}}").toString());
            } catch (Exception e) {
              emit("{\"ev\":\"error\",\"msg\":" + quote("commit: " + e) + "}");
            }
          } else if (cmd.equals("close")) {
            c.close(Duration.ofSeconds(30));
            emit("{\"ev\":\"closed\"}");
            System.exit(0);
          }
        }
      }
    }
  }

  static void stableTime(String bootstrap, String topic, String group, int partitions, int consumers,
      long timeoutMs) throws Exception {
    Map<Integer, Set<Integer>> owned = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < consumers; i++) {
      final int id = i;
      Thread t = new Thread(() -> {
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props(bootstrap, group, "range", 10000))) {
          c.subscribe(List.of(topic));
          while (!stop.get()) {
            c.poll(Duration.ofMillis(100));
            Set<Integer> s = new TreeSet<>();
            for (TopicPartition tp : c.assignment()) s.add(tp.partition());
            owned.put(id, s);
          }
        } catch (Exception e) {
          System.err.println("consumer " + id + ": " + e);
        }
      });
      t.start();
      threads.add(t);
    }
    long deadline = System.currentTimeMillis() + timeoutMs;
    long stableMs = -1;
    while (System.currentTimeMillis() < deadline) {
      if (owned.size() == consumers) {
        int[] count = new int[partitions];
        boolean ok = true;
        int nonEmpty = 0;
        for (Set<Integer> s : owned.values()) {
          if (!s.isEmpty()) nonEmpty++;
          for (int p : s) count[p]++;
        }
        for (int n : count) ok &= n == 1;
        if (ok && nonEmpty == Math.min(consumers, partitions)) {
          stableMs = (System.nanoTime() - t0) / 1_000_000;
          break;
        }
      }
      Thread.sleep(20);
    }
    stop.set(true);
    for (Thread t : threads) t.join(60000);
    if (stableMs < 0) {
      System.err.println("no stable assignment within " + timeoutMs + " ms: " + owned);
      System.exit(1);
    }
    System.out.println("{\"stable_ms\":" + stableMs + ",\"consumers\":" + consumers + ",\"partitions\":" + partitions + "}");
    System.exit(0);
  }
}
