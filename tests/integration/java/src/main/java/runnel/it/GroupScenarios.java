// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;

/**
 * Consumer groups with the classic protocol (group.protocol=classic): join, commit (sync and
 * async), leave, resume at the committed offset, and two members sharing a topic.
 *
 * group-commit-resume: one member reads 100 or more of the 300 records of each of 2 partitions
 * and commits synchronously (the committed offsets read back equal its positions), reads on to
 * 200 or more and commits asynchronously (the callback reports the positions, Admin reads the
 * same offsets), then leaves (the group is empty right after). A second member of the same
 * group starts exactly at the committed offsets and reads the rest: 600 records between them,
 * none twice. Last, a commit with metadata reads back with it.
 *
 * group-rebalance: member A alone gets all 4 partitions; when B joins, both get partitions,
 * disjoint and covering all; when B leaves, A gets all 4 again, sooner than B's session timeout
 * (LeaveGroup, not expiry). Each member commits after every poll and when its partitions are
 * revoked, and records are produced in every phase: every record is read exactly once across
 * the hand-overs.
 */
final class GroupScenarios {
    /** The members' session timeout in group-rebalance: longer than a hand-over may take. */
    private static final int SESSION_TIMEOUT_MS = 15_000;

    private GroupScenarios() {
    }

    static void register(Map<String, Scenario> m) {
        m.put("group-commit-resume", GroupScenarios::commitResume);
        m.put("group-rebalance", GroupScenarios::rebalance);
    }

    static String key(ConsumerRecord<?, ?> r) {
        return r.partition() + "@" + r.offset();
    }

    static Map<Integer, Long> byPartition(Map<TopicPartition, Long> m) {
        Map<Integer, Long> out = new TreeMap<>();
        m.forEach((tp, o) -> out.put(tp.partition(), o));
        return out;
    }

    static Map<Integer, Long> committedByPartition(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<Integer, Long> out = new TreeMap<>();
        m.forEach((tp, om) -> out.put(tp.partition(), om == null ? null : om.offset()));
        return out;
    }

    static Map<TopicPartition, Long> positions(KafkaConsumer<?, ?> c) {
        Map<TopicPartition, Long> out = new HashMap<>();
        for (TopicPartition tp : c.assignment()) {
            out.put(tp, c.position(tp, Duration.ofSeconds(10)));
        }
        return out;
    }

    /**
     * Polls `c` until it has read `target` records or more of every assigned partition (all
     * from its start), pausing each partition that got there so that the others catch up; a
     * record seen twice fails. Returns with every partition resumed.
     */
    private static void pollUntil(KafkaConsumer<byte[], byte[]> c, Set<String> seen, int target, String who) {
        Check.Deadline deadline = new Check.Deadline(30);
        Map<Integer, Integer> counts = new TreeMap<>();
        while (c.assignment().isEmpty() || !c.paused().containsAll(c.assignment())) {
            deadline.check("%s: records read per partition %s, %d wanted of each", who, counts, target);
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                Check.that(seen.add(key(r)), "%s: partition %d offset %d read a second time", who,
                           r.partition(), r.offset());
                counts.merge(r.partition(), 1, Integer::sum);
            }
            for (TopicPartition tp : c.assignment()) {
                if (c.position(tp, Duration.ofSeconds(10)) >= target) {
                    c.pause(List.of(tp));
                }
            }
        }
        c.resume(c.assignment());
    }

    private static void commitResume(Context ctx) throws Exception {
        String topic = ctx.name("t");
        String group = ctx.name("g");
        Admin admin = ctx.admin();
        ctx.createTopic(admin, topic, 2);
        ctx.fill(topic, 300, 0, 1);

        Set<String> seen = new HashSet<>();
        KafkaConsumer<byte[], byte[]> first = ctx.consumer(group, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 50);
        first.subscribe(List.of(topic));
        pollUntil(first, seen, 100, "first member");
        Check.equal(2, first.assignment().size(), "partitions of the only member");
        first.commitSync(Duration.ofSeconds(10));
        Map<TopicPartition, Long> syncAt = positions(first);
        Check.equal(byPartition(syncAt),
                    committedByPartition(first.committed(first.assignment(), Duration.ofSeconds(10))),
                    "committed offsets after commitSync (OffsetFetch), against the positions");

        pollUntil(first, seen, 200, "first member");
        Map<TopicPartition, Long> asyncAt = positions(first);
        // Paused, so that the polls that run the callback fetch nothing more.
        first.pause(first.assignment());
        AtomicReference<Map<TopicPartition, OffsetAndMetadata>> committed = new AtomicReference<>();
        AtomicReference<Exception> failed = new AtomicReference<>();
        first.commitAsync((offsets, e) -> {
            failed.set(e);
            committed.set(offsets);
        });
        Check.Deadline deadline = new Check.Deadline(15);
        while (committed.get() == null) {
            deadline.check("the callback of commitAsync");
            Check.equal(0, first.poll(Duration.ofMillis(50)).count(), "records polled while paused");
        }
        if (failed.get() != null) {
            throw new Check.StepFailure("commitAsync", failed.get());
        }
        Check.equal(byPartition(asyncAt), committedByPartition(committed.get()), "offsets in the commitAsync callback");
        Map<TopicPartition, OffsetAndMetadata> fromAdmin =
            Check.get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata(),
                      "listConsumerGroupOffsets");
        Check.equal(byPartition(asyncAt), committedByPartition(fromAdmin), "offsets Admin reads after commitAsync");

        long t0 = System.nanoTime();
        first.close(CloseOptions.timeout(Duration.ofSeconds(10)));
        long closeMs = (System.nanoTime() - t0) / 1_000_000;
        // close() sent LeaveGroup: the group is empty at once, not after the session timeout.
        ConsumerGroupDescription left = Check.get(admin.describeConsumerGroups(List.of(group)).all(),
                                                  "describeConsumerGroups after the first member left").get(group);
        Check.equal(GroupState.EMPTY, left.groupState(), "state of the group after its only member left");
        Check.equal(0, left.members().size(), "members after the only member left");

        KafkaConsumer<byte[], byte[]> second = ctx.consumer(group);
        second.subscribe(List.of(topic));
        Map<Integer, Long> firstOffsets = new TreeMap<>();
        Check.Deadline d2 = new Check.Deadline(30);
        while (seen.size() < 600) {
            d2.check("second member: %d of 600 records read", seen.size());
            for (ConsumerRecord<byte[], byte[]> r : second.poll(Duration.ofMillis(100))) {
                firstOffsets.putIfAbsent(r.partition(), r.offset());
                Check.that(seen.add(key(r)), "second member: partition %d offset %d was already read by the first",
                           r.partition(), r.offset());
            }
        }
        Map<Integer, Long> expectStart = new TreeMap<>();
        asyncAt.forEach((tp, o) -> {
            if (o < 300) {
                expectStart.put(tp.partition(), o);
            }
        });
        Check.equal(expectStart, firstOffsets,
                    "first offset the second member read per partition (the committed ones)");

        Map<TopicPartition, OffsetAndMetadata> withMeta = new HashMap<>();
        for (TopicPartition tp : second.assignment()) {
            withMeta.put(tp, new OffsetAndMetadata(300, "resume-check-" + tp.partition()));
        }
        second.commitSync(withMeta, Duration.ofSeconds(10));
        Map<TopicPartition, OffsetAndMetadata> back = second.committed(second.assignment(), Duration.ofSeconds(10));
        for (TopicPartition tp : second.assignment()) {
            Check.equal(withMeta.get(tp), back.get(tp), "committed offset and metadata of partition %d",
                        tp.partition());
        }
        ctx.note("first member committed %s sync and %s async, left in %d ms; second resumed at %s",
                 byPartition(syncAt), byPartition(asyncAt), closeMs, firstOffsets);
    }

    /** One member of group-rebalance, polling in a thread of its own. */
    private static final class Member implements Runnable {
        final String name;
        final KafkaConsumer<byte[], byte[]> consumer;
        final String topic;
        final Map<String, Integer> reads;
        volatile boolean stop;
        volatile boolean closed;
        volatile Set<Integer> assignment = Set.of();
        volatile Throwable error;
        final AtomicInteger failedCommits = new AtomicInteger();
        final List<String> events = new ArrayList<>();
        final long t0 = System.nanoTime();

        Member(String name, KafkaConsumer<byte[], byte[]> consumer, String topic, Map<String, Integer> reads) {
            this.name = name;
            this.consumer = consumer;
            this.topic = topic;
            this.reads = reads;
        }

        private void commit() {
            try {
                consumer.commitSync(Duration.ofSeconds(10));
            } catch (RebalanceInProgressException | CommitFailedException e) {
                failedCommits.incrementAndGet();
                synchronized (events) {
                    events.add(name + " commit failed: " + e);
                }
            }
        }

        private static Set<Integer> numbers(Collection<TopicPartition> tps) {
            Set<Integer> out = new TreeSet<>();
            tps.forEach(tp -> out.add(tp.partition()));
            return out;
        }

        @Override
        public void run() {
            try {
                consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                        if (!parts.isEmpty()) {
                            commit();
                        }
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                        synchronized (events) {
                            events.add(String.format("%s +%s at %.1f s", name, numbers(parts),
                                                     (System.nanoTime() - t0) / 1e9));
                        }
                    }
                });
                while (!stop) {
                    int n = 0;
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                        reads.merge(key(r), 1, Integer::sum);
                        n++;
                    }
                    if (n > 0) {
                        commit();
                    }
                    assignment = numbers(consumer.assignment());
                }
            } catch (Throwable e) {
                error = e;
            } finally {
                try {
                    consumer.close(CloseOptions.timeout(Duration.ofSeconds(10)));
                } catch (Throwable e) {
                    if (error == null) {
                        error = e;
                    }
                }
                closed = true;
            }
        }

        void checkAlive() {
            if (error != null) {
                throw new Check.StepFailure("member " + name, error);
            }
        }
    }

    private static void rebalance(Context ctx) throws Exception {
        String topic = ctx.name("t");
        String group = ctx.name("g");
        Admin admin = ctx.admin();
        ctx.createTopic(admin, topic, 4);
        Map<String, Integer> reads = new ConcurrentHashMap<>();
        int produced = 0;
        ctx.fill(topic, 50, 0, 1, 2, 3);
        produced += 200;

        Member a = new Member("A", ctx.consumer(group, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20,
                                                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, SESSION_TIMEOUT_MS),
                              topic, reads);
        Member b = new Member("B", ctx.consumer(group, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20,
                                                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, SESSION_TIMEOUT_MS),
                              topic, reads);
        Thread ta = new Thread(a, "member-A");
        Thread tb = new Thread(b, "member-B");
        ta.setDaemon(true);
        tb.setDaemon(true);
        Set<Integer> all = Set.of(0, 1, 2, 3);
        try {
            ta.start();
            Check.eventually(30, "A alone holds all 4 partitions (has " + a.assignment + ")", () -> {
                a.checkAlive();
                return a.assignment.equals(all);
            });
            waitRead(reads, produced, a, b);

            long t1 = System.nanoTime();
            tb.start();
            Check.eventually(30, "A and B both hold partitions", () -> {
                a.checkAlive();
                b.checkAlive();
                Set<Integer> union = new TreeSet<>(a.assignment);
                union.addAll(b.assignment);
                return !a.assignment.isEmpty() && !b.assignment.isEmpty() && union.equals(all)
                       && a.assignment.size() + b.assignment.size() == 4;
            });
            long joinMs = (System.nanoTime() - t1) / 1_000_000;
            Set<Integer> splitA = a.assignment;
            Set<Integer> splitB = b.assignment;
            ctx.fill(topic, 50, 0, 1, 2, 3);
            produced += 200;
            waitRead(reads, produced, a, b);

            long t2 = System.nanoTime();
            b.stop = true;
            Check.eventually(30, "B closed", () -> b.closed);
            b.checkAlive();
            Check.eventually(30, "A holds all 4 partitions again after B left", () -> {
                a.checkAlive();
                return a.assignment.equals(all);
            });
            long leaveMs = (System.nanoTime() - t2) / 1_000_000;
            // B's close() sent LeaveGroup; without it, A would wait for B's session to expire.
            Check.that(leaveMs < SESSION_TIMEOUT_MS, "A got all partitions %d ms after B left: no sooner than "
                       + "B's session timeout (%d ms), as if LeaveGroup had no effect", leaveMs, SESSION_TIMEOUT_MS);
            ctx.fill(topic, 50, 0, 1, 2, 3);
            produced += 200;
            waitRead(reads, produced, a, b);

            Map<String, Integer> twice = new TreeMap<>();
            reads.forEach((k, n) -> {
                if (n > 1) {
                    twice.put(k, n);
                }
            });
            Check.that(twice.isEmpty(), "records read more than once across the hand-overs: %s; events: %s %s",
                       twice, a.events, b.events);
            ctx.note("A+B split %s/%s %d ms after B started; A had all %d ms after B left; %d records once each; "
                     + "failed commits %d/%d", splitA, splitB, joinMs, leaveMs, produced, a.failedCommits.get(),
                     b.failedCommits.get());
        } finally {
            a.stop = true;
            b.stop = true;
            ta.join(15_000);
            tb.join(15_000);
        }
    }

    private static void waitRead(Map<String, Integer> reads, int produced, Member a, Member b)
            throws InterruptedException {
        Check.eventually(30, "members read " + produced + " records (have " + reads.size() + ")", () -> {
            a.checkAlive();
            b.checkAlive();
            return reads.size() >= produced;
        });
    }
}
