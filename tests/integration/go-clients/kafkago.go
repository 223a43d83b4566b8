// SPDX-License-Identifier: Apache-2.0

// segmentio/kafka-go: Writer, Reader (by partition, and with GroupID for the group scenario),
// ConsumerGroup for the rebalance (a Reader does not show its assignment) and Client for
// admin. kafka-go has no DeleteRecords, no DescribeCluster (its Metadata carries the same
// facts) and no MAX_TIMESTAMP spec, and its producer has no idempotence at all.

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

	"github.com/segmentio/kafka-go"
)

type kafkaGoClient struct {
	bootstrap string
}

var kafkaGoLog = kafka.LoggerFunc(log.New(os.Stderr, "[kafka-go] ", log.Lmicroseconds).Printf)

// client is a Client with a Transport of its own: kafka-go's Transport answers Metadata
// requests from the cluster view it caches for 6 s, and the Client's default is one shared
// Transport, so a Client made after a change sees it at once only with a new Transport.
func (c *kafkaGoClient) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.bootstrap), Timeout: 20 * time.Second,
		Transport: &kafka.Transport{}}
}

func (c *kafkaGoClient) createTopics(ctx context.Context, topics map[string]int,
	configs map[string]string) error {
	var entries []kafka.ConfigEntry
	for k, v := range configs {
		entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	req := &kafka.CreateTopicsRequest{}
	for t, n := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: n,
			ReplicationFactor: 1, ConfigEntries: entries})
	}
	resp, err := c.client().CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("CreateTopics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil {
			return fmt.Errorf("CreateTopics %s: %w", t, err)
		}
	}
	return nil
}

// writer is a Writer for topic that puts each message in the partition partOf gives for its
// value (kafka-go's Writer chooses partitions only through a Balancer).
func (c *kafkaGoClient) writer(topic string, partOf map[string]int) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(c.bootstrap), Topic: topic,
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond,
		ErrorLogger: kafkaGoLog,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			return partOf[string(m.Value)]
		})}
}

func (c *kafkaGoClient) write(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("WriteMessages: %w", err)
	}
	return nil
}

// listOffset returns the offset (and timestamp) ListOffsets gives for one partition and spec
// (kafka.FirstOffset, kafka.LastOffset or a time in ms). kafka-go files an answer under
// FirstOffset or LastOffset by the timestamp in the response, which is -1 for both specs, so
// the earliest offset arrives in LastOffset: the one field not still at its initial value is
// the answer.
func (c *kafkaGoClient) listOffset(ctx context.Context, topic string, p int,
	spec int64) (int64, int64, error) {
	req := kafka.OffsetRequest{Partition: p, Timestamp: spec}
	resp, err := c.client().ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{topic: {req}}})
	if err != nil {
		return 0, 0, fmt.Errorf("ListOffsets: %w", err)
	}
	parts := resp.Topics[topic]
	if len(parts) != 1 {
		return 0, 0, fmt.Errorf("ListOffsets: %d partitions in the answer", len(parts))
	}
	po := parts[0]
	if po.Error != nil {
		return 0, 0, fmt.Errorf("ListOffsets: %w", po.Error)
	}
	for offset, ts := range po.Offsets {
		return offset, ts.UnixMilli(), nil
	}
	switch spec {
	case kafka.FirstOffset:
		if po.LastOffset != -1 {
			return po.LastOffset, -1, nil
		}
		return po.FirstOffset, -1, nil
	case kafka.LastOffset:
		return po.LastOffset, -1, nil
	}
	return -1, -1, nil
}

// readAll reads one partition from its first offset to its end.
func (c *kafkaGoClient) readAll(ctx context.Context, s *spec, topic string,
	p int) ([]kafka.Message, error) {
	end, _, err := c.listOffset(ctx, topic, p, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	start, _, err := c.listOffset(ctx, topic, p, kafka.FirstOffset)
	if err != nil || start >= end {
		return nil, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{c.bootstrap}, Topic: topic,
		Partition: p, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 200 * time.Millisecond,
		ErrorLogger: kafkaGoLog})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return nil, fmt.Errorf("SetOffset: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.wait())
	defer cancel()
	var out []kafka.Message
	for {
		m, err := r.ReadMessage(rctx)
		if err != nil {
			return out, fmt.Errorf("ReadMessage %s/%d after %d messages (end %d): %w", topic, p,
				len(out), end, err)
		}
		out = append(out, m)
		if m.Offset+1 >= end {
			return out, nil
		}
	}
}

var kafkaGoCodecs = map[string]kafka.Compression{"none": 0, "gzip": kafka.Gzip,
	"snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd}

func (c *kafkaGoClient) codecs(ctx context.Context, s *spec, prefix string, o obs) error {
	topics := map[string]int{}
	for _, codec := range s.Codecs {
		topics[prefix+"-"+codec] = 1
	}
	if err := c.createTopics(ctx, topics, nil); err != nil {
		return err
	}
	read := map[string][][]any{}
	o["consumed"] = read
	for _, codec := range s.Codecs {
		w := c.writer(prefix+"-"+codec, nil)
		w.Compression = kafkaGoCodecs[codec]
		var msgs []kafka.Message
		for _, r := range s.CodecRecords[codec] {
			m := kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
			for _, h := range r.Headers {
				m.Headers = append(m.Headers, kafka.Header{Key: h[0], Value: []byte(h[1])})
			}
			msgs = append(msgs, m)
		}
		if err := c.write(ctx, w, msgs); err != nil {
			return fmt.Errorf("codec %s: %w", codec, err)
		}
	}
	for _, codec := range s.Codecs {
		msgs, err := c.readAll(ctx, s, prefix+"-"+codec, 0)
		rows := [][]any{}
		for _, m := range msgs {
			hs := [][2]string{}
			for _, h := range m.Headers {
				hs = append(hs, [2]string{h.Key, string(h.Value)})
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

func (c *kafkaGoClient) produceGroup(ctx context.Context, s *spec, topic string,
	second bool) error {
	values, parts := groupRecords(s, second)
	partOf := map[string]int{}
	var msgs []kafka.Message
	for i, v := range values {
		partOf[v] = int(parts[i])
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	return c.write(ctx, c.writer(topic, partOf), msgs)
}

// consumeGroup reads `want` messages with a Reader in the group (then waits a second for any
// extra), commits them and closes the Reader, which leaves the group.
func (c *kafkaGoClient) consumeGroup(ctx context.Context, s *spec, group, topic string,
	want int) ([][]any, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{c.bootstrap}, GroupID: group,
		Topic: topic, StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 200 * time.Millisecond, HeartbeatInterval: s.heartbeat(),
		SessionTimeout: s.session(), ErrorLogger: kafkaGoLog})
	var msgs []kafka.Message
	rows := [][]any{}
	err := func() error {
		rctx, cancel := context.WithTimeout(ctx, s.wait())
		defer cancel()
		for len(msgs) < want {
			m, err := r.FetchMessage(rctx)
			if err != nil {
				return fmt.Errorf("FetchMessage after %d of %d: %w", len(msgs), want, err)
			}
			msgs = append(msgs, m)
		}
		xctx, xcancel := context.WithTimeout(ctx, time.Second)
		defer xcancel()
		for {
			m, err := r.FetchMessage(xctx)
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		if err := r.CommitMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("CommitMessages: %w", err)
		}
		return nil
	}()
	for _, m := range msgs {
		rows = append(rows, consumed(int32(m.Partition), m.Offset, m.Value))
	}
	if cerr := r.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("Close: %w", cerr)
	}
	return rows, err
}

func (c *kafkaGoClient) group(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	if err := c.createTopics(ctx, map[string]int{topic: s.GroupPartitions}, nil); err != nil {
		return err
	}
	if err := c.produceGroup(ctx, s, topic, false); err != nil {
		return err
	}
	first, err := c.consumeGroup(ctx, s, group, topic, len(s.GroupFirst))
	o["first"] = first
	if err != nil {
		return fmt.Errorf("first run: %w", err)
	}
	var parts []int
	for p := 0; p < s.GroupPartitions; p++ {
		parts = append(parts, p)
	}
	resp, err := c.client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{topic: parts}})
	if err != nil {
		return fmt.Errorf("OffsetFetch: %w", err)
	}
	committed := map[string]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return fmt.Errorf("OffsetFetch partition %d: %w", p.Partition, p.Error)
		}
		committed[strconv.Itoa(p.Partition)] = p.CommittedOffset
	}
	o["committed"] = committed
	if err := c.produceGroup(ctx, s, topic, true); err != nil {
		return err
	}
	second, err := c.consumeGroup(ctx, s, group, topic, len(s.GroupSecond))
	o["second"] = second
	if err != nil {
		return fmt.Errorf("second run: %w", err)
	}
	return nil
}

// kafkaGoMember is a kafka.ConsumerGroup member: get() returns the assignment of its latest
// generation, commit() commits through that generation, leave() closes the ConsumerGroup,
// which leaves the group.
type kafkaGoMember struct {
	mu      sync.Mutex
	owned   []int32
	gen     *kafka.Generation
	failure error
	cg      *kafka.ConsumerGroup
	cancel  context.CancelFunc
	done    chan struct{}
}

func (c *kafkaGoClient) joinConsumerGroup(s *spec, group, topic string) (*kafkaGoMember, error) {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: group,
		Brokers: []string{c.bootstrap}, Topics: []string{topic},
		HeartbeatInterval: s.heartbeat(), SessionTimeout: s.session(),
		JoinGroupBackoff: 500 * time.Millisecond, ErrorLogger: kafkaGoLog})
	if err != nil {
		return nil, fmt.Errorf("NewConsumerGroup: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &kafkaGoMember{cg: cg, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			gen, err := cg.Next(ctx)
			if err != nil {
				if !errors.Is(err, kafka.ErrGroupClosed) && ctx.Err() == nil {
					m.mu.Lock()
					m.failure = err
					m.mu.Unlock()
				}
				return
			}
			var ps []int32
			for _, a := range gen.Assignments[topic] {
				ps = append(ps, int32(a.ID))
			}
			m.mu.Lock()
			m.owned, m.gen = sortedInts(ps), gen
			m.mu.Unlock()
		}
	}()
	return m, nil
}

func (m *kafkaGoMember) get() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32{}, m.owned...)
}

func (m *kafkaGoMember) commit(offsets map[string]map[int]int64) error {
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()
	if gen == nil {
		return errors.New("commit: no generation yet")
	}
	return gen.CommitOffsets(offsets)
}

func (m *kafkaGoMember) leave() error {
	err := m.cg.Close()
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failure != nil {
		return m.failure
	}
	return err
}

func (c *kafkaGoClient) rebalance(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	if err := c.createTopics(ctx, map[string]int{topic: s.RebalancePartitions}, nil); err != nil {
		return err
	}
	return rebalanceSteps(ctx, s, o, func(string) (func() []int32, func() error, error) {
		m, err := c.joinConsumerGroup(s, group, topic)
		if err != nil {
			return nil, nil, err
		}
		return m.get, m.leave, nil
	})
}

func (c *kafkaGoClient) admin(ctx context.Context, s *spec, prefix string, o obs) error {
	topic := prefix
	o["base_ms"] = s.BaseMs
	if err := c.createTopics(ctx, map[string]int{topic: s.AdminPartitions},
		s.TopicConfigs); err != nil {
		return err
	}
	cl := c.client()
	describe := func() (map[string]string, error) {
		resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
			Resources: []kafka.DescribeConfigRequestResource{{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}}})
		if err != nil {
			return nil, fmt.Errorf("DescribeConfigs: %w", err)
		}
		if len(resp.Resources) != 1 {
			return nil, fmt.Errorf("DescribeConfigs: %d resources", len(resp.Resources))
		}
		if resp.Resources[0].Error != nil {
			return nil, fmt.Errorf("DescribeConfigs: %w", resp.Resources[0].Error)
		}
		out := map[string]string{}
		for _, e := range resp.Resources[0].ConfigEntries {
			out[e.ConfigName] = e.ConfigValue
		}
		return out, nil
	}
	var err error
	if o["configs_created"], err = settle(ctx, describe, s.created); err != nil {
		return err
	}
	aresp, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: "retention.ms",
				Value: s.AlteredRetentionMs, ConfigOperation: kafka.ConfigOperationSet}}}}})
	if err != nil {
		return fmt.Errorf("IncrementalAlterConfigs: %w", err)
	}
	for _, r := range aresp.Resources {
		if r.Error != nil {
			return fmt.Errorf("IncrementalAlterConfigs: %w", r.Error)
		}
	}
	o["alter_kind"] = "incremental"
	if o["configs_altered"], err = settle(ctx, describe, s.altered); err != nil {
		return err
	}
	presp, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic,
			Count: int32(s.AdminPartitionsNew)}}})
	if err != nil {
		return fmt.Errorf("CreatePartitions: %w", err)
	}
	for _, err := range presp.Errors {
		if err != nil {
			return fmt.Errorf("CreatePartitions: %w", err)
		}
	}
	if o["partitions_after"], err = settle(ctx, func() (int, error) {
		md, err := c.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil || len(md.Topics) != 1 {
			return 0, fmt.Errorf("Metadata: %v", err)
		}
		return len(md.Topics[0].Partitions), nil
	}, func(n int) bool { return n == s.AdminPartitionsNew }); err != nil {
		return err
	}

	partOf := map[string]int{}
	var msgs []kafka.Message
	for i, ts := range s.Timestamps {
		v := fmt.Sprintf("t-%d", i)
		partOf[v] = 0
		msgs = append(msgs, kafka.Message{Value: []byte(v), Time: time.UnixMilli(ts)})
	}
	if err := c.write(ctx, c.writer(topic, partOf), msgs); err != nil {
		return err
	}
	offsets := obs{}
	o["offsets"] = offsets
	for _, q := range []struct {
		name string
		spec int64
	}{{"earliest", kafka.FirstOffset}, {"latest", kafka.LastOffset},
		{"by_timestamp", s.ByTimestamp}} {
		off, _, err := c.listOffset(ctx, topic, 0, q.spec)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		offsets[q.name] = off
	}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return fmt.Errorf("Metadata: %w", err)
	}
	ids := []int{}
	for _, b := range md.Brokers {
		ids = append(ids, b.ID)
	}
	o["cluster"] = obs{"brokers": ids, "controller": md.Controller.ID,
		"cluster_id": md.ClusterID}
	return nil
}

func (c *kafkaGoClient) adminGroups(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	o["group"] = group
	if err := c.createTopics(ctx, map[string]int{topic: s.GroupPartitions}, nil); err != nil {
		return err
	}
	cl := c.client()
	var protocolTypes map[string]string
	listed := func() ([]string, error) {
		resp, err := cl.ListGroups(ctx, &kafka.ListGroupsRequest{})
		if err != nil {
			return nil, fmt.Errorf("ListGroups: %w", err)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("ListGroups: %w", resp.Error)
		}
		protocolTypes = map[string]string{}
		for _, g := range resp.Groups {
			protocolTypes[g.GroupID] = g.ProtocolType
		}
		return keys(protocolTypes), nil
	}
	// kafka-go's DescribeGroups answer leaves out the protocol type; ListGroups has it.
	describe := func() (obs, error) {
		if _, err := listed(); err != nil {
			return nil, err
		}
		resp, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil {
			return nil, fmt.Errorf("DescribeGroups: %w", err)
		}
		if len(resp.Groups) != 1 {
			return nil, fmt.Errorf("DescribeGroups: %d groups", len(resp.Groups))
		}
		g := resp.Groups[0]
		if g.Error != nil {
			return nil, fmt.Errorf("DescribeGroups: %w", g.Error)
		}
		members := []obs{}
		for _, m := range g.Members {
			var ps []int32
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic == topic {
					for _, p := range t.Partitions {
						ps = append(ps, int32(p))
					}
				}
			}
			members = append(members, obs{"client_id": m.ClientID, "assigned": sortedInts(ps)})
		}
		return obs{"state": g.GroupState, "protocol_type": protocolTypes[group],
			"members": members}, nil
	}
	m, err := c.joinConsumerGroup(s, group, topic)
	if err != nil {
		return err
	}
	err = waitFor(ctx, s.wait(), "no full assignment",
		func() bool { return len(m.get()) == s.GroupPartitions },
		func() string { return fmt.Sprintf("owns %v", m.get()) })
	if err == nil {
		parts := map[int]int64{}
		for p := 0; p < s.GroupPartitions; p++ {
			parts[p] = 0
		}
		if err = m.commit(map[string]map[int]int64{topic: parts}); err != nil {
			err = fmt.Errorf("CommitOffsets: %w", err)
		}
	}
	if err == nil {
		o["listed"], err = listed()
	}
	if err == nil {
		o["described_active"], err = describe()
	}
	if lerr := m.leave(); lerr != nil && err == nil {
		err = fmt.Errorf("leaving: %w", lerr)
	}
	if err != nil {
		return err
	}
	if o["described_empty"], err = describe(); err != nil {
		return err
	}
	o["delete_error"] = nil
	dresp, err := cl.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		o["delete_error"] = err.Error()
	} else if derr := dresp.Errors[group]; derr != nil {
		o["delete_error"] = derr.Error()
	}
	o["listed_after_delete"], err = listed()
	return err
}

func (c *kafkaGoClient) deleteRecords(ctx context.Context, s *spec, prefix string, o obs) error {
	return errors.New("kafka-go has no DeleteRecords")
}

func (c *kafkaGoClient) produceAndRead(ctx context.Context, s *spec, topic string, o obs) error {
	if err := c.createTopics(ctx, map[string]int{topic: 1}, nil); err != nil {
		return err
	}
	// The Writer as kafka-go configures it by default (it batches for up to 1 s).
	w := &kafka.Writer{Addr: kafka.TCP(c.bootstrap), Topic: topic}
	var msgs []kafka.Message
	for _, v := range s.DefaultsValues {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := c.write(ctx, w, msgs); err != nil {
		return err
	}
	got, err := c.readAll(ctx, s, topic, 0)
	rows := [][]any{}
	for _, m := range got {
		rows = append(rows, []any{m.Offset, string(m.Value)})
	}
	o["consumed"] = rows
	return err
}

func (c *kafkaGoClient) producerDefaults(ctx context.Context, s *spec, prefix string, o obs) error {
	return c.produceAndRead(ctx, s, prefix, o)
}

// producerNoIdempotence is the default Writer again: kafka-go has no idempotent producer.
func (c *kafkaGoClient) producerNoIdempotence(ctx context.Context, s *spec, prefix string,
	o obs) error {
	return c.produceAndRead(ctx, s, prefix, o)
}
