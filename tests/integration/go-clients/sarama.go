// SPDX-License-Identifier: Apache-2.0

// IBM/sarama: SyncProducer, Consumer (by partition), ConsumerGroup and ClusterAdmin, with
// Config.Version at the newest Kafka version sarama 1.61 knows (V4_3_1_0), except for the
// default-config producer, which keeps sarama's default (V2_8_0_0). sarama sends ApiVersions
// and picks, per request, the highest version both sides support.

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

type saramaClient struct {
	bootstrap string
}

func init() {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
}

func (c *saramaClient) config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_3_1_0
	cfg.ClientID = "runnel-it-sarama"
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Net.ReadTimeout = 20 * time.Second
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Admin.Timeout = 20 * time.Second
	return cfg
}

func (c *saramaClient) groupConfig(s *spec) *sarama.Config {
	cfg := c.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Session.Timeout = s.session()
	cfg.Consumer.Group.Heartbeat.Interval = s.heartbeat()
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	return cfg
}

func (c *saramaClient) clusterAdmin() (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{c.bootstrap}, c.config())
}

func (c *saramaClient) createTopics(topics map[string]int, configs map[string]string) error {
	admin, err := c.clusterAdmin()
	if err != nil {
		return fmt.Errorf("NewClusterAdmin: %w", err)
	}
	defer admin.Close()
	entries := map[string]*string{}
	for k, v := range configs {
		entries[k] = ptr(v)
	}
	for t, n := range topics {
		detail := &sarama.TopicDetail{NumPartitions: int32(n), ReplicationFactor: 1,
			ConfigEntries: entries}
		if err := admin.CreateTopic(t, detail, false); err != nil {
			return fmt.Errorf("CreateTopic %s: %w", t, err)
		}
	}
	return nil
}

// produce sends msgs with a SyncProducer built from cfg and returns their offsets.
func (c *saramaClient) produce(cfg *sarama.Config, msgs []*sarama.ProducerMessage) ([]int64,
	error) {
	p, err := sarama.NewSyncProducer([]string{c.bootstrap}, cfg)
	if err != nil {
		return nil, fmt.Errorf("NewSyncProducer: %w", err)
	}
	defer p.Close()
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			return nil, fmt.Errorf("SendMessages: %d failed, first: %w", len(perrs), perrs[0].Err)
		}
		return nil, fmt.Errorf("SendMessages: %w", err)
	}
	offsets := make([]int64, len(msgs))
	for i, m := range msgs {
		offsets[i] = m.Offset
	}
	return offsets, nil
}

// readAll reads every partition of topic from the oldest offset to the newest.
func (c *saramaClient) readAll(ctx context.Context, s *spec, cfg *sarama.Config, topic string,
	partitions int) ([]*sarama.ConsumerMessage, error) {
	client, err := sarama.NewClient([]string{c.bootstrap}, cfg)
	if err != nil {
		return nil, fmt.Errorf("NewClient: %w", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("NewConsumerFromClient: %w", err)
	}
	defer consumer.Close()
	var out []*sarama.ConsumerMessage
	for p := int32(0); p < int32(partitions); p++ {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return out, fmt.Errorf("GetOffset newest %s/%d: %w", topic, p, err)
		}
		start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return out, fmt.Errorf("GetOffset oldest %s/%d: %w", topic, p, err)
		}
		if start >= end {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return out, fmt.Errorf("ConsumePartition %s/%d: %w", topic, p, err)
		}
		deadline := time.After(s.wait())
	read:
		for {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
				if m.Offset+1 >= end {
					break read
				}
			case e := <-pc.Errors():
				pc.Close()
				return out, fmt.Errorf("consuming %s/%d: %w", topic, p, e.Err)
			case <-deadline:
				pc.Close()
				return out, fmt.Errorf("%s/%d: offset %d not reached within %s", topic, p, end,
					s.wait())
			case <-ctx.Done():
				pc.Close()
				return out, ctx.Err()
			}
		}
		pc.Close()
	}
	return out, nil
}

func (c *saramaClient) codecs(ctx context.Context, s *spec, prefix string, o obs) error {
	topics := map[string]int{}
	for _, codec := range s.Codecs {
		topics[prefix+"-"+codec] = 1
	}
	if err := c.createTopics(topics, nil); err != nil {
		return err
	}
	produced, read := map[string][]int64{}, map[string][][]any{}
	o["produced"], o["consumed"] = produced, read
	codecs := map[string]sarama.CompressionCodec{"none": sarama.CompressionNone,
		"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD}
	for _, codec := range s.Codecs {
		cfg := c.config()
		cfg.Producer.Compression = codecs[codec]
		var msgs []*sarama.ProducerMessage
		for _, r := range s.CodecRecords[codec] {
			m := &sarama.ProducerMessage{Topic: prefix + "-" + codec, Partition: 0,
				Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h[0]),
					Value: []byte(h[1])})
			}
			msgs = append(msgs, m)
		}
		offsets, err := c.produce(cfg, msgs)
		if err != nil {
			return fmt.Errorf("codec %s: %w", codec, err)
		}
		produced[codec] = offsets
	}
	for _, codec := range s.Codecs {
		msgs, err := c.readAll(ctx, s, c.config(), prefix+"-"+codec, 1)
		rows := [][]any{}
		for _, m := range msgs {
			hs := [][2]string{}
			for _, h := range m.Headers {
				hs = append(hs, [2]string{string(h.Key), string(h.Value)})
			}
			rows = append(rows, []any{m.Offset, string(m.Key), string(m.Value), hs})
		}
		read[codec] = rows
		if err != nil {
			return fmt.Errorf("codec %s: %w", codec, err)
		}
	}
	return nil
}

func (c *saramaClient) produceGroup(s *spec, topic string, second bool) error {
	values, parts := groupRecords(s, second)
	var msgs []*sarama.ProducerMessage
	for i, v := range values {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: parts[i],
			Value: sarama.StringEncoder(v)})
	}
	_, err := c.produce(c.config(), msgs)
	return err
}

// saramaMember is one ConsumerGroup member: its current claims and the messages it got.
type saramaMember struct {
	mu       sync.Mutex
	owned    []int32
	msgs     [][]any
	session  sarama.ConsumerGroupSession
	setupErr error
}

func (m *saramaMember) Setup(sess sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.session = sess
	m.owned = nil
	for _, ps := range sess.Claims() {
		m.owned = append(m.owned, ps...)
	}
	m.owned = sortedInts(m.owned)
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owned, m.session = nil, nil
	return nil
}

func (m *saramaMember) ConsumeClaim(sess sarama.ConsumerGroupSession,
	claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		m.mu.Lock()
		m.msgs = append(m.msgs, consumed(msg.Partition, msg.Offset, msg.Value))
		m.mu.Unlock()
		sess.MarkMessage(msg, "")
	}
	return nil
}

func (m *saramaMember) state() ([]int32, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32{}, m.owned...), len(m.msgs)
}

// joinGroup starts a ConsumerGroup member consuming topic until stop() is called; stop leaves
// the group (Close) and returns the first error Consume gave, if any.
func (c *saramaClient) joinGroup(s *spec, group, topic, clientID string) (*saramaMember,
	func() error, error) {
	cfg := c.groupConfig(s)
	cfg.ClientID = clientID
	cg, err := sarama.NewConsumerGroup([]string{c.bootstrap}, group, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("NewConsumerGroup: %w", err)
	}
	m := &saramaMember{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var first error
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil && first == nil &&
				!errors.Is(err, sarama.ErrClosedConsumerGroup) {
				first = err
				m.mu.Lock()
				m.setupErr = err
				m.mu.Unlock()
			}
		}
		done <- first
	}()
	stop := func() error {
		cancel()
		err := <-done
		if cerr := cg.Close(); cerr != nil && err == nil {
			err = cerr
		}
		return err
	}
	return m, stop, nil
}

func (c *saramaClient) commit(m *saramaMember) error {
	m.mu.Lock()
	sess := m.session
	m.mu.Unlock()
	if sess == nil {
		return errors.New("commit: no session")
	}
	sess.Commit()
	return nil
}

func (c *saramaClient) consumeGroup(ctx context.Context, s *spec, group, topic string,
	want int) ([][]any, error) {
	m, stop, err := c.joinGroup(s, group, topic, "runnel-it-sarama")
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, s.wait(), fmt.Sprintf("%d messages", want), func() bool {
		_, n := m.state()
		return n >= want
	}, func() string { _, n := m.state(); return fmt.Sprintf("got %d", n) })
	if err == nil {
		time.Sleep(time.Second) // anything beyond `want` would show up now
		err = c.commit(m)
	}
	if serr := stop(); serr != nil && err == nil {
		err = fmt.Errorf("Consume: %w", serr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msgs, err
}

func (c *saramaClient) group(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	if err := c.createTopics(map[string]int{topic: s.GroupPartitions}, nil); err != nil {
		return err
	}
	if err := c.produceGroup(s, topic, false); err != nil {
		return err
	}
	first, err := c.consumeGroup(ctx, s, group, topic, len(s.GroupFirst))
	o["first"] = first
	if err != nil {
		return fmt.Errorf("first run: %w", err)
	}
	admin, err := c.clusterAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()
	var parts []int32
	for p := 0; p < s.GroupPartitions; p++ {
		parts = append(parts, int32(p))
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return fmt.Errorf("ListConsumerGroupOffsets: %w", err)
	}
	committed := map[string]int64{}
	for p, b := range resp.Blocks[topic] {
		committed[strconv.Itoa(int(p))] = b.Offset
	}
	o["committed"] = committed
	if err := c.produceGroup(s, topic, true); err != nil {
		return err
	}
	second, err := c.consumeGroup(ctx, s, group, topic, len(s.GroupSecond))
	o["second"] = second
	if err != nil {
		return fmt.Errorf("second run: %w", err)
	}
	return nil
}

func (c *saramaClient) rebalance(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	if err := c.createTopics(map[string]int{topic: s.RebalancePartitions}, nil); err != nil {
		return err
	}
	return rebalanceSteps(ctx, s, o, func(name string) (func() []int32, func() error, error) {
		m, stop, err := c.joinGroup(s, group, topic, "member-"+name)
		if err != nil {
			return nil, nil, err
		}
		return func() []int32 { owned, _ := m.state(); return owned }, stop, nil
	})
}

// rebalanceSteps runs the two-member scenario over any client: join(name) starts a member and
// returns its current assignment and a function that makes it leave.
func rebalanceSteps(ctx context.Context, s *spec, o obs,
	join func(name string) (func() []int32, func() error, error)) error {
	every := s.RebalancePartitions
	ownedA, stopA, err := join("a")
	if err != nil {
		return err
	}
	defer func() {
		if stopA != nil {
			stopA()
		}
	}()
	var ownedB func() []int32
	state := func() string {
		b := []int32{}
		if ownedB != nil {
			b = ownedB()
		}
		return fmt.Sprintf("A owns %v, B owns %v", ownedA(), b)
	}
	if err := waitFor(ctx, s.wait(), "A alone does not own every partition",
		func() bool { return len(ownedA()) == every }, state); err != nil {
		return err
	}
	o["a_alone"] = ownedA()
	ownedB, stopB, err := join("b")
	if err != nil {
		return err
	}
	err = waitFor(ctx, s.wait(), "A and B do not share the partitions", func() bool {
		a, b := ownedA(), ownedB()
		return len(a) > 0 && len(b) > 0 && len(a)+len(b) == every && disjoint(a, b)
	}, state)
	if err != nil {
		stopB()
		return err
	}
	o["a_with_b"], o["b_with_a"] = ownedA(), ownedB()
	if err := stopB(); err != nil {
		return fmt.Errorf("B leaving: %w", err)
	}
	ownedB = nil
	if err := waitFor(ctx, s.wait(), "A does not own every partition after B left",
		func() bool { return len(ownedA()) == every }, state); err != nil {
		return err
	}
	o["a_after_b_left"] = ownedA()
	err = stopA()
	stopA = nil
	if err != nil {
		return fmt.Errorf("A leaving: %w", err)
	}
	return nil
}

func disjoint(a, b []int32) bool {
	seen := map[int32]bool{}
	for _, p := range a {
		seen[p] = true
	}
	for _, p := range b {
		if seen[p] {
			return false
		}
	}
	return true
}

func (c *saramaClient) admin(ctx context.Context, s *spec, prefix string, o obs) error {
	topic := prefix
	o["base_ms"] = s.BaseMs
	if err := c.createTopics(map[string]int{topic: s.AdminPartitions}, s.TopicConfigs); err != nil {
		return err
	}
	admin, err := c.clusterAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()
	describe := func() (map[string]string, error) {
		entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource,
			Name: topic})
		out := map[string]string{}
		for _, e := range entries {
			out[e.Name] = e.Value
		}
		return out, err
	}
	if o["configs_created"], err = settle(ctx, describe, s.created); err != nil {
		return fmt.Errorf("DescribeConfig: %w", err)
	}
	err = admin.IncrementalAlterConfig(sarama.TopicResource, topic,
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {
			Operation: sarama.IncrementalAlterConfigsOperationSet,
			Value:     ptr(s.AlteredRetentionMs)}}, false)
	if err != nil {
		return fmt.Errorf("IncrementalAlterConfig: %w", err)
	}
	o["alter_kind"] = "incremental"
	if o["configs_altered"], err = settle(ctx, describe, s.altered); err != nil {
		return fmt.Errorf("DescribeConfig after alter: %w", err)
	}
	if err := admin.CreatePartitions(topic, int32(s.AdminPartitionsNew), nil, false); err != nil {
		return fmt.Errorf("CreatePartitions: %w", err)
	}
	if o["partitions_after"], err = settle(ctx, func() (int, error) {
		md, err := admin.DescribeTopics([]string{topic})
		if err != nil || len(md) != 1 {
			return 0, fmt.Errorf("DescribeTopics: %v (%d topics)", err, len(md))
		}
		return len(md[0].Partitions), nil
	}, func(n int) bool { return n == s.AdminPartitionsNew }); err != nil {
		return err
	}

	var msgs []*sarama.ProducerMessage
	for i, ts := range s.Timestamps {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Value: sarama.StringEncoder(fmt.Sprintf("t-%d", i)), Timestamp: time.UnixMilli(ts)})
	}
	if _, err := c.produce(c.config(), msgs); err != nil {
		return err
	}
	offsets := obs{}
	o["offsets"] = offsets
	list := func(spec int64) (*sarama.OffsetResult, error) {
		res, err := admin.ListOffsets(map[string]map[int32]int64{topic: {0: spec}}, nil)
		if err != nil {
			return nil, err
		}
		r := res[topic][0]
		if r == nil {
			return nil, errors.New("no result for partition 0")
		}
		if r.Err != nil && !errors.Is(r.Err, sarama.ErrNoError) {
			return r, r.Err
		}
		return r, nil
	}
	for name, spec := range map[string]int64{"earliest": sarama.OffsetOldest,
		"latest": sarama.OffsetNewest, "by_timestamp": s.ByTimestamp} {
		r, err := list(spec)
		if err != nil {
			return fmt.Errorf("ListOffsets %s: %w", name, err)
		}
		offsets[name] = r.Offset
	}
	if err := admin.DeleteRecords(topic, map[int32]int64{0: s.DeleteBefore}); err != nil {
		return fmt.Errorf("DeleteRecords: %w", err)
	}
	r, err := list(sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("ListOffsets earliest after DeleteRecords: %w", err)
	}
	o["earliest_after_delete"] = r.Offset
	brokers, controller, err := admin.DescribeCluster()
	if err != nil {
		return fmt.Errorf("DescribeCluster: %w", err)
	}
	ids := []int32{}
	for _, b := range brokers {
		ids = append(ids, b.ID())
	}
	o["cluster"] = obs{"brokers": ids, "controller": controller}
	return nil
}

func (c *saramaClient) adminGroups(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	o["group"] = group
	if err := c.createTopics(map[string]int{topic: s.GroupPartitions}, nil); err != nil {
		return err
	}
	admin, err := c.clusterAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()
	listed := func() ([]string, error) {
		groups, err := admin.ListConsumerGroups()
		return keys(groups), err
	}
	describe := func() (obs, error) {
		ds, err := admin.DescribeConsumerGroups([]string{group})
		if err != nil {
			return nil, err
		}
		if len(ds) != 1 {
			return nil, fmt.Errorf("%d groups described", len(ds))
		}
		d := ds[0]
		if d.Err != sarama.ErrNoError {
			return nil, d.Err
		}
		members := []obs{}
		for _, m := range d.Members {
			a, err := m.GetMemberAssignment()
			if err != nil {
				return nil, fmt.Errorf("member assignment: %w", err)
			}
			members = append(members, obs{"client_id": m.ClientId,
				"assigned": sortedInts(a.Topics[topic])})
		}
		return obs{"state": d.State, "protocol_type": d.ProtocolType, "members": members}, nil
	}
	m, stop, err := c.joinGroup(s, group, topic, "runnel-it-sarama")
	if err != nil {
		return err
	}
	err = waitFor(ctx, s.wait(), "no full assignment", func() bool {
		owned, _ := m.state()
		return len(owned) == s.GroupPartitions
	}, func() string { owned, _ := m.state(); return fmt.Sprintf("owns %v", owned) })
	if err == nil {
		m.mu.Lock()
		if m.session != nil {
			for p := 0; p < s.GroupPartitions; p++ {
				m.session.MarkOffset(topic, int32(p), 0, "")
			}
		}
		m.mu.Unlock()
		err = c.commit(m)
	}
	if err == nil {
		o["listed"], err = listed()
	}
	if err == nil {
		o["described_active"], err = describe()
	}
	if serr := stop(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if o["described_empty"], err = describe(); err != nil {
		return err
	}
	o["delete_error"] = nil
	if err := admin.DeleteConsumerGroup(group); err != nil {
		o["delete_error"] = err.Error()
	}
	o["listed_after_delete"], err = listed()
	return err
}

func (c *saramaClient) deleteRecords(ctx context.Context, s *spec, prefix string, o obs) error {
	topic := prefix
	if err := c.createTopics(map[string]int{topic: 1}, nil); err != nil {
		return err
	}
	var msgs []*sarama.ProducerMessage
	for _, v := range s.DeleteValues {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0,
			Value: sarama.StringEncoder(v)})
	}
	if _, err := c.produce(c.config(), msgs); err != nil {
		return err
	}
	admin, err := c.clusterAdmin()
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.DeleteRecords(topic, map[int32]int64{0: s.DeleteRecordsBefore}); err != nil {
		return fmt.Errorf("DeleteRecords: %w", err)
	}
	return c.readBack(ctx, s, c.config(), topic, o)
}

func (c *saramaClient) readBack(ctx context.Context, s *spec, cfg *sarama.Config, topic string,
	o obs) error {
	msgs, err := c.readAll(ctx, s, cfg, topic, 1)
	rows := [][]any{}
	for _, m := range msgs {
		rows = append(rows, []any{m.Offset, string(m.Value)})
	}
	o["consumed"] = rows
	return err
}

func (c *saramaClient) produceAndRead(ctx context.Context, s *spec, topic string,
	cfg *sarama.Config, o obs) error {
	if err := c.createTopics(map[string]int{topic: 1}, nil); err != nil {
		return err
	}
	cfg.Producer.Return.Successes = true // a SyncProducer needs it
	var msgs []*sarama.ProducerMessage
	for _, v := range s.DefaultsValues {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)})
	}
	if _, err := c.produce(cfg, msgs); err != nil {
		return err
	}
	return c.readBack(ctx, s, sarama.NewConfig(), topic, o)
}

func (c *saramaClient) producerDefaults(ctx context.Context, s *spec, prefix string, o obs) error {
	return c.produceAndRead(ctx, s, prefix, sarama.NewConfig(), o)
}

func (c *saramaClient) producerNoIdempotence(ctx context.Context, s *spec, prefix string,
	o obs) error {
	cfg := sarama.NewConfig()
	cfg.Producer.Idempotent = false
	return c.produceAndRead(ctx, s, prefix, cfg, o)
}
