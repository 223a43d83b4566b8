// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;

/**
 * Produce and consume: every codec the Java producer offers, and record headers.
 *
 * produce-consume-CODEC sends 1,500 records to 3 partitions (keys, some null keys and null
 * values, compressible values of 0 to 2 KB, headers on every record, explicit CreateTime
 * timestamps) and reads them back by assignment from the beginning: every record must come back
 * exactly once at the offset its acknowledgement gave (each partition's offsets dense from 0, in
 * the order of the sends for the idempotent producer), with the same key, value, headers and
 * timestamp. The partitions' size on disk (DescribeLogDirs) shows that the batches were
 * compressed: below 70% of the payload for a codec, above it for none.
 *
 * headers sends the corner cases of headers (empty and non-ASCII keys, null and empty values,
 * repeated keys, 100 headers, a 10 KiB value) in one batch and in batches of one.
 *
 * Both use the producer's default configuration, which is idempotent since Kafka 3.0
 * (InitProducerId first, then a producer id and sequence numbers in every batch).
 * produce-consume-none-noidem is produce-consume-none with enable.idempotence=false: batches
 * without a producer id, which the broker appends without producer state, and acknowledged
 * offsets that need not follow the order of the sends.
 */
final class RecordScenarios {
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    private static final int PARTITIONS = 3;
    private static final int RECORDS = 1500;

    private RecordScenarios() {
    }

    static void register(Map<String, Scenario> m) {
        for (String codec : CODECS) {
            m.put("produce-consume-" + codec, ctx -> produceConsume(ctx, codec, true));
        }
        m.put("produce-consume-none-noidem", ctx -> produceConsume(ctx, "none", false));
        m.put("headers", RecordScenarios::headers);
    }

    /** The producer of these scenarios: default configuration, or without idempotence. */
    private static KafkaProducer<byte[], byte[]> producer(Context ctx, boolean idempotent, String codec) {
        if (idempotent) {
            return ctx.producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        }
        return ctx.producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec,
                            ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
    }

    private static final String TEXT = "Runnel speaks the Kafka protocol; the Java client is the reference. ";

    private static byte[] value(int i) {
        if (i % 97 == 13) {
            return null;   // a tombstone
        }
        int len = (i * 37) % 2000;
        String prefix = "value-" + i + "-";
        StringBuilder sb = new StringBuilder(prefix);
        while (sb.length() < len) {
            sb.append(TEXT);
        }
        return sb.substring(0, Math.max(len, prefix.length())).getBytes(StandardCharsets.UTF_8);
    }

    private static List<Header> headersOf(int i) {
        List<Header> hs = new ArrayList<>();
        hs.add(new RecordHeader("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8)));
        if (i % 3 == 0) {
            hs.add(new RecordHeader("trace", null));
        }
        if (i % 7 == 0) {
            hs.add(new RecordHeader("dup", new byte[] {1}));
            hs.add(new RecordHeader("dup", new byte[] {2}));
        }
        return hs;
    }

    private static void produceConsume(Context ctx, String codec, boolean idempotent) throws Exception {
        String topic = ctx.name("t");
        Admin admin = ctx.admin();
        ctx.createTopic(admin, topic, PARTITIONS);

        long base = System.currentTimeMillis() - 3_600_000L;
        List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>();
        long payload = 0;
        for (int i = 0; i < RECORDS; i++) {
            byte[] key = i % 50 == 0 ? null : ("key-" + i).getBytes(StandardCharsets.UTF_8);
            byte[] value = value(i);
            List<Header> hs = headersOf(i);
            sent.add(new ProducerRecord<>(topic, i % PARTITIONS, base + i, key, value, hs));
            payload += (key == null ? 0 : key.length) + (value == null ? 0 : value.length);
        }
        KafkaProducer<byte[], byte[]> producer = producer(ctx, idempotent, codec);
        List<RecordMetadata> acks = Context.sendAll(producer, sent);
        checkAcks(sent, acks, idempotent);

        List<ConsumerRecord<byte[], byte[]>> got = readAll(ctx, topic, PARTITIONS, RECORDS);
        compare(sent, acks, got);

        long disk = diskBytes(ctx, admin, topic, PARTITIONS);
        double ratio = (double) disk / payload;
        if (codec.equals("none")) {
            Check.that(ratio > 0.7, "%d bytes on disk for %d bytes of keys and values uncompressed", disk, payload);
        } else {
            Check.that(ratio < 0.7, "%d bytes on disk for %d bytes of keys and values: not compressed with %s",
                       disk, payload, codec);
        }
        ctx.note("%d records in %d partitions read back; %d B on disk for %d B of keys and values (%.0f%%)",
                 RECORDS, PARTITIONS, disk, payload, 100 * ratio);
    }

    /**
     * Every record was acknowledged on its partition, and each partition's acknowledged offsets
     * are 0 to n-1, each once. In the order of the sends for an idempotent producer, which
     * guarantees it; not necessarily without idempotence, where a retried request can land
     * behind the requests that were in flight with it.
     */
    private static void checkAcks(List<ProducerRecord<byte[], byte[]>> sent, List<RecordMetadata> acks,
                                  boolean inOrder) {
        Map<Integer, Set<Long>> offsets = new TreeMap<>();
        for (int i = 0; i < sent.size(); i++) {
            RecordMetadata md = acks.get(i);
            Check.equal(sent.get(i).partition(), md.partition(), "partition of the acknowledgement of record %d", i);
            Set<Long> seen = offsets.computeIfAbsent(md.partition(), p -> new HashSet<>());
            if (inOrder) {
                Check.equal((long) seen.size(), md.offset(), "offset acknowledged for record %d (partition %d), "
                            + "in the order of the sends", i, md.partition());
            }
            Check.that(seen.add(md.offset()), "offset %d of partition %d acknowledged twice (record %d)",
                       md.offset(), md.partition(), i);
        }
        offsets.forEach((p, set) -> {
            long n = set.size();
            Check.that(set.stream().allMatch(o -> o >= 0 && o < n), "acknowledged offsets of partition %d are not "
                       + "0 to %d: %s", p, n - 1, new TreeSet<>(set));
        });
    }

    /** Reads `count` records from the beginning of every partition by assignment (no group). */
    static List<ConsumerRecord<byte[], byte[]>> readAll(Context ctx, String topic, int partitions, int count) {
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(null);
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        Check.Deadline deadline = new Check.Deadline(30);
        while (got.size() < count) {
            deadline.check("reading %s: %d of %d records", topic, got.size(), count);
            consumer.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        // Nothing more comes: a short extra poll must be empty.
        int extra = consumer.poll(Duration.ofMillis(300)).count();
        Check.equal(0, extra, "records after the %d expected ones of %s", count, topic);
        return got;
    }

    private static void compare(List<ProducerRecord<byte[], byte[]>> sent, List<RecordMetadata> acks,
                                List<ConsumerRecord<byte[], byte[]>> got) {
        Map<String, ConsumerRecord<byte[], byte[]>> byPosition = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            ConsumerRecord<byte[], byte[]> before = byPosition.put(r.partition() + "@" + r.offset(), r);
            Check.that(before == null, "partition %d offset %d came twice", r.partition(), r.offset());
        }
        for (int i = 0; i < sent.size(); i++) {
            ProducerRecord<byte[], byte[]> s = sent.get(i);
            RecordMetadata md = acks.get(i);
            ConsumerRecord<byte[], byte[]> r = byPosition.get(md.partition() + "@" + md.offset());
            Check.that(r != null, "record %d (partition %d offset %d) was not read back", i, md.partition(),
                       md.offset());
            String at = "record " + i + " at partition " + md.partition() + " offset " + md.offset();
            Check.that(Arrays.equals(s.key(), r.key()), "%s: key %s read back as %s", at, show(s.key()), show(r.key()));
            Check.that(Arrays.equals(s.value(), r.value()), "%s: value %s read back as %s", at, show(s.value()),
                       show(r.value()));
            Check.equal(TimestampType.CREATE_TIME, r.timestampType(), "%s: timestamp type", at);
            Check.equal(s.timestamp(), r.timestamp(), "%s: timestamp", at);
            Check.equal(describe(s.headers().toArray()), describe(r.headers().toArray()), "%s: headers", at);
        }
    }

    static String show(byte[] b) {
        if (b == null) {
            return "null";
        }
        String s = new String(b, 0, Math.min(b.length, 40), StandardCharsets.UTF_8);
        return "\"" + s + (b.length > 40 ? "...\" (" + b.length + " bytes)" : "\"");
    }

    /** Headers as text, in order, values in hex (null stays null). */
    static String describe(Header[] hs) {
        StringBuilder sb = new StringBuilder("[");
        for (Header h : hs) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append('"').append(h.key()).append("\"=");
            if (h.value() == null) {
                sb.append("null");
            } else {
                sb.append(h.value().length).append(':');
                for (int i = 0; i < Math.min(h.value().length, 16); i++) {
                    sb.append(String.format("%02x", h.value()[i]));
                }
                if (h.value().length > 16) {
                    sb.append("..").append(Arrays.hashCode(h.value()));
                }
            }
        }
        return sb.append(']').toString();
    }

    /** The bytes on disk of a topic's partitions, from DescribeLogDirs. */
    static long diskBytes(Context ctx, Admin admin, String topic, int partitions) throws InterruptedException {
        int node = Check.get(admin.describeCluster().nodes(), "describeCluster").iterator().next().id();
        Map<Integer, Map<String, LogDirDescription>> dirs =
            Check.get(admin.describeLogDirs(List.of(node)).allDescriptions(), "describeLogDirs");
        long total = 0;
        int seen = 0;
        for (LogDirDescription dir : dirs.getOrDefault(node, Map.of()).values()) {
            for (Map.Entry<TopicPartition, ReplicaInfo> e : dir.replicaInfos().entrySet()) {
                if (e.getKey().topic().equals(topic)) {
                    total += e.getValue().size();
                    seen++;
                }
            }
        }
        Check.equal(partitions, seen, "partitions of %s in describeLogDirs", topic);
        return total;
    }

    private static void headers(Context ctx) throws Exception {
        String topic = ctx.name("t");
        Admin admin = ctx.admin();
        ctx.createTopic(admin, topic, 1);
        Random rnd = new Random(10);
        byte[] big = new byte[10 * 1024];
        rnd.nextBytes(big);
        List<List<Header>> cases = new ArrayList<>();
        cases.add(List.of());
        cases.add(List.of(new RecordHeader("", "empty key".getBytes(StandardCharsets.UTF_8))));
        cases.add(List.of(new RecordHeader("null-value", null)));
        cases.add(List.of(new RecordHeader("empty-value", new byte[0])));
        cases.add(List.of(new RecordHeader("ключ-\uD83D\uDD11",
                                           "значение".getBytes(StandardCharsets.UTF_8))));
        cases.add(List.of(new RecordHeader("a", new byte[] {1}), new RecordHeader("b", new byte[] {2}),
                          new RecordHeader("a", new byte[] {3})));
        List<Header> many = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            many.add(new RecordHeader("h" + i, new byte[] {(byte) i, (byte) (i >> 8)}));
        }
        cases.add(many);
        cases.add(List.of(new RecordHeader("big", big)));
        cases.add(List.of(new RecordHeader("binary", new byte[] {0, (byte) 0xff, 0, (byte) 0x80})));

        long base = System.currentTimeMillis() - 60_000L;
        List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>();
        // Once with a key and a value, once with neither: headers must not depend on them.
        for (int round = 0; round < 2; round++) {
            for (List<Header> hs : cases) {
                int i = sent.size();
                byte[] key = round == 0 ? ("key-" + i).getBytes(StandardCharsets.UTF_8) : null;
                byte[] value = round == 0 ? ("value-" + i).getBytes(StandardCharsets.UTF_8) : null;
                sent.add(new ProducerRecord<>(topic, 0, base + i, key, value, hs));
            }
        }
        KafkaProducer<byte[], byte[]> producer = ctx.producer();
        // All in one batch, then the same again one record per batch.
        List<RecordMetadata> acks = new ArrayList<>(Context.sendAll(producer, sent));
        List<ProducerRecord<byte[], byte[]>> all = new ArrayList<>(sent);
        for (ProducerRecord<byte[], byte[]> r : sent) {
            acks.addAll(Context.sendAll(producer, List.of(r)));
            all.add(r);
        }
        checkAcks(all, acks, true);
        List<ConsumerRecord<byte[], byte[]>> got = readAll(ctx, topic, 1, all.size());
        compare(all, acks, got);
        ctx.note("%d records with %d kinds of headers read back, in one batch and one per batch",
                 all.size(), cases.size());
    }
}
