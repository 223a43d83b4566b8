// SPDX-License-Identifier: Apache-2.0
package runnel.cdc;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The analytics part of the change-data-capture example (issue 13): order totals per customer,
 * kept by Kafka Streams with exactly_once_v2 from the change topics Debezium writes.
 *
 * <pre>
 *   java -cp CLASSPATH runnel.cdc.OrderTotals BOOTSTRAP APPLICATION_ID STATE_DIR [OUTPUT_TOPIC]
 *        [KEY=VALUE ...]
 * </pre>
 *
 * Input: {@code shop.public.customers} and {@code shop.public.orders}, as Debezium's PostgreSQL
 * connector writes them through Connect's JsonConverter with schemas.enable=false: key
 * {@code {"id":N}}, value an envelope {@code {"before":..,"after":..,"op":"r|c|u|d",..}}; a
 * deleted row is an {@code op:"d"} event (after null) followed by a tombstone. Output: the
 * compacted topic OUTPUT_TOPIC ({@code shop.customer-totals} by default), key {@code {"id":N}},
 * value {@code {"customer_id":N,"name":"..","orders":n,"quantity":q}}, or a tombstone when the
 * customer or its last order goes. Its last value per key is, for every customer, the row of
 *
 * <pre>
 *   SELECT c.id, c.name, count(o.id), sum(o.quantity)
 *   FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name
 * </pre>
 *
 * and a customer that query does not return has no value (a tombstone, or nothing at all).
 * The output topic is created here (1 partition, compacted) when missing: Streams creates only
 * its internal topics, never the ones it writes results to.
 *
 * <p>KEY=VALUE arguments are added to (or replace) the Streams configuration below. On stdout:
 * {@code STATE NEW_STATE} on each state change (the wrapper waits for {@code STATE RUNNING});
 * {@code THREAD_REPLACED ...} when a stream thread died of an exception and was replaced (a broker
 * that went away, say); {@code FATAL ...} when the application cannot go on (a change event it
 * cannot read): it then shuts the client down and exits 3. SIGTERM closes Streams (committing what
 * it has processed), prints {@code CLOSED clean} and exits 0 (4 when close() timed out). Streams'
 * own log goes to stderr at the level of RUNNEL_STREAMS_LOG (info by default).
 */
public final class OrderTotals {

    static final String CUSTOMERS_TOPIC = "shop.public.customers";
    static final String ORDERS_TOPIC = "shop.public.orders";
    static final String DEFAULT_OUTPUT = "shop.customer-totals";

    static final ObjectMapper JSON = new ObjectMapper();

    private OrderTotals() {
    }

    /** The part of an order row the totals need. */
    record Order(long customerId, long quantity) {
    }

    /** A customer's orders: how many, and their quantities summed. */
    record Totals(long orders, long quantity) {
        Totals plus(Order o) {
            return new Totals(orders + 1, quantity + o.quantity());
        }

        Totals minus(Order o) {
            return new Totals(orders - 1, quantity - o.quantity());
        }
    }

    /** What the join gives for one customer: its name and its totals. */
    record CustomerTotals(String name, Totals totals) {
    }

    /**
     * A change event that is not what Debezium writes. Replacing the thread would read the same
     * record again and fail the same way, so the handler stops the application instead.
     */
    static final class BadChangeEvent extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BadChangeEvent(String what, Throwable cause) {
            super(what, cause);
        }
    }

    // -- serdes ---------------------------------------------------------------------------------

    static JsonNode parse(byte[] bytes, String what) {
        try {
            return JSON.readTree(bytes);
        } catch (IOException e) {
            throw new BadChangeEvent(what + " is not JSON: "
                + new String(bytes, StandardCharsets.UTF_8), e);
        }
    }

    static byte[] write(JsonNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    /**
     * A serde of JSON values through JsonNode, null for null both ways: Streams passes null for
     * a deleted row, and a null serialized is a tombstone.
     */
    static <T> Serde<T> jsonSerde(Function<T, JsonNode> to, Function<JsonNode, T> from) {
        return Serdes.serdeFrom(
            (topic, value) -> value == null ? null : write(to.apply(value)),
            (topic, bytes) -> bytes == null ? null : from.apply(parse(bytes, "a value of " + topic)));
    }

    /**
     * Row ids as Debezium's keys spell them, {@code {"id":N}}, both ways: the input keys read as
     * the ids that the stores and the repartition topic hold, and the output keys written as the
     * input's, so that one key means one customer in every topic of the example.
     */
    static final Serde<Long> ID_KEY = jsonSerde(
        id -> JSON.createObjectNode().put("id", id),
        node -> {
            JsonNode id = node.get("id");
            if (id == null || !id.canConvertToLong()) {
                throw new BadChangeEvent("a key without a numeric id: " + node, null);
            }
            return id.asLong();
        });

    static final Serde<Order> ORDER = jsonSerde(
        o -> JSON.createObjectNode().put("customer_id", o.customerId())
            .put("quantity", o.quantity()),
        node -> new Order(node.get("customer_id").asLong(), node.get("quantity").asLong()));

    static final Serde<Totals> TOTALS = jsonSerde(
        t -> JSON.createObjectNode().put("orders", t.orders()).put("quantity", t.quantity()),
        node -> new Totals(node.get("orders").asLong(), node.get("quantity").asLong()));

    // -- Debezium's envelope ------------------------------------------------------------------

    /**
     * The row after a change event, or null when the row is gone: a tombstone (null value), an
     * {@code op:"d"} event, or any event whose {@code after} is null. Every other op ("r" for a
     * snapshot read, "c", "u") carries the whole new row in {@code after}.
     */
    static JsonNode rowAfter(String envelope, String topic) {
        if (envelope == null) {
            return null;
        }
        JsonNode event = parse(envelope.getBytes(StandardCharsets.UTF_8), "an event of " + topic);
        JsonNode op = event.get("op");
        if (op == null || !op.isTextual()) {
            throw new BadChangeEvent("an event of " + topic + " without op: " + envelope, null);
        }
        JsonNode after = event.get("after");
        if (op.asText().equals("d") || after == null || after.isNull()) {
            return null;
        }
        return after;
    }

    static long field(JsonNode row, String name, String topic) {
        JsonNode v = row.get(name);
        if (v == null || !v.canConvertToLong()) {
            throw new BadChangeEvent("a row of " + topic + " without a numeric " + name + ": "
                + row, null);
        }
        return v.asLong();
    }

    // -- the topology -------------------------------------------------------------------------

    static Topology topology(String output) {
        StreamsBuilder builder = new StreamsBuilder();

        // customer id -> name. stream().mapValues().toTable() rather than table(): the store then
        // holds the name only, not Debezium's envelope, and a null from mapValues (op d, or the
        // tombstone after it) deletes the row, as toTable() treats null values as tombstones.
        // No key change, so no repartition topic.
        KTable<Long, String> customers = builder
            .stream(CUSTOMERS_TOPIC, Consumed.with(ID_KEY, Serdes.String()))
            .mapValues(envelope -> {
                JsonNode row = rowAfter(envelope, CUSTOMERS_TOPIC);
                if (row == null) {
                    return null;
                }
                JsonNode name = row.get("name");
                return name == null || name.isNull() ? "" : name.asText();
            })
            .toTable(Materialized.<Long, String, KeyValueStore<Bytes, byte[]>>as("customers")
                .withKeySerde(ID_KEY).withValueSerde(Serdes.String())
                // No record cache on either side of the join (see the join below).
                .withCachingDisabled());

        // order id -> {customer_id, quantity}, the same way.
        KTable<Long, Order> orders = builder
            .stream(ORDERS_TOPIC, Consumed.with(ID_KEY, Serdes.String()))
            .mapValues(envelope -> {
                JsonNode row = rowAfter(envelope, ORDERS_TOPIC);
                return row == null ? null : new Order(field(row, "customer_id", ORDERS_TOPIC),
                                                      field(row, "quantity", ORDERS_TOPIC));
            })
            .toTable(Materialized.<Long, Order, KeyValueStore<Bytes, byte[]>>as("orders")
                .withKeySerde(ID_KEY).withValueSerde(ORDER));

        // Re-keyed by customer, through a repartition topic. A KTable groupBy sends the old value
        // to the subtractor and the new one to the adder, so an order whose quantity changes, or
        // that moves to another customer, is taken out of the old totals before it goes into the
        // new ones; a deleted order is only taken out.
        KTable<Long, Totals> totals = orders
            .groupBy((orderId, order) -> KeyValue.pair(order.customerId(), order),
                     Grouped.with("orders-by-customer", ID_KEY, ORDER))
            .aggregate(() -> new Totals(0, 0),
                       (customerId, order, t) -> t.plus(order),
                       (customerId, order, t) -> t.minus(order),
                       Materialized.<Long, Totals, KeyValueStore<Bytes, byte[]>>as("totals")
                           .withKeySerde(ID_KEY).withValueSerde(TOTALS)
                           .withCachingDisabled())
            // The aggregate keeps {0, 0} for a customer whose last order went; SQL's inner join
            // has no row for it. filter() turns it into a delete, which the join passes on as a
            // tombstone.
            .filter((customerId, t) -> t.orders() > 0);

        // An inner KTable-KTable join: a result only while both the totals and the customer
        // exist, and a tombstone when either goes, as SQL's JOIN. The join's key is the
        // customer id, which the output value also carries.
        //
        // Both sides are uncached, so that each change reaches the join when it is processed.
        // With record caches, a change waits in its store's cache until the commit, while the
        // join's lookups of the other side already read that cache. A customer deleted after
        // its last order, both within one commit interval (the order deletes come through the
        // repartition topic, the customer's directly), then loses its tombstone: the totals'
        // flush finds the customer already gone and forwards nothing, and the customer's flush
        // finds the totals already filtered out and forwards nothing either, so the output keeps
        // the customer's last totals for ever. (Seen with Kafka 4.4 as the broker too.)
        totals.join(customers, (t, name) -> new CustomerTotals(name, t))
            .toStream()
            .mapValues((customerId, ct) -> ct == null ? null : render(customerId, ct))
            .to(output, Produced.with(ID_KEY, Serdes.String()));
        return builder.build();
    }

    /** The output value: {"customer_id":N,"name":"..","orders":n,"quantity":q}. */
    static String render(long customerId, CustomerTotals ct) {
        ObjectNode node = JSON.createObjectNode();
        node.put("customer_id", customerId);
        node.put("name", ct.name());
        node.put("orders", ct.totals().orders());
        node.put("quantity", ct.totals().quantity());
        return new String(write(node), StandardCharsets.UTF_8);
    }

    // -- running it ---------------------------------------------------------------------------

    static Properties config(String bootstrap, String applicationId, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        // Each input record's effect on the stores, the changelogs, the repartition topic, the
        // output and the committed input offsets goes in one transaction: after any crash the
        // totals are those of a prefix of the changes, never a change counted twice or lost.
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Internal topics take the broker's default replication factor: Runnel is one node.
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "-1");
        // A transaction per 100 ms: read_committed readers of the output see a change soon.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        // Short timeouts for a machine where the broker is local: a dead member is noticed in
        // 6 s (the smallest session Kafka's default group.min.session.timeout.ms allows), and
        // a broker that went away is retried every 100 to 1,000 ms, not every 50 ms to 1 s's
        // default backoff ramp, so the app is back soon after the broker.
        p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), "6000");
        p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), "1000");
        p.put(StreamsConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        p.put(StreamsConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        p.put(StreamsConfig.RETRY_BACKOFF_MS_CONFIG, "100");
        return p;
    }

    /**
     * Creates the output topic, 1 partition and compacted, unless it exists. Streams never
     * creates the topics it writes results to. Retried for up to a minute, so that the app may
     * start before the broker is up.
     */
    static void createOutputTopic(String bootstrap, String topic, PrintStream out)
            throws InterruptedException {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Admin admin = Admin.create(p)) {
            // Replication factor empty: the broker's default, as for Streams' internal topics.
            NewTopic t = new NewTopic(topic, Optional.of(1), Optional.empty())
                .configs(Map.of("cleanup.policy", "compact"));
            while (true) {
                try {
                    admin.createTopics(List.of(t)).all().get();
                    out.println("OUTPUT_TOPIC created " + topic);
                    return;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) {
                        out.println("OUTPUT_TOPIC exists " + topic);
                        return;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("cannot create " + topic, e.getCause());
                    }
                    System.err.println("OrderTotals: creating " + topic + ": " + e.getCause()
                        + "; retrying");
                    Thread.sleep(500);
                }
            }
        }
    }

    /** Whether a BadChangeEvent is anywhere in the chain of causes. */
    static boolean isBadInput(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BadChangeEvent) {
                return true;
            }
        }
        return false;
    }

    /** The exception and its causes on one line, for stdout. */
    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (sb.length() > 0) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getName()).append(": ")
                .append(String.valueOf(t.getMessage()).replace('\n', ' '));
        }
        return sb.toString();
    }

    public static void main(String[] args) throws InterruptedException {
        String level = System.getenv().getOrDefault("RUNNEL_STREAMS_LOG", "info");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length < 3) {
            System.err.println("usage: OrderTotals BOOTSTRAP APPLICATION_ID STATE_DIR "
                + "[OUTPUT_TOPIC] [KEY=VALUE ...]");
            System.exit(2);
        }
        int next = 3;
        String output = DEFAULT_OUTPUT;
        if (args.length > 3 && args[3].indexOf('=') < 0) {
            output = args[3];
            next = 4;
        }
        Properties props = config(args[0], args[1], args[2]);
        for (int i = next; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("OrderTotals: " + args[i] + " is not KEY=VALUE");
                System.exit(2);
            }
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }

        createOutputTopic(args[0], output, out);
        KafkaStreams streams = new KafkaStreams(topology(output), props);
        CountDownLatch done = new CountDownLatch(1);
        int[] status = {0};
        streams.setStateListener((now, before) -> {
            out.println("STATE " + now);
            if (now == KafkaStreams.State.ERROR) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            if (isBadInput(e)) {
                // The same record would fail a new thread the same way: stop, and say why.
                out.println("FATAL " + describe(e));
                status[0] = 3;
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            }
            // Anything else (a broker gone for longer than a timeout, a transaction the
            // coordinator aborted) is worth another try: a new thread starts from the last
            // committed offsets and the stores as the changelogs have them, which exactly-once
            // keeps consistent. A long-running service should not need a person for that.
            out.println("THREAD_REPLACED " + describe(e));
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            boolean clean = streams.close(Duration.ofSeconds(30));
            out.println("CLOSED " + (clean ? "clean" : "timeout"));
            // halt: the status says how close() went, not which signal ended the JVM.
            Runtime.getRuntime().halt(status[0] != 0 ? status[0] : clean ? 0 : 4);
        }, "ordertotals-shutdown"));
        streams.start();
        // Only ERROR ends main(): SIGTERM ends the JVM through the shutdown hook above.
        done.await();
        out.println("EXIT " + status[0]);
        Runtime.getRuntime().exit(status[0] == 0 ? 1 : status[0]);
    }
}
