// Apache Kafka Java client (kafka-clients 4.1) driver for the Streamlet interop tests.
//
//   java -cp '.deps/classes:.deps/lib/*' Interop create-topic BOOTSTRAP TOPIC PARTITIONS
//   java -cp ... Interop produce BOOTSTRAP TOPIC COMPRESSION < spec.jsonl      (idempotent, acks=all)
//   java -cp ... Interop consume BOOTSTRAP TOPIC PARTITIONS COUNT TIMEOUT_MS   (assign, no group)
//   java -cp ... Interop api-versions BOOTSTRAP
//
// Record spec (stdin of produce), one JSON object a line:
//   {"p": partition or null, "k": key or null, "v": value, "h": [[name, value or null], ...]}
// produce prints one line per record: {"p": partition, "o": offset} in input order.
// consume prints the records it read, one JSON object a line: {"p", "o", "k", "v", "h"}, ordered by
// partition then offset. Exit status is non-zero on any error or when fewer than COUNT records arrive.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Interop {
  static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    if (args.length < 2) usage();
    switch (args[0]) {
      case "create-topic" -> createTopic(args[1], args[2], Integer.parseInt(args[3]));
      case "produce" -> produce(args[1], args[2], args[3]);
      case "consume" -> consume(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
          Long.parseLong(args[5]));
      default -> usage();
    }
  }

  static void usage() {
    System.err.println("usage: Interop create-topic|produce|consume ...");
    System.exit(2);
  }

  static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put("client.id", "java");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(props)) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      // Wait until the topic is visible in metadata with all partitions.
      long deadline = System.currentTimeMillis() + 20000;
      while (true) {
        try {
          var d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
          if (d.partitions().size() == partitions && d.partitions().stream().allMatch(p -> p.leader() != null)) break;
        } catch (Exception e) {
          if (System.currentTimeMillis() > deadline) throw e;
        }
        if (System.currentTimeMillis() > deadline) throw new RuntimeException("topic " + topic + " not ready in 20s");
        Thread.sleep(100);
      }
    }
  }

  static byte[] bytes(JsonNode n) {
    return (n == null || n.isNull()) ? null : n.asText().getBytes(StandardCharsets.UTF_8);
  }

  static JsonNode text(byte[] b) {
    return b == null ? JSON.nullNode() : JSON.getNodeFactory().textNode(new String(b, StandardCharsets.UTF_8));
  }

  static void produce(String bootstrap, String topic, String compression) throws Exception {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put("client.id", "java");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
         BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        JsonNode r = JSON.readTree(line);
        RecordHeaders headers = new RecordHeaders();
        JsonNode hs = r.get("h");
        if (hs != null) for (JsonNode h : hs) headers.add(h.get(0).asText(), bytes(h.get(1)));
        JsonNode p = r.get("p");
        Integer partition = (p == null || p.isNull()) ? null : p.asInt();
        sent.add(producer.send(new ProducerRecord<>(topic, partition, null, bytes(r.get("k")), bytes(r.get("v")), headers)));
      }
      producer.flush();
      for (Future<RecordMetadata> f : sent) {
        RecordMetadata md = f.get();
        ObjectNode o = JSON.createObjectNode();
        o.put("p", md.partition());
        o.put("o", md.offset());
        System.out.println(JSON.writeValueAsString(o));
      }
    }
  }

  static void consume(String bootstrap, String topic, int partitions, int count, long timeoutMs) throws Exception {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put("client.id", "java");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (got.size() < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(200))) got.add(rec);
      }
    }
    got.sort((a, b) -> a.partition() != b.partition() ? Integer.compare(a.partition(), b.partition())
        : Long.compare(a.offset(), b.offset()));
    for (ConsumerRecord<byte[], byte[]> rec : got) {
      ObjectNode o = JSON.createObjectNode();
      o.put("p", rec.partition());
      o.put("o", rec.offset());
      o.set("k", text(rec.key()));
      o.set("v", text(rec.value()));
      ArrayNode hs = o.putArray("h");
      for (Header h : rec.headers()) {
        ArrayNode pair = hs.addArray();
        pair.add(h.key());
        pair.add(text(h.value()));
      }
      System.out.println(JSON.writeValueAsString(o));
    }
    if (got.size() < count) {
      System.err.println("consumed " + got.size() + " of " + count + " records before the timeout");
      System.exit(1);
    }
  }
}
