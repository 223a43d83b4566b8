// SPDX-License-Identifier: Apache-2.0
package runnel.streams;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * A KTable whose state a test wipes and has Kafka Streams restore from its compacted changelog
 * (issue 12, test_streams_ktable.py).
 *
 * <pre>
 *   java -cp CLASSPATH runnel.streams.KTableCount BOOTSTRAP APPLICATION_ID INPUT STATE_DIR
 *        [KEY=VALUE ...]
 * </pre>
 *
 * Counts the records of each key of INPUT (String keys) with groupByKey().count() into the
 * RocksDB store {@code counts}, whose changelog topic APPLICATION_ID-counts-changelog Streams
 * creates compacted. The record cache is off, so every input record writes one changelog record:
 * the changelog holds the whole history of every count until the broker compacts it.
 * KEY=VALUE arguments are added to (or replace) the Streams configuration, for instance
 * {@code topic.segment.bytes=16384} for small changelog segments.
 *
 * <p>On stdout: {@code STATE NEW_STATE} on each state change; {@code RESTORE_START PARTITION
 * START END}, {@code RESTORED PARTITION N} when a partition of the store has been restored from
 * the changelog (N records); {@code FATAL ...} when a stream thread dies. Each line {@code DUMP}
 * read on stdin is answered with the store's contents, {@code ENTRY KEY COUNT} lines then
 * {@code DUMPED N}, or {@code DUMP_FAILED REASON} while the store cannot be queried. SIGTERM
 * closes Streams, prints {@code CLOSED clean} and exits 0 (4 when close() timed out, 3 when a
 * thread had died).
 */
public final class KTableCount {

    static final String STORE = "counts";

    private KTableCount() {
    }

    static Topology topology(String input) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
            .count(Materialized.as(STORE));
        return builder.build();
    }

    static Properties config(String bootstrap, String applicationId, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "-1");
        // Every update goes to the changelog: the history the broker's cleaner must reduce.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), "6000");
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
        return p;
    }

    /** Prints the whole store, or why it cannot be read yet. */
    static void dump(KafkaStreams streams, PrintStream out) {
        List<String> lines = new ArrayList<>();
        try {
            ReadOnlyKeyValueStore<String, Long> store = streams.store(
                StoreQueryParameters.fromNameAndType(STORE,
                    QueryableStoreTypes.<String, Long>keyValueStore()));
            try (KeyValueIterator<String, Long> it = store.all()) {
                while (it.hasNext()) {
                    KeyValue<String, Long> kv = it.next();
                    lines.add("ENTRY " + kv.key + " " + kv.value);
                }
            }
        } catch (InvalidStateStoreException e) {
            out.println("DUMP_FAILED " + String.valueOf(e.getMessage()).replace('\n', ' '));
            return;
        }
        synchronized (out) {
            for (String line : lines) {
                out.println(line);
            }
            out.println("DUMPED " + lines.size());
        }
    }

    public static void main(String[] args) throws IOException {
        String level = System.getenv().getOrDefault("RUNNEL_STREAMS_LOG", "info");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length < 4) {
            System.err.println("usage: KTableCount BOOTSTRAP APPLICATION_ID INPUT STATE_DIR "
                + "[KEY=VALUE ...]");
            System.exit(2);
        }
        Properties props = config(args[0], args[1], args[3]);
        for (int i = 4; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("KTableCount: " + args[i] + " is not KEY=VALUE");
                System.exit(2);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        KafkaStreams streams = new KafkaStreams(topology(args[2]), props);
        int[] status = {0};
        streams.setStateListener((now, before) -> out.println("STATE " + now));
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                out.println("RESTORE_START " + tp.partition() + " " + start + " " + end);
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd,
                                        long restored) {
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long total) {
                out.println("RESTORED " + tp.partition() + " " + total);
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            out.println("FATAL " + e.getClass().getName() + ": "
                + String.valueOf(e.getMessage()).replace('\n', ' '));
            e.printStackTrace();
            status[0] = 3;
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            boolean clean = streams.close(Duration.ofSeconds(30));
            out.println("CLOSED " + (clean ? "clean" : "timeout"));
            Runtime.getRuntime().halt(status[0] != 0 ? status[0] : clean ? 0 : 4);
        }, "ktablecount-shutdown"));
        streams.start();
        // The test's questions; at the end of stdin, wait for SIGTERM.
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in,
            StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("DUMP")) {
                dump(streams, out);
            }
        }
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
