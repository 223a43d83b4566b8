// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The transaction scenarios of issue 11 with the Java client 4.4 (transactional producer,
 * classic-protocol consumer): tests/integration/test_txn_java.py runs one per JVM and checks
 * what it prints with the checks every client gets (txn_common.py, which describes the
 * scenarios and the observation each one prints).
 *
 * <pre>
 *   java -cp CLASSPATH runnel.it.TxnScenarios SCENARIO BOOTSTRAP &lt; spec.json   (one line)
 * </pre>
 *
 * SCENARIO is interleaved, consume_transform_produce, fencing, timeout, kill_produce or
 * kill_verify; the spec (txn_common.spec()) is a flat JSON object of names and counts. The
 * observation is one JSON object on the last line of stdout, with an "error" key (and the
 * keys seen until then) when a step failed; kill_produce also prints "COMMITTING n" just
 * before each commit and "COMMITTED n MILLIS" after it, for the test to time its SIGKILL, and
 * after the last commit waits for the end of stdin (the test closes it after the kill). The
 * client's log and stack traces go to stderr. The exit status is 0 whenever the observation
 * was printed, 2 for a usage error.
 */
public final class TxnScenarios {
    private static final long WAIT_MS = 30_000;
    private static final Duration POLL = Duration.ofMillis(200);

    private final Map<String, Object> spec;
    private final Context ctx;
    private final PrintStream out;
    private final Map<String, Object> obs = new LinkedHashMap<>();

    private TxnScenarios(Map<String, Object> spec, Context ctx, PrintStream out) {
        this.spec = spec;
        this.ctx = ctx;
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        String level = System.getenv().getOrDefault("RUNNEL_JAVA_LOG", "warn");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length != 2) {
            System.err.println("usage: TxnScenarios SCENARIO BOOTSTRAP < spec.json");
            System.exit(2);
        }
        Map<String, Object> spec = parseFlatJson(readLine(System.in));
        TxnScenarios run;
        try (Context ctx = new Context(args[1], args[0])) {
            run = new TxnScenarios(spec, ctx, out);
            try {
                switch (args[0]) {
                    case "interleaved" -> run.interleaved();
                    case "consume_transform_produce" -> run.consumeTransformProduce();
                    case "fencing" -> run.fencing();
                    case "timeout" -> run.timeout();
                    case "kill_produce" -> run.killProduce();
                    case "kill_verify" -> run.killVerify();
                    default -> {
                        System.err.println("TxnScenarios: unknown scenario " + args[0]);
                        System.exit(2);
                    }
                }
            } catch (Throwable e) {
                e.printStackTrace();
                run.obs.put("error", ClientScenarios.oneLine(e));
            }
        }
        out.println(Json.write(run.obs));
        System.exit(0);
    }

    // -- the spec ----------------------------------------------------------------------------

    /** The spec: the first line of stdin (or all of it, when it has no newline). */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
            buf.write(b);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** A flat JSON object of strings and integers (all that txn_common.spec() holds). */
    static Map<String, Object> parseFlatJson(String text) {
        Map<String, Object> m = new HashMap<>();
        Matcher mt = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(?:\"([^\"]*)\"|(-?\\d+))").matcher(text);
        while (mt.find()) {
            m.put(mt.group(1), mt.group(2) != null ? mt.group(2) : (Object) Long.parseLong(mt.group(3)));
        }
        return m;
    }

    private String s(String key) {
        Object v = spec.get(key);
        Check.that(v instanceof String, "spec key %s missing or not a string", key);
        return (String) v;
    }

    private int i(String key) {
        Object v = spec.get(key);
        Check.that(v instanceof Long, "spec key %s missing or not a number", key);
        return ((Long) v).intValue();
    }

    // -- the records of each scenario (as txn_common.py makes them) ---------------------------

    private static String aValue(int t, int m) {
        return String.format("a-t%02d-m%02d", t, m);
    }

    private static String bInput(int i) {
        return String.format("in-%03d", i);
    }

    private static String cValue(String part, int m) {
        return String.format("c-%s-m%02d", part, m);
    }

    private static String dValue(String part, int m) {
        return String.format("d-%s-m%02d", part, m);
    }

    private static String eValue(int t, int p, int m) {
        return String.format("e-t%02d-p%02d-m%d", t, p, m);
    }

    // -- helpers -----------------------------------------------------------------------------

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private void createTopic(String topic, int partitions) throws InterruptedException {
        Admin admin = ctx.admin();
        ctx.createTopic(admin, topic, partitions);
    }

    /** A transactional producer, initialized; `kv` are settings over Context's defaults. */
    private KafkaProducer<byte[], byte[]> txnProducer(String txnId, Object... kv) {
        Object[] all = new Object[kv.length + 2];
        all[0] = ProducerConfig.TRANSACTIONAL_ID_CONFIG;
        all[1] = txnId;
        System.arraycopy(kv, 0, all, 2, kv.length);
        KafkaProducer<byte[], byte[]> p = ctx.producer(all);
        p.initTransactions();
        return p;
    }

    private static Future<RecordMetadata> send(KafkaProducer<byte[], byte[]> p, String topic,
                                               int partition, String value) {
        return p.send(new ProducerRecord<>(topic, partition, null, bytes(value)));
    }

    /** Flushes and returns the values of the sends, in order, failing on the first failure. */
    private static List<String> acked(KafkaProducer<byte[], byte[]> p, List<Future<RecordMetadata>> sends,
                                      List<String> values) throws InterruptedException {
        p.flush();
        for (int k = 0; k < sends.size(); k++) {
            Check.get(sends.get(k), "send of " + values.get(k));
        }
        return values;
    }

    private void commitSentinel(KafkaProducer<byte[], byte[]> p, String topic, int partitions) {
        p.beginTransaction();
        for (int k = 0; k < partitions; k++) {
            send(p, topic, k, s("sentinel"));
        }
        p.commitTransaction();
    }

    /** Every value of each partition from the beginning up to and with the sentinel. */
    private Map<String, List<String>> readUntilSentinel(String topic, int partitions, String isolation) {
        KafkaConsumer<byte[], byte[]> c = ctx.consumer(null, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        List<TopicPartition> tps = new ArrayList<>();
        Map<String, List<String>> got = new TreeMap<>();
        for (int k = 0; k < partitions; k++) {
            tps.add(new TopicPartition(topic, k));
            got.put(String.valueOf(k), new ArrayList<>());
        }
        c.assign(tps);
        c.seekToBeginning(tps);
        Set<Integer> done = new HashSet<>();
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (done.size() < partitions) {
            if (System.currentTimeMillis() > deadline) {
                Map<String, Integer> counts = new TreeMap<>();
                got.forEach((k, v) -> counts.put(k, v.size()));
                throw new AssertionError(topic + " (" + isolation + "): no sentinel within " + WAIT_MS
                                         + " ms in some partition; read " + counts);
            }
            for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
                String v = text(r.value());
                got.get(String.valueOf(r.partition())).add(v);
                if (v.equals(s("sentinel"))) {
                    done.add(r.partition());
                }
            }
        }
        c.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        return got;
    }

    // -- a: interleaved commits and aborts ---------------------------------------------------

    private void interleaved() throws InterruptedException {
        String topic = s("a_topic");
        int n = i("a_partitions");
        createTopic(topic, n);
        KafkaProducer<byte[], byte[]> p = txnProducer(s("a_txn_id"));
        List<String> outcomes = new ArrayList<>();
        obs.put("outcomes", outcomes);
        for (int t = 0; t < i("a_txns"); t++) {
            p.beginTransaction();
            List<Future<RecordMetadata>> sends = new ArrayList<>();
            List<String> values = new ArrayList<>();
            for (int m = 0; m < i("a_msgs"); m++) {
                values.add(aValue(t, m));
                sends.add(send(p, topic, m % n, aValue(t, m)));
            }
            acked(p, sends, values);
            if (t % i("a_abort_every") == i("a_abort_every") - 1) {
                p.abortTransaction();
                outcomes.add("abort");
            } else {
                p.commitTransaction();
                outcomes.add("commit");
            }
        }
        commitSentinel(p, topic, n);
        obs.put("read_committed", readUntilSentinel(topic, n, "read_committed"));
        obs.put("read_uncommitted", readUntilSentinel(topic, n, "read_uncommitted"));
    }

    // -- b: consume-transform-produce --------------------------------------------------------

    private KafkaConsumer<byte[], byte[]> ctpConsumer() {
        KafkaConsumer<byte[], byte[]> c = ctx.consumer(s("b_group"),
                                                       ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.subscribe(List.of(s("b_in_topic")));
        return c;
    }

    /** One transaction: the transformed records of `batch` and the offsets after them. */
    private List<String> ctpTxn(KafkaProducer<byte[], byte[]> p, KafkaConsumer<byte[], byte[]> c,
                                List<ConsumerRecord<byte[], byte[]>> batch, boolean commit)
            throws InterruptedException {
        p.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> r : batch) {
            String v = text(r.value());
            values.add(v);
            sends.add(send(p, s("b_out_topic"), r.partition(), "out-" + v));
            offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        p.sendOffsetsToTransaction(offsets, c.groupMetadata());
        acked(p, sends, values);
        if (commit) {
            p.commitTransaction();
        } else {
            p.abortTransaction();
        }
        return values;
    }

    private void consumeTransformProduce() throws InterruptedException {
        int n = i("b_partitions");
        int size = i("b_txn_size");
        String in = s("b_in_topic");
        createTopic(in, n);
        createTopic(s("b_out_topic"), n);
        KafkaProducer<byte[], byte[]> plain = ctx.producer();
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (int k = 0; k < i("b_inputs"); k++) {
            values.add(bInput(k));
            sends.add(send(plain, in, k % n, bInput(k)));
        }
        acked(plain, sends, values);
        List<String> run1 = new ArrayList<>();
        List<String> aborted = new ArrayList<>();
        List<String> run2 = new ArrayList<>();
        Map<String, Long> run2First = new TreeMap<>();
        obs.put("run1_committed", run1);
        obs.put("run1_aborted", aborted);
        obs.put("run2", run2);
        obs.put("run2_first", run2First);

        // Run 1: b_run1_txns transactions of b_txn_size records committed, one more aborted.
        KafkaConsumer<byte[], byte[]> c = ctpConsumer();
        KafkaProducer<byte[], byte[]> p = txnProducer(s("b_txn_id"));
        List<ConsumerRecord<byte[], byte[]>> buffered = new ArrayList<>();
        int txns = 0;
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (txns <= i("b_run1_txns")) {
            Check.that(System.currentTimeMillis() < deadline, "run 1: no more records within %d ms", WAIT_MS);
            for (ConsumerRecord<byte[], byte[]> r : c.poll(POLL)) {
                if (txns > i("b_run1_txns")) {
                    break;
                }
                buffered.add(r);
                if (buffered.size() == size) {
                    boolean commit = txns < i("b_run1_txns");
                    (commit ? run1 : aborted).addAll(ctpTxn(p, c, buffered, commit));
                    buffered = new ArrayList<>();
                    txns++;
                }
            }
        }
        c.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        p.close(Duration.ofSeconds(5));

        // Run 2: from the committed offsets to the end of every partition.
        Map<Integer, Long> ends = new HashMap<>();
        for (int k = 0; k < i("b_inputs"); k++) {
            ends.merge(k % n, 1L, Long::sum);
        }
        c = ctpConsumer();
        p = txnProducer(s("b_txn_id"));
        deadline = System.currentTimeMillis() + WAIT_MS;
        while (true) {
            Check.that(System.currentTimeMillis() < deadline, "run 2: not at the end within %d ms", WAIT_MS);
            ConsumerRecords<byte[], byte[]> records = c.poll(POLL);
            List<ConsumerRecord<byte[], byte[]>> batch = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                run2First.putIfAbsent(String.valueOf(r.partition()), r.offset());
                batch.add(r);
            }
            if (!batch.isEmpty()) {
                run2.addAll(ctpTxn(p, c, batch, true));
            }
            boolean atEnd = !c.assignment().isEmpty();
            for (int k = 0; k < n && atEnd; k++) {
                TopicPartition tp = new TopicPartition(in, k);
                atEnd = c.assignment().contains(tp) && c.position(tp) >= ends.get(k);
            }
            if (atEnd) {
                break;
            }
        }
        commitSentinel(p, s("b_out_topic"), n);
        Set<TopicPartition> tps = new HashSet<>();
        for (int k = 0; k < n; k++) {
            tps.add(new TopicPartition(in, k));
        }
        Map<String, Long> committed = new TreeMap<>();
        c.committed(tps).forEach((tp, om) -> committed.put(String.valueOf(tp.partition()),
                                                           om == null ? -1 : om.offset()));
        obs.put("committed", committed);
        c.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        obs.put("output", readUntilSentinel(s("b_out_topic"), n, "read_committed"));
    }

    // -- c: fencing --------------------------------------------------------------------------

    private void fencing() throws InterruptedException {
        String topic = s("c_topic");
        int n = i("c_partitions");
        int msgs = i("c_msgs");
        createTopic(topic, n);
        KafkaProducer<byte[], byte[]> first = txnProducer(s("c_txn_id"));
        first.beginTransaction();
        for (int m = 0; m < msgs; m++) {
            send(first, topic, m % n, cValue("a1", m));
        }
        first.commitTransaction();
        first.beginTransaction();
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (int m = 0; m < msgs; m++) {
            values.add(cValue("a2", m));
            sends.add(send(first, topic, m % n, cValue("a2", m)));
        }
        obs.put("a2_acked", acked(first, sends, values));

        KafkaProducer<byte[], byte[]> second = txnProducer(s("c_txn_id"));
        // Producer 1's next operations: one more record, then the commit.
        try {
            Future<RecordMetadata> late = send(first, topic, 0, cValue("a2", msgs));
            first.flush();
            try {
                Check.get(late, "the fenced producer's send");
            } catch (Check.StepFailure e) {
                obs.put("fence_step", "send");
                obs.put("fence_error", ClientScenarios.oneLine(e.getCause()));
            }
            first.commitTransaction();
            obs.putIfAbsent("fence_step", "commit (which succeeded)");
            obs.putIfAbsent("fence_error", "");
        } catch (RuntimeException e) {
            obs.putIfAbsent("fence_step", "commit");
            obs.putIfAbsent("fence_error", ClientScenarios.oneLine(e));
        }
        second.beginTransaction();
        for (int m = 0; m < msgs; m++) {
            send(second, topic, m % n, cValue("b", m));
        }
        second.commitTransaction();
        commitSentinel(second, topic, n);
        obs.put("read_committed", readUntilSentinel(topic, n, "read_committed"));
        obs.put("read_uncommitted", readUntilSentinel(topic, n, "read_uncommitted"));
    }

    // -- d: a transaction left open times out ------------------------------------------------

    private void timeout() throws InterruptedException {
        String topic = s("d_topic");
        int n = i("d_partitions");
        int msgs = i("d_msgs");
        createTopic(topic, n);
        KafkaProducer<byte[], byte[]> opened = txnProducer(s("d_open_txn_id"),
                                                           ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
                                                           i("d_timeout_ms"));
        opened.beginTransaction();
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (int m = 0; m < msgs; m++) {
            values.add(dValue("open", m));
            sends.add(send(opened, topic, m % n, dValue("open", m)));
        }
        obs.put("open_acked", acked(opened, sends, values));
        long tOpen = System.nanoTime();
        KafkaProducer<byte[], byte[]> after = txnProducer(s("d_after_txn_id"));
        after.beginTransaction();
        for (int m = 0; m < msgs; m++) {
            send(after, topic, m % n, dValue("after", m));
        }
        after.commitTransaction();
        commitSentinel(after, topic, n);
        obs.put("read_committed", readUntilSentinel(topic, n, "read_committed"));
        obs.put("seconds_to_sentinel", (System.nanoTime() - tOpen) / 1e9);
        obs.put("read_uncommitted", readUntilSentinel(topic, n, "read_uncommitted"));
        try {
            opened.commitTransaction();
            obs.put("open_commit_error", null);
        } catch (RuntimeException e) {
            obs.put("open_commit_error", ClientScenarios.oneLine(e));
        }
    }

    // -- e: kill -9 in the middle of a commit ------------------------------------------------

    private void killProduce() throws InterruptedException {
        String topic = s("e_topic");
        int n = i("e_partitions");
        createTopic(topic, n);
        // The commit the kill interrupts gives up after max.block.ms.
        KafkaProducer<byte[], byte[]> p = txnProducer(s("e_txn_id"), ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000);
        List<Integer> committed = new ArrayList<>();
        List<Double> commitMs = new ArrayList<>();
        obs.put("committed", committed);
        obs.put("commit_ms", commitMs);
        for (int t = 0; t <= i("e_kill_txn"); t++) {
            p.beginTransaction();
            List<Future<RecordMetadata>> sends = new ArrayList<>();
            List<String> values = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                for (int m = 0; m < i("e_msgs"); m++) {
                    values.add(eValue(t, k, m));
                    sends.add(send(p, topic, k, eValue(t, k, m)));
                }
            }
            acked(p, sends, values);
            out.println("COMMITTING " + t);
            long t0 = System.nanoTime();
            try {
                p.commitTransaction();
            } catch (RuntimeException e) {
                obs.put("commit_error", ClientScenarios.oneLine(e));
                break;
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            commitMs.add(ms);
            committed.add(t);
            out.println("COMMITTED " + t + " " + String.format("%.2f", ms));
        }
        // Alive until the test, which kills the broker, closes stdin: a kill that comes after
        // the last commit still finds this producer connected, as a user's would be.
        try {
            while (System.in.read() != -1) {
                continue;
            }
        } catch (IOException e) {
            obs.put("stdin_error", e.toString());
        }
        p.close(Duration.ZERO);
    }

    private void killVerify() throws InterruptedException {
        String topic = s("e_topic");
        int n = i("e_partitions");
        KafkaProducer<byte[], byte[]> p = txnProducer(s("e_txn_id"), ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        commitSentinel(p, topic, n);
        obs.put("read_committed", readUntilSentinel(topic, n, "read_committed"));
    }

    /** Just enough JSON for the observations: maps, lists, strings, numbers, booleans, null. */
    static final class Json {
        private Json() {
        }

        static String write(Object v) {
            StringBuilder sb = new StringBuilder();
            write(sb, v);
            return sb.toString();
        }

        private static void write(StringBuilder sb, Object v) {
            if (v == null) {
                sb.append("null");
            } else if (v instanceof Map<?, ?> m) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (v instanceof List<?> l) {
                sb.append('[');
                for (int k = 0; k < l.size(); k++) {
                    if (k > 0) {
                        sb.append(',');
                    }
                    write(sb, l.get(k));
                }
                sb.append(']');
            } else if (v instanceof Number || v instanceof Boolean) {
                sb.append(v);
            } else {
                string(sb, v.toString());
            }
        }

        private static void string(StringBuilder sb, String s) {
            sb.append('"');
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    default -> {
                        if (ch < 0x20) {
                            sb.append(String.format("\\u%04x", (int) ch));
                        } else {
                            sb.append(ch);
                        }
                    }
                }
            }
            sb.append('"');
        }
    }
}
