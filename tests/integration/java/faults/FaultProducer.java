// SPDX-License-Identifier: Apache-2.0
package runnel.faults;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Java producer of tests/integration/test_control_faults.py (issue 15):
 *
 * <pre>
 *   java -cp CLASSPATH runnel.faults.FaultProducer BOOTSTRAP TOPIC CLIENT_ID TIMEOUT_S
 * </pre>
 *
 * Sends one record (key "k", value "v") with the client's defaults (idempotent, acks=all,
 * retries until delivery.timeout.ms) and a short retry backoff, waits for its acknowledgement
 * and prints one line on stdout: "ACKED partition offset", or "FAILED exception message".
 * test_control_faults.py compiles this file with javac against .cache/java-clients/lib.
 */
public final class FaultProducer {
    private FaultProducer() {
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, args[2]);
        props.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        props.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "200");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
                  ByteArraySerializer.class.getName());
        long timeout = Long.parseLong(args[3]);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(args[1],
                    "k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            try {
                RecordMetadata md = producer.send(rec).get(timeout, TimeUnit.SECONDS);
                System.out.println("ACKED " + md.partition() + " " + md.offset());
            } catch (Exception e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                System.out.println("FAILED " + cause.getClass().getSimpleName() + " "
                                   + cause.getMessage());
            }
        }
    }
}
