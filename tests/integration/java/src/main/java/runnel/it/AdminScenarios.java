// SPDX-License-Identifier: Apache-2.0
package runnel.it;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreatePartitionsOptions;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The Admin client, one scenario per family of calls. Each checks what a user of the call
 * relies on: results, the exception (error code) of a refused request, and that the change is
 * visible to the next call. The broker runs with auto.create.topics.enable=false, one node.
 *
 * admin-topics            createTopics (configs, validateOnly, errors), describeTopics (by name
 *                         and by id), listTopics, deleteTopics
 * admin-configs           describeConfigs of a topic and of the broker, incrementalAlterConfigs
 *                         (SET, DELETE, APPEND, SUBTRACT, validateOnly, errors)
 * admin-create-partitions createPartitions, then produce to and read from a new partition
 * admin-list-offsets      listOffsets: earliest, latest, forTimestamp, maxTimestamp; the
 *                         consumer's offsetsForTimes, beginningOffsets and endOffsets
 * admin-describe-cluster  describeCluster: cluster id, the one node, the controller
 * admin-groups            listConsumerGroups, listGroups, describeConsumerGroups,
 *                         listConsumerGroupOffsets, deleteConsumerGroups
 * delete-records-consume  deleteRecords, then consumers start at the new log start offset
 */
final class AdminScenarios {
    private AdminScenarios() {
    }

    static void register(Map<String, Scenario> m) {
        m.put("admin-topics", AdminScenarios::topics);
        m.put("admin-configs", AdminScenarios::configs);
        m.put("admin-create-partitions", AdminScenarios::createPartitions);
        m.put("admin-list-offsets", AdminScenarios::listOffsets);
        m.put("admin-describe-cluster", AdminScenarios::describeCluster);
        m.put("admin-groups", AdminScenarios::groups);
        m.put("delete-records-consume", AdminScenarios::deleteRecordsConsume);
    }

    static Node onlyNode(Admin admin) throws InterruptedException {
        Collection<Node> nodes = Check.get(admin.describeCluster().nodes(), "describeCluster nodes");
        Check.equal(1, nodes.size(), "number of nodes");
        return nodes.iterator().next();
    }

    private static Set<String> topicNames(Admin admin, boolean internal) throws InterruptedException {
        return new TreeSet<>(Check.get(admin.listTopics(new ListTopicsOptions().listInternal(internal)).names(),
                                       "listTopics"));
    }

    // -- topics ---------------------------------------------------------------------------

    private static void topics(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        Node node = onlyNode(admin);
        String t1 = ctx.name("configured");
        String t2 = ctx.name("defaults");
        Map<String, String> configs = Map.of("cleanup.policy", "compact", "retention.ms", "3600000",
                                             "max.message.bytes", "2000000");
        CreateTopicsResult created = admin.createTopics(List.of(
            new NewTopic(t1, 3, (short) 1).configs(configs),
            new NewTopic(t2, Optional.empty(), Optional.empty())));
        Check.get(created.all(), "createTopics " + t1 + " (3 partitions, configs) and " + t2 + " (broker defaults)");
        Check.equal(3, Check.get(created.numPartitions(t1), "createTopics numPartitions"), "partitions of %s", t1);
        Check.equal(1, Check.get(created.replicationFactor(t1), "createTopics replicationFactor"),
                    "replication factor of %s", t1);
        Check.equal(1, Check.get(created.numPartitions(t2), "createTopics numPartitions"),
                    "partitions of %s (num.partitions of the broker)", t2);
        Uuid id1 = Check.get(created.topicId(t1), "createTopics topicId");
        Check.that(id1 != null && !id1.equals(Uuid.ZERO_UUID), "topic id of %s: %s", t1, id1);
        Config returned = Check.get(created.config(t1), "createTopics config");
        for (Map.Entry<String, String> e : configs.entrySet()) {
            ConfigEntry entry = returned.get(e.getKey());
            Check.that(entry != null, "createTopics returned no %s for %s", e.getKey(), t1);
            Check.equal(e.getValue(), entry.value(), "%s of %s in the createTopics answer", e.getKey(), t1);
        }

        Check.fails(TopicExistsException.class, admin.createTopics(List.of(new NewTopic(t1, 3, (short) 1))).all(),
                    "createTopics of an existing topic");
        Check.fails(InvalidReplicationFactorException.class,
                    admin.createTopics(List.of(new NewTopic(ctx.name("rf3"), 1, (short) 3))).all(),
                    "createTopics with replication factor 3 on one node");
        Check.fails(InvalidTopicException.class,
                    admin.createTopics(List.of(new NewTopic("jc bad/name", 1, (short) 1))).all(),
                    "createTopics of an invalid name");
        Check.fails(InvalidConfigurationException.class,
                    admin.createTopics(List.of(new NewTopic(ctx.name("badcfg"), 1, (short) 1)
                                                   .configs(Map.of("retention.ms", "soon")))).all(),
                    "createTopics with retention.ms=soon");
        String t3 = ctx.name("validate-only");
        Check.get(admin.createTopics(List.of(new NewTopic(t3, 2, (short) 1)),
                                     new CreateTopicsOptions().validateOnly(true)).all(),
                  "createTopics validateOnly");

        Map<String, TopicDescription> described =
            Check.get(admin.describeTopics(List.of(t1, t2)).allTopicNames(), "describeTopics by name");
        TopicDescription d1 = described.get(t1);
        Check.equal(t1, d1.name(), "describeTopics name");
        Check.equal(id1, d1.topicId(), "describeTopics topic id against createTopics");
        Check.equal(false, d1.isInternal(), "describeTopics isInternal");
        Check.equal(3, d1.partitions().size(), "describeTopics partitions of %s", t1);
        for (int p = 0; p < 3; p++) {
            TopicPartitionInfo info = d1.partitions().get(p);
            Check.equal(p, info.partition(), "describeTopics partition order");
            Check.equal(node, info.leader(), "leader of %s-%d", t1, p);
            Check.equal(List.of(node), info.replicas(), "replicas of %s-%d", t1, p);
            Check.equal(List.of(node), info.isr(), "isr of %s-%d", t1, p);
        }
        Check.equal(1, described.get(t2).partitions().size(), "describeTopics partitions of %s", t2);
        Map<Uuid, TopicDescription> byId =
            Check.get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(id1))).allTopicIds(),
                      "describeTopics by topic id");
        Check.equal(t1, byId.get(id1).name(), "describeTopics by id: name");
        Check.fails(UnknownTopicOrPartitionException.class,
                    admin.describeTopics(List.of(ctx.name("missing"))).allTopicNames(),
                    "describeTopics of a missing topic");

        Set<String> names = topicNames(admin, false);
        Check.that(names.contains(t1) && names.contains(t2), "listTopics %s lacks %s or %s", names, t1, t2);
        Check.that(!names.contains(t3), "listTopics shows %s, created with validateOnly", t3);
        Check.that(names.stream().noneMatch(n -> n.startsWith("__")), "listTopics without internal topics: %s", names);

        Check.get(admin.deleteTopics(List.of(t2)).all(), "deleteTopics " + t2);
        Check.eventually(10, "listTopics without the deleted " + t2, () -> {
            try {
                return !topicNames(admin, false).contains(t2);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Check.fails(UnknownTopicOrPartitionException.class, admin.deleteTopics(List.of(t2)).all(),
                    "deleteTopics of a deleted topic");
        ctx.note("created, described (by name and id), listed and deleted; refusals: exists, rf 3, bad name, "
                 + "bad config");
    }

    // -- configs --------------------------------------------------------------------------

    private static Config describe(Admin admin, ConfigResource res, String what) throws InterruptedException {
        return Check.get(admin.describeConfigs(List.of(res)).all(), "describeConfigs " + what).get(res);
    }

    private static ConfigEntry entry(Config config, String name, String what) {
        ConfigEntry e = config.get(name);
        Check.that(e != null, "describeConfigs %s has no %s", what, name);
        return e;
    }

    private static void configs(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        Node node = onlyNode(admin);
        String topic = ctx.name("t");
        ctx.createTopics(admin, 1, Map.of("retention.ms", "86400000", "cleanup.policy", "delete"), topic);
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);

        Config config = Check.get(admin.describeConfigs(List.of(res), new DescribeConfigsOptions()
                                                            .includeDocumentation(true).includeSynonyms(true)).all(),
                                  "describeConfigs topic (with documentation and synonyms)").get(res);
        ConfigEntry retention = entry(config, "retention.ms", "topic");
        Check.equal("86400000", retention.value(), "retention.ms of the topic");
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, retention.source(), "source of retention.ms");
        Check.equal(false, retention.isDefault(), "isDefault of retention.ms");
        Check.that(retention.documentation() != null && !retention.documentation().isEmpty(),
                   "retention.ms has no documentation though asked for");
        Check.that(!retention.synonyms().isEmpty(), "retention.ms has no synonyms though asked for");
        ConfigEntry compression = entry(config, "compression.type", "topic");
        Check.equal("producer", compression.value(), "compression.type of the topic");
        Check.equal(ConfigEntry.ConfigSource.DEFAULT_CONFIG, compression.source(), "source of compression.type");
        ConfigEntry maxBytes = entry(config, "max.message.bytes", "topic");
        Check.equal("1048588", maxBytes.value(), "max.message.bytes of the topic (default)");
        entry(config, "segment.bytes", "topic");
        entry(config, "cleanup.policy", "topic");

        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(node.id()));
        Config bc = describe(admin, broker, "broker " + node.id());
        Check.equal("1048588", entry(bc, "message.max.bytes", "broker").value(), "message.max.bytes of the broker");
        Check.equal("168", entry(bc, "log.retention.hours", "broker").value(), "log.retention.hours of the broker");
        ConfigEntry autoCreate = entry(bc, "auto.create.topics.enable", "broker");
        Check.equal("false", autoCreate.value(), "auto.create.topics.enable of the broker (set at start)");
        Check.equal(ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, autoCreate.source(),
                    "source of auto.create.topics.enable (set at start)");

        // SET, APPEND to a list; then SUBTRACT and DELETE.
        Check.get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", "500000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all(),
                  "incrementalAlterConfigs SET retention.ms, SET max.message.bytes, APPEND cleanup.policy");
        config = describe(admin, res, "topic after SET/APPEND");
        Check.equal("7200000", entry(config, "retention.ms", "topic").value(), "retention.ms after SET");
        Check.equal("500000", entry(config, "max.message.bytes", "topic").value(), "max.message.bytes after SET");
        Check.equal(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                    entry(config, "max.message.bytes", "topic").source(), "source of max.message.bytes after SET");
        Check.equal("delete,compact", entry(config, "cleanup.policy", "topic").value(), "cleanup.policy after APPEND");

        Check.get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.SUBTRACT),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE)))).all(),
                  "incrementalAlterConfigs SUBTRACT cleanup.policy, DELETE max.message.bytes");
        config = describe(admin, res, "topic after SUBTRACT/DELETE");
        Check.equal("compact", entry(config, "cleanup.policy", "topic").value(), "cleanup.policy after SUBTRACT");
        ConfigEntry deleted = entry(config, "max.message.bytes", "topic");
        Check.equal("1048588", deleted.value(), "max.message.bytes after DELETE");
        Check.equal(ConfigEntry.ConfigSource.DEFAULT_CONFIG, deleted.source(),
                    "source of max.message.bytes after DELETE");
        Check.equal("7200000", entry(config, "retention.ms", "topic").value(), "retention.ms, untouched");

        Check.get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET))),
                                                new AlterConfigsOptions().validateOnly(true)).all(),
                  "incrementalAlterConfigs validateOnly");
        Check.equal("7200000", entry(describe(admin, res, "topic after validateOnly"), "retention.ms", "topic").value(),
                    "retention.ms after a validateOnly SET");

        Check.fails(InvalidConfigurationException.class, admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET)))).all(),
                    "incrementalAlterConfigs SET retention.ms=soon");
        Check.fails(InvalidConfigurationException.class, admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all(),
                    "incrementalAlterConfigs SET of an unknown key");
        ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, ctx.name("missing"));
        Check.fails(UnknownTopicOrPartitionException.class, admin.incrementalAlterConfigs(Map.of(missing, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET)))).all(),
                    "incrementalAlterConfigs of a missing topic");
        Check.fails(UnknownTopicOrPartitionException.class, admin.describeConfigs(List.of(missing)).all(),
                    "describeConfigs of a missing topic");
        ctx.note("topic: %d entries; broker: %d entries; SET/APPEND/SUBTRACT/DELETE/validateOnly applied",
                 config.entries().size(), bc.entries().size());
    }

    // -- partitions -----------------------------------------------------------------------

    private static void createPartitions(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        Node node = onlyNode(admin);
        String topic = ctx.name("t");
        ctx.createTopic(admin, topic, 2);
        Check.get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all(),
                  "createPartitions 2 -> 5");
        Context.awaitPartitions(admin, topic, 5);
        Check.eventually(10, "describeTopics shows 5 partitions", () -> {
            try {
                return Check.get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics")
                           .get(topic).partitions().size() == 5;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        for (TopicPartitionInfo info : Check.get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics")
                                            .get(topic).partitions()) {
            Check.equal(node, info.leader(), "leader of new partition %d", info.partition());
        }
        Check.get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(8)),
                                         new CreatePartitionsOptions().validateOnly(true)).all(),
                  "createPartitions validateOnly 5 -> 8");
        Check.equal(5, Check.get(admin.describeTopics(List.of(topic)).allTopicNames(), "describeTopics")
                            .get(topic).partitions().size(), "partitions after a validateOnly increase");
        Check.fails(InvalidPartitionsException.class,
                    admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all(),
                    "createPartitions 5 -> 3");
        Check.fails(InvalidPartitionsException.class,
                    admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all(),
                    "createPartitions 5 -> 5");
        Check.fails(UnknownTopicOrPartitionException.class,
                    admin.createPartitions(Map.of(ctx.name("missing"), NewPartitions.increaseTo(5))).all(),
                    "createPartitions of a missing topic");

        Map<Integer, Long> ends = ctx.fill(topic, 10, 0, 4);
        Check.equal(Map.of(0, 10L, 4, 10L), ends, "end offsets after producing to partitions 0 and 4");
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(null);
        TopicPartition p4 = new TopicPartition(topic, 4);
        consumer.assign(List.of(p4));
        consumer.seekToBeginning(List.of(p4));
        List<String> values = new ArrayList<>();
        Check.Deadline deadline = new Check.Deadline(20);
        while (values.size() < 10) {
            deadline.check("reading new partition 4: %d of 10", values.size());
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                values.add(new String(r.value(), StandardCharsets.UTF_8));
            }
        }
        Check.equal("v-4-0", values.get(0), "first record of new partition 4");
        ctx.note("2 -> 5 partitions; new partition 4 written and read back");
    }

    // -- list offsets ---------------------------------------------------------------------

    private static ListOffsetsResultInfo listOne(Admin admin, TopicPartition tp, OffsetSpec spec, String what)
            throws InterruptedException {
        return Check.get(admin.listOffsets(Map.of(tp, spec)).partitionResult(tp), "listOffsets " + what);
    }

    /**
     * What ListOffsets by timestamp answers (KIP-79): the first offset whose timestamp is at or
     * after `target`, or -1 when there is none.
     */
    private static long firstAtOrAfter(long[] ts, long target) {
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] >= target) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Writes 25 records with timestamps `ts` to `tp`: offsets 0-9 one batch each, 10-19 in one
     * batch, 20-24 one batch each.
     */
    private static void writeTimed(KafkaProducer<byte[], byte[]> producer, TopicPartition tp, long[] ts)
            throws InterruptedException {
        for (int i = 0; i < 10; i++) {
            Context.sendAll(producer, List.of(record(tp, i, ts[i])));
        }
        List<ProducerRecord<byte[], byte[]>> batch = new ArrayList<>();
        for (int i = 10; i < 20; i++) {
            batch.add(record(tp, i, ts[i]));
        }
        Context.sendAll(producer, batch);
        for (int i = 20; i < 25; i++) {
            Context.sendAll(producer, List.of(record(tp, i, ts[i])));
        }
    }

    private static void listOffsets(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.name("t");
        ctx.createTopic(admin, topic, 3);
        // Partition 0: timestamps one second apart but for offset 15, the largest, inside the
        // batch of 10-19. Partition 1: empty. Partition 2: timestamps one second apart.
        TopicPartition outlier = new TopicPartition(topic, 0);
        TopicPartition empty = new TopicPartition(topic, 1);
        TopicPartition ordered = new TopicPartition(topic, 2);
        long base = System.currentTimeMillis() - 3_600_000L;
        long[] ts = new long[25];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = base + i * 1000L;
        }
        long[] tsOutlier = ts.clone();
        tsOutlier[15] = base + 100_000L;
        // A long linger keeps the ten sends of the middle batch together until flush().
        KafkaProducer<byte[], byte[]> producer = ctx.producer(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false",
                                                              ProducerConfig.LINGER_MS_CONFIG, "10000",
                                                              ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        writeTimed(producer, outlier, tsOutlier);
        writeTimed(producer, ordered, ts);

        StringBuilder seen = new StringBuilder();
        for (TopicPartition tp : List.of(outlier, ordered)) {
            long[] times = tp.equals(outlier) ? tsOutlier : ts;
            Check.equal(0L, listOne(admin, tp, OffsetSpec.earliest(), "earliest").offset(),
                        "earliest offset of %s", tp);
            Check.equal(25L, listOne(admin, tp, OffsetSpec.latest(), "latest").offset(), "latest offset of %s", tp);
            Check.equal(25L, Check.get(admin.listOffsets(Map.of(tp, OffsetSpec.latest()),
                                                         new ListOffsetsOptions(IsolationLevel.READ_COMMITTED))
                                            .partitionResult(tp), "listOffsets latest read_committed").offset(),
                        "latest offset of %s, read_committed", tp);
            seen.append(tp.partition()).append(':');
            for (long delta : new long[] {-1_000_000, 0, 3000, 3500, 12_000, 12_500, 16_000, 19_000, 21_000, 24_000,
                                          24_001, 100_000, 100_001}) {
                long want = firstAtOrAfter(times, base + delta);
                ListOffsetsResultInfo info = listOne(admin, tp, OffsetSpec.forTimestamp(base + delta),
                                                     tp + " forTimestamp(base+" + delta + ")");
                Check.equal(want, info.offset(), "%s: offset forTimestamp(base+%d)", tp, delta);
                if (want >= 0) {
                    Check.equal(times[(int) want], info.timestamp(), "%s: timestamp forTimestamp(base+%d)", tp, delta);
                }
                seen.append(' ').append(delta).append("->").append(info.offset());
            }
            int argmax = 0;
            for (int i = 1; i < times.length; i++) {
                argmax = times[i] > times[argmax] ? i : argmax;
            }
            ListOffsetsResultInfo max = listOne(admin, tp, OffsetSpec.maxTimestamp(), tp + " maxTimestamp");
            Check.equal((long) argmax, max.offset(), "%s: maxTimestamp offset", tp);
            Check.equal(times[argmax], max.timestamp(), "%s: maxTimestamp timestamp", tp);
            seen.append(" max->").append(max.offset()).append("; ");
        }

        Check.equal(0L, listOne(admin, empty, OffsetSpec.earliest(), "earliest, empty partition").offset(),
                    "earliest of an empty partition");
        Check.equal(0L, listOne(admin, empty, OffsetSpec.latest(), "latest, empty partition").offset(),
                    "latest of an empty partition");
        Check.equal(-1L, listOne(admin, empty, OffsetSpec.forTimestamp(base), "forTimestamp, empty partition")
                             .offset(), "forTimestamp of an empty partition");
        Check.equal(-1L, listOne(admin, empty, OffsetSpec.maxTimestamp(), "maxTimestamp, empty partition").offset(),
                    "maxTimestamp of an empty partition");

        // The consumer's view, through the same ListOffsets requests.
        KafkaConsumer<byte[], byte[]> consumer = ctx.consumer(null);
        Duration wait = Duration.ofSeconds(15);
        Check.equal(Map.of(outlier, 0L, empty, 0L), consumer.beginningOffsets(List.of(outlier, empty), wait),
                    "beginningOffsets");
        Check.equal(Map.of(outlier, 25L, empty, 0L), consumer.endOffsets(List.of(outlier, empty), wait), "endOffsets");
        Map<TopicPartition, OffsetAndTimestamp> times =
            consumer.offsetsForTimes(Map.of(ordered, base + 12_000, empty, base), wait);
        OffsetAndTimestamp at = times.get(ordered);
        Check.that(at != null && at.offset() == 12 && at.timestamp() == ts[12],
                   "offsetsForTimes of partition 2: expected offset 12 at %d, got %s", ts[12], at);
        Check.equal(null, times.get(empty), "offsetsForTimes of an empty partition");
        ctx.note("%s", seen.toString().trim());
    }

    private static ProducerRecord<byte[], byte[]> record(TopicPartition tp, int i, long ts) {
        return new ProducerRecord<>(tp.topic(), tp.partition(), ts, ("k" + i).getBytes(StandardCharsets.UTF_8),
                                    ("v" + i).getBytes(StandardCharsets.UTF_8));
    }

    // -- cluster --------------------------------------------------------------------------

    private static void describeCluster(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        DescribeClusterResult cluster = admin.describeCluster();
        String clusterId = Check.get(cluster.clusterId(), "describeCluster clusterId");
        Check.that(clusterId != null && !clusterId.isEmpty(), "cluster id: %s", clusterId);
        Collection<Node> nodes = Check.get(cluster.nodes(), "describeCluster nodes");
        Check.equal(1, nodes.size(), "number of nodes: %s", nodes);
        Node node = nodes.iterator().next();
        String[] hostPort = ctx.bootstrap.split(":");
        Check.equal(hostPort[0], node.host(), "host of the node");
        Check.equal(Integer.parseInt(hostPort[1]), node.port(), "port of the node");
        Check.equal(node, Check.get(cluster.controller(), "describeCluster controller"), "the controller");
        Check.equal(clusterId, Check.get(admin.describeCluster().clusterId(), "describeCluster again"),
                    "cluster id, asked twice");
        ctx.note("cluster %s, node %d at %s:%d", clusterId, node.id(), node.host(), node.port());
    }

    // -- groups ---------------------------------------------------------------------------

    // listConsumerGroups() is marked for removal in favour of listGroups() (KIP-1043), but it is
    // still what most tools and applications call.
    @SuppressWarnings("removal")
    private static Map<String, ConsumerGroupListing> listConsumerGroups(Admin admin) throws InterruptedException {
        Map<String, ConsumerGroupListing> out = new TreeMap<>();
        for (ConsumerGroupListing l : Check.get(admin.listConsumerGroups().all(), "listConsumerGroups")) {
            out.put(l.groupId(), l);
        }
        return out;
    }

    private static Map<String, GroupListing> listGroups(Admin admin, ListGroupsOptions options, String what)
            throws InterruptedException {
        Map<String, GroupListing> out = new TreeMap<>();
        for (GroupListing l : Check.get(admin.listGroups(options).all(), "listGroups " + what)) {
            out.put(l.groupId(), l);
        }
        return out;
    }

    @SuppressWarnings("removal")   // ConsumerGroupListing, see listConsumerGroups
    private static void groups(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        Node node = onlyNode(admin);
        String topic = ctx.name("t");
        ctx.createTopic(admin, topic, 2);
        ctx.fill(topic, 10, 0, 1);
        String active = ctx.name("active");
        String empty = ctx.name("empty");
        String simple = ctx.name("simple");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);

        // active: one member that stays; its heartbeats go on while the Admin calls wait.
        KafkaConsumer<byte[], byte[]> member = ctx.consumer(active);
        member.subscribe(List.of(topic));
        int read = 0;
        Check.Deadline deadline = new Check.Deadline(30);
        while (read < 20) {
            deadline.check("member of %s: %d of 20 records", active, read);
            read += member.poll(Duration.ofMillis(100)).count();
        }
        member.commitSync(Duration.ofSeconds(10));
        // empty: a member that committed and left.
        KafkaConsumer<byte[], byte[]> leaver = ctx.consumer(empty);
        leaver.subscribe(List.of(topic));
        read = 0;
        deadline = new Check.Deadline(30);
        while (read < 20) {
            deadline.check("member of %s: %d of 20 records", empty, read);
            read += leaver.poll(Duration.ofMillis(100)).count();
        }
        leaver.commitSync(Duration.ofSeconds(10));
        leaver.close(CloseOptions.timeout(Duration.ofSeconds(10)));
        // simple: offsets committed without a subscription (assign()), no member ever.
        KafkaConsumer<byte[], byte[]> assigner = ctx.consumer(simple);
        assigner.assign(List.of(p0));
        assigner.commitSync(Map.of(p0, new OffsetAndMetadata(7)), Duration.ofSeconds(10));

        Map<String, ConsumerGroupListing> listed = listConsumerGroups(admin);
        for (String g : List.of(active, empty, simple)) {
            Check.that(listed.containsKey(g), "listConsumerGroups lacks %s: %s", g, listed.keySet());
        }
        Check.equal(Optional.of(GroupState.STABLE), listed.get(active).groupState(),
                    "listConsumerGroups state of %s", active);
        Check.equal(Optional.of(GroupState.EMPTY), listed.get(empty).groupState(),
                    "listConsumerGroups state of %s", empty);
        Check.equal(Optional.of(GroupState.EMPTY), listed.get(simple).groupState(),
                    "listConsumerGroups state of %s", simple);
        Check.equal(false, listed.get(active).isSimpleConsumerGroup(), "isSimpleConsumerGroup of %s", active);
        Check.equal(true, listed.get(simple).isSimpleConsumerGroup(), "isSimpleConsumerGroup of %s", simple);

        Map<String, GroupListing> groups = listGroups(admin, new ListGroupsOptions(), "(all)");
        for (String g : List.of(active, empty, simple)) {
            Check.that(groups.containsKey(g), "listGroups lacks %s: %s", g, groups.keySet());
        }
        Check.equal("consumer", groups.get(active).protocol(), "listGroups protocol type of %s", active);
        Map<String, GroupListing> consumers = listGroups(admin, ListGroupsOptions.forConsumerGroups(),
                                                         "forConsumerGroups");
        Check.that(consumers.keySet().containsAll(List.of(active, empty, simple)),
                   "listGroups forConsumerGroups lacks ours: %s", consumers.keySet());
        Map<String, GroupListing> stable =
            listGroups(admin, new ListGroupsOptions().inGroupStates(Set.of(GroupState.STABLE)),
                       "inGroupStates(STABLE)");
        Check.that(stable.containsKey(active) && !stable.containsKey(empty) && !stable.containsKey(simple),
                   "listGroups in state STABLE: %s", stable.keySet());

        Map<String, ConsumerGroupDescription> described =
            Check.get(admin.describeConsumerGroups(List.of(active, empty, simple)).all(), "describeConsumerGroups");
        ConsumerGroupDescription da = described.get(active);
        Check.equal(GroupState.STABLE, da.groupState(), "described state of %s", active);
        Check.equal(node, da.coordinator(), "coordinator of %s", active);
        Check.equal("range", da.partitionAssignor(), "assignor of %s", active);
        Check.equal(1, da.members().size(), "members of %s", active);
        MemberDescription m = da.members().iterator().next();
        Check.that(m.clientId().startsWith("jc-admin-groups-consumer"), "client id of the member: %s", m.clientId());
        Check.equal(Set.of(p0, p1), m.assignment().topicPartitions(), "assignment of the member");
        Check.equal(GroupState.EMPTY, described.get(empty).groupState(), "described state of %s", empty);
        Check.equal(0, described.get(empty).members().size(), "members of %s", empty);
        Check.equal(true, described.get(simple).isSimpleConsumerGroup(),
                    "described isSimpleConsumerGroup of %s", simple);

        Map<TopicPartition, OffsetAndMetadata> offsets =
            Check.get(admin.listConsumerGroupOffsets(empty).partitionsToOffsetAndMetadata(),
                      "listConsumerGroupOffsets");
        Check.equal(Map.of(0, 10L, 1, 10L), GroupScenarios.committedByPartition(offsets), "offsets of %s", empty);
        offsets = Check.get(admin.listConsumerGroupOffsets(simple).partitionsToOffsetAndMetadata(),
                            "listConsumerGroupOffsets");
        Check.equal(Map.of(0, 7L), GroupScenarios.committedByPartition(offsets), "offsets of %s", simple);

        Check.fails(GroupNotEmptyException.class, admin.deleteConsumerGroups(List.of(active)).all(),
                    "deleteConsumerGroups of a group with a member");
        Check.get(admin.deleteConsumerGroups(List.of(empty, simple)).all(), "deleteConsumerGroups of empty groups");
        Check.fails(GroupIdNotFoundException.class, admin.deleteConsumerGroups(List.of(empty)).all(),
                    "deleteConsumerGroups of a deleted group");
        listed = listConsumerGroups(admin);
        Check.that(!listed.containsKey(empty) && !listed.containsKey(simple) && listed.containsKey(active),
                   "listConsumerGroups after deleting %s and %s: %s", empty, simple, listed.keySet());
        offsets = Check.get(admin.listConsumerGroupOffsets(empty).partitionsToOffsetAndMetadata(),
                            "listConsumerGroupOffsets of a deleted group");
        Check.equal(Map.of(), offsets, "offsets of the deleted %s", empty);

        // The last member leaves: the group is empty and can go.
        member.close(CloseOptions.timeout(Duration.ofSeconds(10)));
        ConsumerGroupDescription after = Check.get(admin.describeConsumerGroups(List.of(active)).all(),
                                                   "describeConsumerGroups after the member left").get(active);
        Check.equal(GroupState.EMPTY, after.groupState(), "state of %s after its member left", active);
        Check.get(admin.deleteConsumerGroups(List.of(active)).all(), "deleteConsumerGroups after the member left");
        ctx.note("listed (STABLE, EMPTY, simple), described, offsets read, deleted; delete of a non-empty group "
                 + "refused");
    }

    // -- delete records -------------------------------------------------------------------

    private static void deleteRecordsConsume(Context ctx) throws Exception {
        Admin admin = ctx.admin();
        String topic = ctx.name("t");
        ctx.createTopic(admin, topic, 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        // Ten batches of ten on partition 0, so that the new start falls inside a batch.
        for (int b = 0; b < 10; b++) {
            ctx.fill(topic, 10, 0);
        }
        ctx.fill(topic, 50, 1);
        Map<TopicPartition, KafkaFuture<DeletedRecords>> deleted =
            admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(35), p1, RecordsToDelete.beforeOffset(-1)))
                 .lowWatermarks();
        Check.equal(35L, Check.get(deleted.get(p0), "deleteRecords before 35").lowWatermark(),
                    "low watermark of partition 0 after deleteRecords before 35");
        Check.equal(50L, Check.get(deleted.get(p1), "deleteRecords before -1 (the high watermark)").lowWatermark(),
                    "low watermark of partition 1 after deleteRecords to the end");
        Check.equal(35L, Check.get(admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(20)))
                                        .lowWatermarks().get(p0), "deleteRecords below the log start")
                              .lowWatermark(), "low watermark after deleting below it again");
        Check.fails(org.apache.kafka.common.errors.OffsetOutOfRangeException.class,   // not the consumer's
                    admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(1000))).all(),
                    "deleteRecords beyond the high watermark");

        Check.equal(35L, listOne(admin, p0, OffsetSpec.earliest(), "earliest after deleteRecords").offset(),
                    "earliest offset of partition 0 after deleteRecords");
        Check.equal(100L, listOne(admin, p0, OffsetSpec.latest(), "latest after deleteRecords").offset(),
                    "latest offset of partition 0 after deleteRecords");
        Check.equal(50L, listOne(admin, p1, OffsetSpec.earliest(), "earliest after deleteRecords").offset(),
                    "earliest offset of partition 1 after deleteRecords");

        // By assignment from the beginning: offsets 35 to 99, nothing from partition 1.
        KafkaConsumer<byte[], byte[]> byAssign = ctx.consumer(null);
        byAssign.assign(List.of(p0, p1));
        byAssign.seekToBeginning(List.of(p0, p1));
        List<Long> got = readOffsets(byAssign, 65, "assigned consumer from the beginning");
        Check.equal(35L, got.get(0), "first offset read after deleteRecords");
        Check.equal(99L, got.get(got.size() - 1), "last offset read after deleteRecords");

        // A new group with auto.offset.reset=earliest starts at the new log start too.
        KafkaConsumer<byte[], byte[]> inGroup = ctx.consumer(ctx.name("g"));
        inGroup.subscribe(List.of(topic));
        got = readOffsets(inGroup, 65, "new group member");
        Check.equal(35L, got.get(0), "first offset a new group reads after deleteRecords");

        // A position below the log start: reset to earliest, or OffsetOutOfRange with reset=none.
        KafkaConsumer<byte[], byte[]> seeker = ctx.consumer(null);
        seeker.assign(List.of(p0));
        seeker.seek(p0, 10);
        got = readOffsets(seeker, 65, "consumer at offset 10, reset earliest");
        Check.equal(35L, got.get(0), "first offset after seeking below the log start (reset earliest)");
        KafkaConsumer<byte[], byte[]> strict = ctx.consumer(null, "auto.offset.reset", "none");
        strict.assign(List.of(p0));
        strict.seek(p0, 10);
        Check.Deadline deadline = new Check.Deadline(20);
        OffsetOutOfRangeException oor = null;
        while (oor == null) {
            deadline.check("OffsetOutOfRangeException for a position below the log start (reset none)");
            try {
                Check.equal(0, strict.poll(Duration.ofMillis(100)).count(), "records at offset 10 after deleteRecords");
            } catch (OffsetOutOfRangeException e) {
                oor = e;
            }
        }
        Check.equal(Map.of(p0, 10L), oor.offsetOutOfRangePartitions(), "partitions out of range");

        // Producing goes on from the old end.
        Map<Integer, Long> ends = ctx.fill(topic, 5, 0);
        Check.equal(105L, ends.get(0), "end offset after producing past deleteRecords");
        ctx.note("log start 35 (inside a batch) and 50 (whole partition); consumers started at 35");
    }

    private static List<Long> readOffsets(KafkaConsumer<byte[], byte[]> c, int count, String who) {
        List<Long> out = new ArrayList<>();
        Check.Deadline deadline = new Check.Deadline(30);
        while (out.size() < count) {
            deadline.check("%s: %d of %d records", who, out.size(), count);
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(100))) {
                Check.equal(0, r.partition(), "%s: partition of a record at offset %d", who, r.offset());
                out.add(r.offset());
            }
        }
        return out;
    }
}
