// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * What one scenario runs with: the bootstrap address, clients made with our defaults and
 * closed (newest first, each bounded) when the scenario ends, and notes for the RESULT line.
 *
 * The defaults only bound the waits (request and delivery timeouts well under the scenario's
 * own) and speed up group changes (500 ms heartbeats); they change no semantics. In particular
 * producer() leaves enable.idempotence and acks at the client's defaults (idempotent, acks=all
 * since Kafka 3.0) unless the scenario passes them, and every consumer uses the classic group
 * protocol with auto-commit off.
 */
final class Context implements AutoCloseable {
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    final String bootstrap;
    final String scenario;
    private final Deque<AutoCloseable> open = new ArrayDeque<>();
    private final List<String> notes = new ArrayList<>();
    private int clients;

    Context(String bootstrap, String scenario) {
        this.bootstrap = bootstrap;
        this.scenario = scenario;
    }

    /** A name for a topic or group of this scenario: "jc-SCENARIO-SUFFIX". */
    String name(String suffix) {
        return "jc-" + scenario + "-" + suffix;
    }

    private String clientId(String kind) {
        return "jc-" + scenario + "-" + kind + (++clients);
    }

    /** Adds a note to the RESULT line of a scenario that passes. */
    void note(String fmt, Object... args) {
        notes.add(String.format(fmt, args));
    }

    String notes() {
        return String.join("; ", notes);
    }

    private static void putPairs(Properties p, Object... kv) {
        if (kv.length % 2 != 0) {
            throw new IllegalArgumentException("settings come in key, value pairs");
        }
        for (int i = 0; i < kv.length; i += 2) {
            p.put(kv[i], String.valueOf(kv[i + 1]));
        }
    }

    Admin admin(Object... kv) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId("admin"));
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        putPairs(p, kv);
        Admin admin = Admin.create(p);
        open.push(() -> admin.close(CLOSE_TIMEOUT));
        return admin;
    }

    /** A producer of byte arrays; `kv` are settings over the defaults. */
    KafkaProducer<byte[], byte[]> producer(Object... kv) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId("producer"));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        putPairs(p, kv);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
        open.push(() -> producer.close(CLOSE_TIMEOUT));
        return producer;
    }

    /**
     * A consumer of byte arrays in group `groupId` (null: no group, for assign()), classic
     * protocol, auto-commit off, reset to earliest; `kv` are settings over those.
     */
    KafkaConsumer<byte[], byte[]> consumer(String groupId, Object... kv) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId("consumer"));
        if (groupId != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        putPairs(p, kv);
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p);
        open.push(() -> consumer.close(CloseOptions.timeout(CLOSE_TIMEOUT)));
        return consumer;
    }

    /**
     * Creates topics of `partitions` partitions (replication factor 1) with `configs`, and
     * returns once every partition answers (awaitPartitions).
     */
    void createTopics(Admin admin, int partitions, Map<String, String> configs, String... topics)
            throws InterruptedException {
        List<NewTopic> news = new ArrayList<>();
        for (String t : topics) {
            news.add(new NewTopic(t, partitions, (short) 1).configs(configs == null ? Map.of() : configs));
        }
        Check.get(admin.createTopics(news).all(), "createTopics " + String.join(",", topics));
        for (String t : topics) {
            awaitPartitions(admin, t, partitions);
        }
    }

    /**
     * Waits until partitions 0 to n-1 of `topic` answer ListOffsets, which Admin retries while
     * the broker says NOT_LEADER_OR_FOLLOWER. Kafka answers CreateTopics (and CreatePartitions)
     * once the controller has the change, a moment before the broker leads the new partitions;
     * a producer that starts at once gets NOT_LEADER_OR_FOLLOWER, and its retries reorder a
     * plain producer's batches or, for an idempotent one, can end in OUT_OF_ORDER_SEQUENCE_NUMBER
     * until the batches expire. Users wait like this too; Runnel leads a partition at once.
     * Admin does not retry a partition its metadata does not list yet (Kafka's metadata reaches
     * the broker a moment after CreatePartitions answers): that error is retried here, for a
     * bounded time.
     */
    static void awaitPartitions(Admin admin, String topic, int n) throws InterruptedException {
        Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
        for (int p = 0; p < n; p++) {
            specs.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        String what = "listOffsets of the new partitions of " + topic;
        Check.Deadline deadline = new Check.Deadline(Check.WAIT_S);
        while (true) {
            try {
                Check.get(admin.listOffsets(specs).all(), what);
                return;
            } catch (Check.StepFailure e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || deadline.passed()) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    void createTopic(Admin admin, String topic, int partitions) throws InterruptedException {
        createTopics(admin, partitions, null, topic);
    }

    /**
     * Sends every record, flushes and waits for each acknowledgement; returns their metadata in
     * order. A failed send names the record's index and partition.
     */
    static List<RecordMetadata> sendAll(KafkaProducer<byte[], byte[]> producer,
                                        List<ProducerRecord<byte[], byte[]>> records)
            throws InterruptedException {
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : records) {
            futures.add(producer.send(r));
        }
        producer.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (int i = 0; i < futures.size(); i++) {
            out.add(Check.get(futures.get(i), "send of record " + i + " (of " + futures.size()
                                              + ") to " + records.get(i).topic() + "-"
                                              + records.get(i).partition()));
        }
        return out;
    }

    /** Sends `n` small records to each listed partition of `topic` with the default producer. */
    Map<Integer, Long> fill(String topic, int n, int... partitions) throws InterruptedException {
        KafkaProducer<byte[], byte[]> producer = producer();
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int p : partitions) {
            for (int i = 0; i < n; i++) {
                records.add(new ProducerRecord<>(topic, p, ("k" + i).getBytes(),
                                                 ("v-" + p + "-" + i).getBytes()));
            }
        }
        Map<Integer, Long> ends = new HashMap<>();
        for (RecordMetadata md : sendAll(producer, records)) {
            ends.merge(md.partition(), md.offset() + 1, Math::max);
        }
        return ends;
    }

    @Override
    public void close() {
        while (!open.isEmpty()) {
            try {
                open.pop().close();
            } catch (Exception e) {
                System.err.println("closing a client of " + scenario + ": " + e);
            }
        }
    }
}
