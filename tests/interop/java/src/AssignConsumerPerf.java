// Consumer throughput without a consumer group: assign() every partition of TOPIC, seek to the beginning,
// read COUNT records as fast as possible with the Apache Kafka Java consumer (kafka-clients 4.1).
// Used by bench/kafka-perf.py beside org.apache.kafka.tools.ConsumerPerformance, which always joins a
// consumer group.
//
//   java -cp '.deps/classes:.deps/lib/*' AssignConsumerPerf BOOTSTRAP TOPIC COUNT [TIMEOUT_MS] [key=value ...]
//
// Prints one CSV header line and one data line:
//   records,MB,elapsed.s,records.sec,MB.sec,first.record.ms
// (MB = 1024*1024 bytes of key+value, as ConsumerPerformance counts; first.record.ms = time from start to
// the first record, i.e. connect + metadata + ListOffsets + first fetch).
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class AssignConsumerPerf {
  public static void main(String[] args) {
    if (args.length < 3) {
      System.err.println("usage: AssignConsumerPerf BOOTSTRAP TOPIC COUNT [TIMEOUT_MS] [key=value ...]");
      System.exit(2);
    }
    String bootstrap = args[0], topic = args[1];
    long count = Long.parseLong(args[2]);
    long timeoutMs = args.length > 3 ? Long.parseLong(args[3]) : 10000;
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // the same settings ConsumerPerformance uses by default (--fetch-size, --socket-buffer-size)
    props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "1048576");
    props.put(ConsumerConfig.RECEIVE_BUFFER_CONFIG, "2097152");
    props.put(ConsumerConfig.CHECK_CRCS_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    for (int i = 4; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    long start = System.nanoTime();
    long records = 0, bytes = 0, firstAt = -1, lastRecord = System.currentTimeMillis();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
        tps.add(new TopicPartition(topic, p.partition()));
      }
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      while (records < count) {
        ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(100));
        if (batch.isEmpty()) {
          if (System.currentTimeMillis() - lastRecord > timeoutMs) {
            System.err.printf("timeout: no record for %d ms after %d of %d records%n", timeoutMs, records, count);
            System.exit(1);
          }
          continue;
        }
        lastRecord = System.currentTimeMillis();
        if (firstAt < 0) firstAt = (System.nanoTime() - start) / 1_000_000;
        for (ConsumerRecord<byte[], byte[]> r : batch) {
          records++;
          if (r.key() != null) bytes += r.key().length;
          if (r.value() != null) bytes += r.value().length;
        }
      }
    }
    double secs = (System.nanoTime() - start) / 1e9;
    double mb = bytes / (1024.0 * 1024.0);
    System.out.println("records,MB,elapsed.s,records.sec,MB.sec,first.record.ms");
    System.out.printf("%d,%.4f,%.3f,%.1f,%.4f,%d%n", records, mb, secs, records / secs, mb / secs, firstAt);
  }
}
