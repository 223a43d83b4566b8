// SPDX-License-Identifier: Apache-2.0
package runnel.streams;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A Kafka Streams word count for the exactly-once test (issue 11, test_streams_eos.py).
 *
 * <pre>
 *   java -cp CLASSPATH runnel.streams.WordCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR
 *        [KEY=VALUE ...]
 * </pre>
 *
 * Reads lines (String values) from INPUT, splits them on spaces, re-keys each word by itself
 * (a repartition topic), counts per word in a RocksDB store (a changelog topic) and writes every
 * new count to OUTPUT (String key, Long value). Both internal topics are created by Streams
 * itself with its default replication factor, -1 (the broker's default). The record cache is off,
 * so every input word gives exactly one output record: under exactly_once_v2 the committed
 * counts of a word read in order are 1, 2, 3, ... with no gap and no repeat.
 *
 * <p>KEY=VALUE arguments are added to (or replace) the Streams configuration below. The program
 * prints one line per state change on stdout, {@code STATE NEW_STATE}, and {@code FATAL ...}
 * when a stream thread dies of an exception; it then shuts the client down and exits 3. SIGTERM
 * closes Streams (committing what it has processed), prints {@code CLOSED clean} and exits 0
 * (4 when close() timed out, 3 when a thread had died). Streams' own log goes to stderr
 * at the level of RUNNEL_STREAMS_LOG (info by default).
 */
public final class WordCount {

    private WordCount() {
    }

    static Topology topology(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .flatMapValues(line -> Arrays.asList(line.split(" ")))
            .filter((key, word) -> !word.isEmpty())
            .groupBy((key, word) -> word, Grouped.with("words", Serdes.String(), Serdes.String()))
            .count(Materialized.as("counts"))
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return builder.build();
    }

    static Properties config(String bootstrap, String applicationId, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Said explicitly though it is the default: internal topics take the broker's default
        // replication factor (KIP-733), which the acceptance asks the broker to accept.
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "-1");
        // One output record per input word, so that the test can check every step of a count.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        // Short transactions keep the test quick; exactly-once holds at any interval.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        // A restarted instance replaces the killed one as soon as the group coordinator drops
        // the dead member: 6 s is the smallest session Kafka's default group.min.session.timeout.ms
        // allows.
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), "6000");
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
        return p;
    }

    public static void main(String[] args) throws InterruptedException {
        String level = System.getenv().getOrDefault("RUNNEL_STREAMS_LOG", "info");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length < 5) {
            System.err.println("usage: WordCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR "
                + "[KEY=VALUE ...]");
            System.exit(2);
        }
        Properties props = config(args[0], args[1], args[4]);
        for (int i = 5; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("WordCount: " + args[i] + " is not KEY=VALUE");
                System.exit(2);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        KafkaStreams streams = new KafkaStreams(topology(args[2], args[3]), props);
        CountDownLatch done = new CountDownLatch(1);
        int[] status = {0};
        streams.setStateListener((now, before) -> {
            out.println("STATE " + now);
            if (now == KafkaStreams.State.ERROR) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            // One line for the test, the stack trace for the log: a dead thread is a failure
            // the test must see, not something to paper over with a replacement thread.
            out.println("FATAL " + e.getClass().getName() + ": "
                + String.valueOf(e.getMessage()).replace('\n', ' '));
            e.printStackTrace();
            status[0] = 3;
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            boolean clean = streams.close(Duration.ofSeconds(30));
            out.println("CLOSED " + (clean ? "clean" : "timeout"));
            // halt: the status says how close() went, not which signal ended the JVM.
            Runtime.getRuntime().halt(status[0] != 0 ? status[0] : clean ? 0 : 4);
        }, "wordcount-shutdown"));
        streams.start();
        // Only ERROR ends main(): SIGTERM ends the JVM through the shutdown hook above.
        done.await();
        out.println(String.format(Locale.ROOT, "EXIT %d", status[0]));
        Runtime.getRuntime().exit(status[0] == 0 ? 1 : status[0]);
    }
}
