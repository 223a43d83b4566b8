// SPDX-License-Identifier: Apache-2.0

// twmb/franz-go: kgo for producing and consuming (its default configuration, plus what a
// scenario needs: partitions chosen by hand, a codec, a group), kadm for admin, and kmsg for
// DescribeCluster, which kadm does not wrap. kgo produces idempotently unless told otherwise
// (DisableIdempotentWrite); its groups use the classic protocol with the cooperative-sticky
// balancer by default.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type franzClient struct {
	bootstrap string
}

func (c *franzClient) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(c.bootstrap), kgo.ClientID("runnel-it-franz-go"),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string {
			return time.Now().Format("15:04:05.000000 [franz-go] ")
		}))}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kgo.NewClient: %w", err)
	}
	return cl, nil
}

// producerOpts: records go to the partition they name; the producer stays idempotent, as
// kgo's default is.
func (c *franzClient) producerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}
}

func (c *franzClient) withAdmin(f func(*kadm.Client) error) error {
	return c.withClients(func(_ *kgo.Client, adm *kadm.Client) error { return f(adm) })
}

func (c *franzClient) withClients(f func(*kgo.Client, *kadm.Client) error) error {
	cl, err := c.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	return f(cl, kadm.NewClient(cl))
}

func (c *franzClient) createTopics(ctx context.Context, topics map[string]int,
	configs map[string]string) error {
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = ptr(v)
	}
	return c.withAdmin(func(adm *kadm.Client) error {
		for t, n := range topics {
			r, err := adm.CreateTopic(ctx, int32(n), 1, cfg, t)
			if err == nil {
				err = r.Err
			}
			if err != nil {
				return fmt.Errorf("CreateTopic %s: %w", t, err)
			}
		}
		return nil
	})
}

// produce sends rs with a client built from opts and returns their offsets.
func (c *franzClient) produce(ctx context.Context, rs []*kgo.Record, opts ...kgo.Opt) ([]int64,
	error) {
	cl, err := c.newClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(pctx, rs...)
	if err := res.FirstErr(); err != nil {
		return nil, fmt.Errorf("ProduceSync: %w", err)
	}
	offsets := make([]int64, len(rs))
	for i, r := range rs {
		offsets[i] = r.Offset
	}
	return offsets, nil
}

// readAll reads partitions 0..n-1 of topic from the start to the end offsets kadm lists.
func (c *franzClient) readAll(ctx context.Context, s *spec, topic string,
	n int) ([]*kgo.Record, error) {
	var ends kadm.ListedOffsets
	err := c.withAdmin(func(adm *kadm.Client) error {
		var err error
		ends, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ListEndOffsets: %w", err)
	}
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < int32(n); p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := c.newClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	done := func(next map[int32]int64) bool {
		for p := int32(0); p < int32(n); p++ {
			end, _ := ends.Lookup(topic, p)
			if next[p] < end.Offset {
				if _, started := next[p]; started || end.Offset > 0 {
					return false
				}
			}
		}
		return true
	}
	var out []*kgo.Record
	next := map[int32]int64{}
	// A partition emptied by DeleteRecords starts past 0: count it done once its first record
	// or the end shows up; the loop below ends on the end offsets alone.
	for p := int32(0); p < int32(n); p++ {
		if end, _ := ends.Lookup(topic, p); end.Offset == 0 {
			next[p] = 0
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.wait())
	defer cancel()
	for !done(next) {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return out, fmt.Errorf("%s: end offsets %v not reached within %s (next %v)", topic,
				ends, s.wait(), next)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition,
				errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			next[r.Partition] = r.Offset + 1
		})
	}
	return out, nil
}

var franzCodecs = map[string]kgo.CompressionCodec{"none": kgo.NoCompression(),
	"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}

func (c *franzClient) codecs(ctx context.Context, s *spec, prefix string, o obs) error {
	topics := map[string]int{}
	for _, codec := range s.Codecs {
		topics[prefix+"-"+codec] = 1
	}
	if err := c.createTopics(ctx, topics, nil); err != nil {
		return err
	}
	produced, read := map[string][]int64{}, map[string][][]any{}
	o["produced"], o["consumed"] = produced, read
	for _, codec := range s.Codecs {
		var rs []*kgo.Record
		for _, r := range s.CodecRecords[codec] {
			rec := &kgo.Record{Topic: prefix + "-" + codec, Partition: 0, Key: []byte(r.Key),
				Value: []byte(r.Value)}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
			}
			rs = append(rs, rec)
		}
		opts := append(c.producerOpts(), kgo.ProducerBatchCompression(franzCodecs[codec]))
		offsets, err := c.produce(ctx, rs, opts...)
		if err != nil {
			return fmt.Errorf("codec %s: %w", codec, err)
		}
		produced[codec] = offsets
	}
	for _, codec := range s.Codecs {
		rs, err := c.readAll(ctx, s, prefix+"-"+codec, 1)
		rows := [][]any{}
		for _, r := range rs {
			hs := [][2]string{}
			for _, h := range r.Headers {
				hs = append(hs, [2]string{h.Key, string(h.Value)})
			}
			rows = append(rows, []any{r.Offset, string(r.Key), string(r.Value), hs})
		}
		read[codec] = rows
		if err != nil {
			return fmt.Errorf("codec %s: %w", codec, err)
		}
	}
	return nil
}

func (c *franzClient) produceGroup(ctx context.Context, s *spec, topic string, second bool) error {
	values, parts := groupRecords(s, second)
	var rs []*kgo.Record
	for i, v := range values {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: parts[i], Value: []byte(v)})
	}
	_, err := c.produce(ctx, rs, c.producerOpts()...)
	return err
}

// franzMember is a group member; owned() follows its assignment through the callbacks.
type franzMember struct {
	mu    sync.Mutex
	owned map[int32]bool
	cl    *kgo.Client
}

func (m *franzMember) get() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.owned {
		ps = append(ps, p)
	}
	return sortedInts(ps)
}

func (c *franzClient) joinGroup(s *spec, group, topic, clientID string) (*franzMember, error) {
	m := &franzMember{owned: map[int32]bool{}}
	change := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				if add {
					m.owned[p] = true
				} else {
					delete(m.owned, p)
				}
			}
		}
	}
	cl, err := c.newClient(kgo.ClientID(clientID), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(s.session()),
		kgo.HeartbeatInterval(s.heartbeat()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(change(true)), kgo.OnPartitionsRevoked(change(false)),
		kgo.OnPartitionsLost(change(false)))
	if err != nil {
		return nil, err
	}
	m.cl = cl
	return m, nil
}

// poll runs PollFetches until stop is closed, so that the member joins and follows rebalances
// (franz-go joins on its own, but its callbacks run inside polls).
func (m *franzMember) pollUntil(stop chan struct{}) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			m.cl.PollFetches(ctx)
			cancel()
		}
	}()
	return done
}

func (c *franzClient) consumeGroup(ctx context.Context, s *spec, group, topic string,
	want int) ([][]any, error) {
	m, err := c.joinGroup(s, group, topic, "runnel-it-franz-go")
	if err != nil {
		return nil, err
	}
	defer m.cl.Close()
	rows := [][]any{}
	deadline := time.Now().Add(s.wait())
	extraUntil := time.Time{}
	for {
		now := time.Now()
		if !extraUntil.IsZero() && now.After(extraUntil) {
			break
		}
		if now.After(deadline) {
			return rows, fmt.Errorf("read %d of %d records within %s", len(rows), want, s.wait())
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := m.cl.PollFetches(pctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return rows, fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			rows = append(rows, consumed(r.Partition, r.Offset, r.Value))
		})
		if len(rows) >= want && extraUntil.IsZero() {
			extraUntil = time.Now().Add(time.Second)
		}
	}
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		return rows, fmt.Errorf("CommitUncommittedOffsets: %w", err)
	}
	return rows, nil
}

func (c *franzClient) group(ctx context.Context, s *spec, prefix string, o obs) error {
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
	err = c.withAdmin(func(adm *kadm.Client) error {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("FetchOffsets: %w", err)
		}
		committed := map[string]int64{}
		for p := int32(0); p < int32(s.GroupPartitions); p++ {
			if r, ok := resp.Lookup(topic, p); ok {
				committed[strconv.Itoa(int(p))] = r.At
			}
		}
		o["committed"] = committed
		return nil
	})
	if err != nil {
		return err
	}
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

func (c *franzClient) rebalance(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	if err := c.createTopics(ctx, map[string]int{topic: s.RebalancePartitions}, nil); err != nil {
		return err
	}
	return rebalanceSteps(ctx, s, o, func(name string) (func() []int32, func() error, error) {
		m, err := c.joinGroup(s, group, topic, "member-"+name)
		if err != nil {
			return nil, nil, err
		}
		stop := make(chan struct{})
		done := m.pollUntil(stop)
		leave := func() error {
			close(stop)
			<-done
			m.cl.Close() // leaves the group
			return nil
		}
		return m.get, leave, nil
	})
}

func (c *franzClient) admin(ctx context.Context, s *spec, prefix string, o obs) error {
	topic := prefix
	o["base_ms"] = s.BaseMs
	if err := c.createTopics(ctx, map[string]int{topic: s.AdminPartitions},
		s.TopicConfigs); err != nil {
		return err
	}
	err := c.withAdmin(func(adm *kadm.Client) error {
		describe := func() (map[string]string, error) {
			rcs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err != nil {
				return nil, err
			}
			rc, err := rcs.On(topic, nil)
			if err == nil {
				err = rc.Err
			}
			out := map[string]string{}
			for _, cfg := range rc.Configs {
				out[cfg.Key] = cfg.MaybeValue()
			}
			return out, err
		}
		var err error
		if o["configs_created"], err = settle(ctx, describe, s.created); err != nil {
			return fmt.Errorf("DescribeTopicConfigs: %w", err)
		}
		ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig,
			Name: "retention.ms", Value: ptr(s.AlteredRetentionMs)}}, topic)
		if err == nil {
			_, err = ar.On(topic, nil)
		}
		if err == nil {
			for _, r := range ar {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			return fmt.Errorf("AlterTopicConfigs: %w", err)
		}
		o["alter_kind"] = "incremental"
		if o["configs_altered"], err = settle(ctx, describe, s.altered); err != nil {
			return fmt.Errorf("DescribeTopicConfigs after alter: %w", err)
		}
		pr, err := adm.UpdatePartitions(ctx, s.AdminPartitionsNew, topic)
		if err == nil {
			err = pr.Error()
		}
		if err != nil {
			return fmt.Errorf("UpdatePartitions: %w", err)
		}
		o["partitions_after"], err = settle(ctx, func() (int, error) {
			md, err := adm.Metadata(ctx, topic)
			if err != nil {
				return 0, fmt.Errorf("Metadata: %w", err)
			}
			return len(md.Topics[topic].Partitions), nil
		}, func(n int) bool { return n == s.AdminPartitionsNew })
		return err
	})
	if err != nil {
		return err
	}
	var rs []*kgo.Record
	for i, ts := range s.Timestamps {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: 0,
			Value: []byte(fmt.Sprintf("t-%d", i)), Timestamp: time.UnixMilli(ts)})
	}
	if _, err := c.produce(ctx, rs, c.producerOpts()...); err != nil {
		return err
	}
	return c.withClients(func(cl *kgo.Client, adm *kadm.Client) error {
		offsets := obs{}
		o["offsets"] = offsets
		list := func(name string, f func() (kadm.ListedOffsets, error)) (kadm.ListedOffset,
			error) {
			lo, err := f()
			if err == nil {
				err = lo.Error()
			}
			r, ok := lo.Lookup(topic, 0)
			if err == nil && !ok {
				err = errors.New("no answer for partition 0")
			}
			if err != nil {
				return r, fmt.Errorf("%s: %w", name, err)
			}
			return r, nil
		}
		start := func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, topic) }
		for _, q := range []struct {
			name string
			f    func() (kadm.ListedOffsets, error)
		}{
			{"earliest", start},
			{"latest", func() (kadm.ListedOffsets, error) { return adm.ListEndOffsets(ctx, topic) }},
			{"by_timestamp", func() (kadm.ListedOffsets, error) {
				return adm.ListOffsetsAfterMilli(ctx, s.ByTimestamp, topic)
			}},
			{"max_timestamp", func() (kadm.ListedOffsets, error) {
				return adm.ListMaxTimestampOffsets(ctx, topic)
			}},
		} {
			r, err := list("ListOffsets "+q.name, q.f)
			if err != nil {
				return err
			}
			if q.name == "max_timestamp" {
				offsets[q.name] = []int64{r.Offset, r.Timestamp}
			} else {
				offsets[q.name] = r.Offset
			}
		}

		dr, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: kadm.Offset{Topic: topic,
			Partition: 0, At: s.DeleteBefore, LeaderEpoch: -1}}})
		if err != nil {
			return fmt.Errorf("DeleteRecords: %w", err)
		}
		d, ok := dr.Lookup(topic, 0)
		if !ok {
			return errors.New("DeleteRecords: no answer for partition 0")
		}
		if d.Err != nil {
			return fmt.Errorf("DeleteRecords: %w", d.Err)
		}
		o["low_watermark"] = d.LowWatermark
		r, err := list("ListOffsets earliest after DeleteRecords", start)
		if err != nil {
			return err
		}
		o["earliest_after_delete"] = r.Offset

		// kadm has no DescribeCluster; kmsg, franz-go's protocol package, has every request.
		resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("DescribeCluster: %w", err)
		}
		if resp.ErrorCode != 0 {
			return fmt.Errorf("DescribeCluster: error code %d", resp.ErrorCode)
		}
		ids := []int32{}
		for _, b := range resp.Brokers {
			ids = append(ids, b.NodeID)
		}
		o["cluster"] = obs{"brokers": ids, "controller": resp.ControllerID,
			"cluster_id": resp.ClusterID}
		return nil
	})
}

func (c *franzClient) adminGroups(ctx context.Context, s *spec, prefix string, o obs) error {
	topic, group := prefix, prefix
	o["group"] = group
	if err := c.createTopics(ctx, map[string]int{topic: s.GroupPartitions}, nil); err != nil {
		return err
	}
	return c.withAdmin(func(adm *kadm.Client) error {
		listed := func() ([]string, error) {
			lg, err := adm.ListGroups(ctx)
			if err != nil {
				return nil, fmt.Errorf("ListGroups: %w", err)
			}
			return lg.Groups(), nil
		}
		describe := func() (obs, error) {
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil {
				return nil, fmt.Errorf("DescribeGroups: %w", err)
			}
			d, ok := dg[group]
			if !ok {
				return nil, errors.New("DescribeGroups: no answer")
			}
			if d.Err != nil {
				return nil, fmt.Errorf("DescribeGroups: %w", d.Err)
			}
			members := []obs{}
			for _, m := range d.Members {
				var ps []int32
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						if t.Topic == topic {
							ps = append(ps, t.Partitions...)
						}
					}
				}
				members = append(members, obs{"client_id": m.ClientID,
					"assigned": sortedInts(ps)})
			}
			return obs{"state": d.State, "protocol_type": d.ProtocolType, "members": members},
				nil
		}
		m, err := c.joinGroup(s, group, topic, "runnel-it-franz-go")
		if err != nil {
			return err
		}
		stop := make(chan struct{})
		done := m.pollUntil(stop)
		err = waitFor(ctx, s.wait(), "no full assignment",
			func() bool { return len(m.get()) == s.GroupPartitions },
			func() string { return fmt.Sprintf("owns %v", m.get()) })
		if err == nil {
			offs := map[int32]kgo.EpochOffset{}
			for p := int32(0); p < int32(s.GroupPartitions); p++ {
				offs[p] = kgo.EpochOffset{Epoch: -1, Offset: 0}
			}
			// Commit through the member, which knows its generation.
			var cerr error
			m.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: offs},
				func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse,
					err error) {
					cerr = err
					if err == nil {
						for _, t := range resp.Topics {
							for _, p := range t.Partitions {
								if p.ErrorCode != 0 && cerr == nil {
									cerr = fmt.Errorf("partition %d: error code %d",
										p.Partition, p.ErrorCode)
								}
							}
						}
					}
				})
			if cerr != nil {
				err = fmt.Errorf("CommitOffsetsSync: %w", cerr)
			}
		}
		if err == nil {
			o["listed"], err = listed()
		}
		if err == nil {
			o["described_active"], err = describe()
		}
		close(stop)
		<-done
		m.cl.Close()
		if err != nil {
			return err
		}
		if o["described_empty"], err = describe(); err != nil {
			return err
		}
		o["delete_error"] = nil
		r, err := adm.DeleteGroup(ctx, group)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			o["delete_error"] = err.Error()
		}
		o["listed_after_delete"], err = listed()
		return err
	})
}

func (c *franzClient) deleteRecords(ctx context.Context, s *spec, prefix string, o obs) error {
	topic := prefix
	if err := c.createTopics(ctx, map[string]int{topic: 1}, nil); err != nil {
		return err
	}
	var rs []*kgo.Record
	for _, v := range s.DeleteValues {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)})
	}
	if _, err := c.produce(ctx, rs, c.producerOpts()...); err != nil {
		return err
	}
	err := c.withAdmin(func(adm *kadm.Client) error {
		dr, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: kadm.Offset{Topic: topic,
			Partition: 0, At: s.DeleteRecordsBefore, LeaderEpoch: -1}}})
		if err != nil {
			return fmt.Errorf("DeleteRecords: %w", err)
		}
		d, ok := dr.Lookup(topic, 0)
		if !ok {
			return errors.New("DeleteRecords: no answer for partition 0")
		}
		o["low_watermark"] = d.LowWatermark
		return d.Err
	})
	if err != nil {
		return err
	}
	return c.readBack(ctx, s, topic, o)
}

func (c *franzClient) readBack(ctx context.Context, s *spec, topic string, o obs) error {
	rs, err := c.readAll(ctx, s, topic, 1)
	rows := [][]any{}
	for _, r := range rs {
		rows = append(rows, []any{r.Offset, string(r.Value)})
	}
	o["consumed"] = rows
	return err
}

func (c *franzClient) produceAndRead(ctx context.Context, s *spec, topic string, o obs,
	opts ...kgo.Opt) error {
	if err := c.createTopics(ctx, map[string]int{topic: 1}, nil); err != nil {
		return err
	}
	var rs []*kgo.Record
	for _, v := range s.DefaultsValues {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(v)})
	}
	if _, err := c.produce(ctx, rs, opts...); err != nil {
		return err
	}
	return c.readBack(ctx, s, topic, o)
}

func (c *franzClient) producerDefaults(ctx context.Context, s *spec, prefix string, o obs) error {
	return c.produceAndRead(ctx, s, prefix, o)
}

func (c *franzClient) producerNoIdempotence(ctx context.Context, s *spec, prefix string,
	o obs) error {
	return c.produceAndRead(ctx, s, prefix, o, kgo.DisableIdempotentWrite())
}
