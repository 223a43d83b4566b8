// SPDX-License-Identifier: Apache-2.0
package runnel.chaos;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.internals.AppInfoParser;

/**
 * The Java producer of tests/integration/test_idempotent_chaos.py (issue 11):
 *
 * <pre>
 *   java -cp CLASSPATH runnel.chaos.ChaosProducer BOOTSTRAP TOPIC COUNT RATE on|off TIMEOUT_S
 * </pre>
 *
 * Produces COUNT records, record i with key "k&lt;i&gt;" and a 100-byte value that starts with
 * i in eight digits and a dash, at about RATE records a second. With "on" the producer keeps
 * the client's defaults (idempotent since Kafka 3.0: acks=all, five requests in flight,
 * unlimited retries); with "off" only enable.idempotence=false changes. It waits for every
 * acknowledgement, at most TIMEOUT_S seconds from its start, and prints one JSON object on
 * stdout (client, acked, failed, unacked, errors, seconds). The client's log goes to stderr.
 * test_idempotent_chaos.py compiles this file with javac against .cache/java-clients/lib.
 */
public final class ChaosProducer {
    private ChaosProducer() {
    }

    static byte[] value(long i) {
        StringBuilder sb = new StringBuilder(String.format("%08d-", i));
        while (sb.length() < 100) {
            sb.append('x');
        }
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    public static void main(String[] args) throws InterruptedException {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getenv().getOrDefault("RUNNEL_JAVA_LOG", "warn"));
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        if (args.length != 6) {
            System.err.println("usage: ChaosProducer BOOTSTRAP TOPIC COUNT RATE on|off TIMEOUT_S");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        int count = Integer.parseInt(args[2]);
        double rate = Double.parseDouble(args[3]);
        boolean idempotent = args[4].equals("on");
        long t0 = System.nanoTime();
        long deadline = t0 + (long) (Double.parseDouble(args[5]) * 1e9);

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "runnel-chaos-java");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        if (!idempotent) {
            props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        }
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<String> errors = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(count);
        int sent = 0;
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
        try {
            for (int i = 0; i < count && System.nanoTime() < deadline; i++) {
                long target = t0 + (long) (i / rate * 1e9);
                long wait = target - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(topic,
                        ("k" + i).getBytes(StandardCharsets.US_ASCII), value(i));
                producer.send(rec, (md, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                        synchronized (errors) {
                            if (errors.size() < 10) {
                                errors.add(e.toString());
                            }
                        }
                    }
                    done.countDown();
                });
                sent++;
            }
            for (int i = sent; i < count; i++) {
                done.countDown();
            }
            done.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } finally {
            producer.close(Duration.ZERO);
        }
        long unacked = count - acked.get() - failed.get();
        StringBuilder out = new StringBuilder("{\"client\": ");
        out.append(quote("kafka-clients " + AppInfoParser.getVersion()));
        out.append(", \"acked\": ").append(acked.get());
        out.append(", \"failed\": ").append(failed.get());
        out.append(", \"unacked\": ").append(unacked);
        out.append(", \"errors\": [");
        synchronized (errors) {
            for (int i = 0; i < errors.size(); i++) {
                out.append(i > 0 ? ", " : "").append(quote(errors.get(i)));
            }
        }
        out.append("], \"seconds\": ").append(String.format("%.2f", (System.nanoTime() - t0) / 1e9));
        out.append("}");
        System.out.println(out);
        System.out.flush();
        System.exit(0);
    }
}
