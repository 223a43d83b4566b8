// SPDX-License-Identifier: Apache-2.0

// Command txn runs one transaction scenario of issue 11 with IBM/sarama 1.61 against one
// broker and prints what it saw as one JSON object, the last line on stdout:
//
//	txn -scenario NAME -bootstrap HOST:PORT <spec.json
//
// NAME is interleaved, consume_transform_produce, fencing, timeout, kill_produce or
// kill_verify. tests/integration/test_txn_sarama.py runs it against Runnel or Apache Kafka and
// checks the observation with the checks every client gets (txn_common.py, which describes the
// scenarios, the flat spec on stdin and the observations). A step that fails stops the
// scenario: the observation then has an "error" key, with everything seen until then.
// kill_produce also prints "COMMITTING n" before each commit and "COMMITTED n MILLIS" after,
// and after the last commit waits for the end of stdin (the test closes it after the kill).
// sarama's log goes to stderr. The exit status is 0 whenever the observation was printed.
//
// Config.Version is V4_3_1_0, the newest Kafka sarama 1.61 knows: sarama sends ApiVersions
// and uses, per request, the highest version both sides have. Its transactional producer is
// a SyncProducer with Producer.Transaction.ID; NewSyncProducer sends InitProducerId.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

type spec struct {
	Prefix   string `json:"prefix"`
	Sentinel string `json:"sentinel"`
	WaitMs   int    `json:"wait_ms"`

	ATopic      string `json:"a_topic"`
	ATxnID      string `json:"a_txn_id"`
	ATxns       int    `json:"a_txns"`
	AMsgs       int    `json:"a_msgs"`
	APartitions int    `json:"a_partitions"`
	AAbortEvery int    `json:"a_abort_every"`

	BInTopic    string `json:"b_in_topic"`
	BOutTopic   string `json:"b_out_topic"`
	BGroup      string `json:"b_group"`
	BTxnID      string `json:"b_txn_id"`
	BInputs     int    `json:"b_inputs"`
	BPartitions int    `json:"b_partitions"`
	BTxnSize    int    `json:"b_txn_size"`
	BRun1Txns   int    `json:"b_run1_txns"`

	CTopic      string `json:"c_topic"`
	CTxnID      string `json:"c_txn_id"`
	CPartitions int    `json:"c_partitions"`
	CMsgs       int    `json:"c_msgs"`

	DTopic      string `json:"d_topic"`
	DOpenTxnID  string `json:"d_open_txn_id"`
	DAfterTxnID string `json:"d_after_txn_id"`
	DPartitions int    `json:"d_partitions"`
	DMsgs       int    `json:"d_msgs"`
	DTimeoutMs  int    `json:"d_timeout_ms"`

	ETopic      string `json:"e_topic"`
	ETxnID      string `json:"e_txn_id"`
	EPartitions int    `json:"e_partitions"`
	EMsgs       int    `json:"e_msgs"`
	EKillTxn    int    `json:"e_kill_txn"`
}

func (s *spec) wait() time.Duration { return time.Duration(s.WaitMs) * time.Millisecond }

type obs map[string]any

type run struct {
	s         *spec
	bootstrap string
	o         obs
	closers   []func() error
	// The closer of each transactional producer, among closers.
	producerClosers map[sarama.SyncProducer]func() error
}

func init() {
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
}

func main() {
	scenario := flag.String("scenario", "", "interleaved, consume_transform_produce, fencing, "+
		"timeout, kill_produce or kill_verify")
	bootstrap := flag.String("bootstrap", "", "HOST:PORT of the broker")
	timeout := flag.Duration("timeout", 80*time.Second, "bound on the whole scenario")
	flag.Parse()
	var s spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintf(os.Stderr, "txn: reading the spec from stdin: %v\n", err)
		os.Exit(2)
	}
	r := &run{s: &s, bootstrap: *bootstrap, o: obs{},
		producerClosers: map[sarama.SyncProducer]func() error{}}
	runs := map[string]func(context.Context) error{
		"interleaved":               r.interleaved,
		"consume_transform_produce": r.consumeTransformProduce,
		"fencing":                   r.fencing,
		"timeout":                   r.timeout,
		"kill_produce":              r.killProduce,
		"kill_verify":               r.killVerify,
	}
	f, ok := runs[*scenario]
	if !ok || *bootstrap == "" {
		fmt.Fprintln(os.Stderr, "txn: need -scenario (interleaved, consume_transform_produce, "+
			"fencing, timeout, kill_produce or kill_verify) and -bootstrap")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		r.o["error"] = errText(err)
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		_ = r.closers[i]()
	}
	out, err := json.Marshal(r.o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "txn: encoding the observation: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

// kafkaErrorNames names the Kafka errors of the transaction scenarios; errText adds the name to
// sarama's text, which has only the description.
var kafkaErrorNames = map[sarama.KError]string{
	sarama.ErrInvalidProducerEpoch:         "INVALID_PRODUCER_EPOCH",
	sarama.ErrProducerFenced:               "PRODUCER_FENCED",
	sarama.ErrInvalidTxnState:              "INVALID_TXN_STATE",
	sarama.ErrConcurrentTransactions:       "CONCURRENT_TRANSACTIONS",
	sarama.ErrInvalidProducerIDMapping:     "INVALID_PRODUCER_ID_MAPPING",
	sarama.ErrTransactionCoordinatorFenced: "TRANSACTION_COORDINATOR_FENCED",
}

func errText(err error) string {
	text := err.Error()
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		name := kafkaErrorNames[kerr]
		if name == "" {
			name = "error"
		}
		text = fmt.Sprintf("%s (%d): %s", name, int16(kerr), text)
	}
	var perrs sarama.ProducerErrors
	if errors.As(err, &perrs) && len(perrs) > 0 {
		text += " <- first: " + errText(perrs[0].Err)
	}
	return text
}

func aValue(t, m int) string        { return fmt.Sprintf("a-t%02d-m%02d", t, m) }
func bInput(i int) string           { return fmt.Sprintf("in-%03d", i) }
func cValue(p string, m int) string { return fmt.Sprintf("c-%s-m%02d", p, m) }
func dValue(p string, m int) string { return fmt.Sprintf("d-%s-m%02d", p, m) }
func eValue(t, p, m int) string     { return fmt.Sprintf("e-t%02d-p%02d-m%d", t, p, m) }

// -- clients ------------------------------------------------------------------------------

func (r *run) config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_3_1_0
	cfg.ClientID = r.s.Prefix + "-txn"
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 15 * time.Second
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Admin.Timeout = 20 * time.Second
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

func (r *run) admin() (sarama.ClusterAdmin, error) {
	admin, err := sarama.NewClusterAdmin([]string{r.bootstrap}, r.config())
	if err != nil {
		return nil, fmt.Errorf("NewClusterAdmin: %w", err)
	}
	r.closers = append(r.closers, admin.Close)
	return admin, nil
}

// createTopics creates each topic and waits until every partition answers ListOffsets (Kafka
// leads a new partition a moment after CreateTopics answers).
func (r *run) createTopics(topics map[string]int) error {
	admin, err := r.admin()
	if err != nil {
		return err
	}
	for t, n := range topics {
		detail := &sarama.TopicDetail{NumPartitions: int32(n), ReplicationFactor: 1}
		if err := admin.CreateTopic(t, detail, false); err != nil {
			return fmt.Errorf("CreateTopic %s: %w", t, err)
		}
	}
	client, err := sarama.NewClient([]string{r.bootstrap}, r.config())
	if err != nil {
		return fmt.Errorf("NewClient: %w", err)
	}
	defer client.Close()
	deadline := time.Now().Add(r.s.wait())
	for t, n := range topics {
		for p := int32(0); p < int32(n); p++ {
			for {
				_ = client.RefreshMetadata(t)
				if _, err := client.GetOffset(t, p, sarama.OffsetNewest); err == nil {
					break
				} else if time.Now().After(deadline) {
					return fmt.Errorf("partition %s/%d does not answer: %w", t, p, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

// txnProducer makes a transactional SyncProducer, which initializes it (InitProducerId).
func (r *run) txnProducer(txnID string, tweak func(*sarama.Config)) (sarama.SyncProducer, error) {
	cfg := r.config()
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Transaction.Retry.Backoff = 100 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	if tweak != nil {
		tweak(cfg)
	}
	p, err := sarama.NewSyncProducer([]string{r.bootstrap}, cfg)
	if err != nil {
		return nil, fmt.Errorf("NewSyncProducer (transactional id %s): %w", txnID, err)
	}
	// Closed once, by closeProducer or at the end: a second Close panics in sarama.
	var once sync.Once
	r.closers = append(r.closers, func() error {
		var err error
		once.Do(func() { err = p.Close() })
		return err
	})
	r.producerClosers[p] = r.closers[len(r.closers)-1]
	return p, nil
}

func (r *run) closeProducer(p sarama.SyncProducer) error {
	return r.producerClosers[p]()
}

func msg(topic string, partition int, value string) *sarama.ProducerMessage {
	return &sarama.ProducerMessage{Topic: topic, Partition: int32(partition),
		Value: sarama.StringEncoder(value)}
}

func values(msgs []*sarama.ProducerMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Value.(sarama.StringEncoder))
	}
	return out
}

func sendAll(p sarama.SyncProducer, msgs []*sarama.ProducerMessage) error {
	if err := p.SendMessages(msgs); err != nil {
		return fmt.Errorf("SendMessages: %w", err)
	}
	return nil
}

func (r *run) commitSentinel(p sarama.SyncProducer, topic string, n int) error {
	if err := p.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn (sentinel): %w", err)
	}
	var msgs []*sarama.ProducerMessage
	for k := 0; k < n; k++ {
		msgs = append(msgs, msg(topic, k, r.s.Sentinel))
	}
	if err := sendAll(p, msgs); err != nil {
		return err
	}
	if err := p.CommitTxn(); err != nil {
		return fmt.Errorf("CommitTxn (sentinel): %w", err)
	}
	return nil
}

// readUntilSentinel reads every partition from the oldest offset up to and with the sentinel.
func (r *run) readUntilSentinel(ctx context.Context, topic string, n int,
	isolation sarama.IsolationLevel) (map[string][]string, error) {
	cfg := r.config()
	cfg.Consumer.IsolationLevel = isolation
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	consumer, err := sarama.NewConsumer([]string{r.bootstrap}, cfg)
	if err != nil {
		return nil, fmt.Errorf("NewConsumer: %w", err)
	}
	defer consumer.Close()
	got := map[string][]string{}
	deadline := time.After(r.s.wait())
	for p := 0; p < n; p++ {
		key := strconv.Itoa(p)
		got[key] = []string{}
		pc, err := consumer.ConsumePartition(topic, int32(p), sarama.OffsetOldest)
		if err != nil {
			return got, fmt.Errorf("ConsumePartition %s/%d: %w", topic, p, err)
		}
	read:
		for {
			select {
			case m := <-pc.Messages():
				got[key] = append(got[key], string(m.Value))
				if string(m.Value) == r.s.Sentinel {
					break read
				}
			case e := <-pc.Errors():
				pc.Close()
				return got, fmt.Errorf("reading %s/%d: %w", topic, p, e.Err)
			case <-deadline:
				pc.Close()
				return got, fmt.Errorf("%s (isolation %d): no sentinel in partition %d within %s; "+
					"read %d", topic, isolation, p, r.s.wait(), len(got[key]))
			case <-ctx.Done():
				pc.Close()
				return got, ctx.Err()
			}
		}
		pc.Close()
	}
	return got, nil
}

func (r *run) readBoth(ctx context.Context, topic string, n int) error {
	got, err := r.readUntilSentinel(ctx, topic, n, sarama.ReadCommitted)
	r.o["read_committed"] = got
	if err != nil {
		return fmt.Errorf("read_committed: %w", err)
	}
	got, err = r.readUntilSentinel(ctx, topic, n, sarama.ReadUncommitted)
	r.o["read_uncommitted"] = got
	if err != nil {
		return fmt.Errorf("read_uncommitted: %w", err)
	}
	return nil
}

// -- a ------------------------------------------------------------------------------------

func (r *run) interleaved(ctx context.Context) error {
	s := r.s
	if err := r.createTopics(map[string]int{s.ATopic: s.APartitions}); err != nil {
		return err
	}
	p, err := r.txnProducer(s.ATxnID, nil)
	if err != nil {
		return err
	}
	outcomes := []string{}
	for t := 0; t < s.ATxns; t++ {
		r.o["outcomes"] = outcomes
		if err := p.BeginTxn(); err != nil {
			return fmt.Errorf("BeginTxn %d: %w", t, err)
		}
		var msgs []*sarama.ProducerMessage
		for m := 0; m < s.AMsgs; m++ {
			msgs = append(msgs, msg(s.ATopic, m%s.APartitions, aValue(t, m)))
		}
		if err := sendAll(p, msgs); err != nil {
			return fmt.Errorf("transaction %d: %w", t, err)
		}
		if t%s.AAbortEvery == s.AAbortEvery-1 {
			if err := p.AbortTxn(); err != nil {
				return fmt.Errorf("AbortTxn %d: %w", t, err)
			}
			outcomes = append(outcomes, "abort")
		} else {
			if err := p.CommitTxn(); err != nil {
				return fmt.Errorf("CommitTxn %d: %w", t, err)
			}
			outcomes = append(outcomes, "commit")
		}
	}
	r.o["outcomes"] = outcomes
	if err := r.commitSentinel(p, s.ATopic, s.APartitions); err != nil {
		return err
	}
	return r.readBoth(ctx, s.ATopic, s.APartitions)
}

// -- b ------------------------------------------------------------------------------------

type record struct {
	partition int32
	offset    int64
	value     string
}

// ctpHandler is one run's group member: every claim hands its records to handle, one at a
// time under a lock (one transactional producer serves every partition).
type ctpHandler struct {
	mu     sync.Mutex
	handle func(sess sarama.ConsumerGroupSession, recs []record) (bool, error)
	over   bool
	err    error
	done   chan struct{}
}

func (h *ctpHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *ctpHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *ctpHandler) ConsumeClaim(sess sarama.ConsumerGroupSession,
	claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			batch := []record{{m.Partition, m.Offset, string(m.Value)}}
			// What else is already here: a transaction per batch, as a user would.
		more:
			for {
				select {
				case m2, ok := <-claim.Messages():
					if !ok {
						break more
					}
					batch = append(batch, record{m2.Partition, m2.Offset, string(m2.Value)})
				default:
					break more
				}
			}
			h.mu.Lock()
			if !h.over {
				over, err := h.handle(sess, batch)
				if err != nil {
					h.err = err
				}
				if over || err != nil {
					h.over = true
					close(h.done)
				}
			}
			h.mu.Unlock()
		case <-sess.Context().Done():
			return nil
		}
	}
}

// ctpRun runs a group member until handle says the run is over (or fails), then leaves.
func (r *run) ctpRun(ctx context.Context, what string,
	handle func(sess sarama.ConsumerGroupSession, recs []record) (bool, error)) error {
	s := r.s
	cfg := r.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	group, err := sarama.NewConsumerGroup([]string{r.bootstrap}, s.BGroup, cfg)
	if err != nil {
		return fmt.Errorf("%s: NewConsumerGroup: %w", what, err)
	}
	h := &ctpHandler{handle: handle, done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		var err error
		for runCtx.Err() == nil && err == nil {
			err = group.Consume(runCtx, []string{s.BInTopic}, h)
		}
		consumed <- err
	}()
	select {
	case <-h.done:
	case err = <-consumed:
		cancel()
		group.Close()
		return fmt.Errorf("%s: Consume: %v", what, err)
	case <-time.After(s.wait()):
		h.mu.Lock()
		h.err = fmt.Errorf("%s: not done within %s", what, s.wait())
		h.mu.Unlock()
	}
	cancel()
	<-consumed
	if err := group.Close(); err != nil {
		return fmt.Errorf("%s: closing the group: %w", what, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// ctpTxn is one transaction: the transformed records and the offsets after them.
func (r *run) ctpTxn(p sarama.SyncProducer, sess sarama.ConsumerGroupSession, recs []record,
	commit bool) ([]string, error) {
	s := r.s
	if err := p.BeginTxn(); err != nil {
		return nil, fmt.Errorf("BeginTxn: %w", err)
	}
	var msgs []*sarama.ProducerMessage
	ends := map[int32]int64{}
	var vals []string
	for _, rec := range recs {
		msgs = append(msgs, msg(s.BOutTopic, int(rec.partition), "out-"+rec.value))
		ends[rec.partition] = rec.offset + 1
		vals = append(vals, rec.value)
	}
	if err := sendAll(p, msgs); err != nil {
		return nil, err
	}
	var parts []*sarama.PartitionOffsetMetadata
	for part, off := range ends {
		parts = append(parts, &sarama.PartitionOffsetMetadata{Partition: part, Offset: off})
	}
	meta := &sarama.ConsumerGroupMetadata{GroupID: s.BGroup, GenerationID: sess.GenerationID(),
		MemberID: sess.MemberID()}
	if err := p.AddOffsetsToTxnWithGroupMetadata(map[string][]*sarama.PartitionOffsetMetadata{
		s.BInTopic: parts}, meta); err != nil {
		return nil, fmt.Errorf("AddOffsetsToTxn: %w", err)
	}
	if commit {
		if err := p.CommitTxn(); err != nil {
			return nil, fmt.Errorf("CommitTxn: %w", err)
		}
	} else if err := p.AbortTxn(); err != nil {
		return nil, fmt.Errorf("AbortTxn: %w", err)
	}
	return vals, nil
}

func (r *run) groupOffsets(admin sarama.ClusterAdmin) (map[string]int64, error) {
	s := r.s
	parts := make([]int32, s.BPartitions)
	for k := range parts {
		parts[k] = int32(k)
	}
	res, err := admin.ListConsumerGroupOffsets(s.BGroup, map[string][]int32{s.BInTopic: parts})
	if err != nil {
		return nil, fmt.Errorf("ListConsumerGroupOffsets: %w", err)
	}
	out := map[string]int64{}
	for part, block := range res.Blocks[s.BInTopic] {
		if block.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("ListConsumerGroupOffsets, partition %d: %w", part, block.Err)
		}
		out[strconv.Itoa(int(part))] = block.Offset
	}
	return out, nil
}

func (r *run) consumeTransformProduce(ctx context.Context) error {
	s := r.s
	n := s.BPartitions
	if err := r.createTopics(map[string]int{s.BInTopic: n, s.BOutTopic: n}); err != nil {
		return err
	}
	admin, err := r.admin()
	if err != nil {
		return err
	}
	plain, err := sarama.NewSyncProducer([]string{r.bootstrap}, r.config())
	if err != nil {
		return fmt.Errorf("NewSyncProducer: %w", err)
	}
	r.closers = append(r.closers, plain.Close)
	var inputs []*sarama.ProducerMessage
	for i := 0; i < s.BInputs; i++ {
		inputs = append(inputs, msg(s.BInTopic, i%n, bInput(i)))
	}
	if err := sendAll(plain, inputs); err != nil {
		return err
	}
	run1, aborted, run2 := []string{}, []string{}, []string{}
	run2First := map[string]int64{}
	r.o["run1_committed"], r.o["run1_aborted"], r.o["run2"] = run1, aborted, run2
	r.o["run2_first"] = run2First

	// Run 1: b_run1_txns transactions of b_txn_size records committed, one more aborted.
	p, err := r.txnProducer(s.BTxnID, nil)
	if err != nil {
		return err
	}
	var buffered []record
	txns := 0
	err = r.ctpRun(ctx, "run 1", func(sess sarama.ConsumerGroupSession, recs []record) (bool,
		error) {
		for _, rec := range recs {
			if txns > s.BRun1Txns {
				break
			}
			buffered = append(buffered, rec)
			if len(buffered) == s.BTxnSize {
				commit := txns < s.BRun1Txns
				vals, err := r.ctpTxn(p, sess, buffered, commit)
				if err != nil {
					return true, err
				}
				if commit {
					run1 = append(run1, vals...)
				} else {
					aborted = append(aborted, vals...)
				}
				r.o["run1_committed"], r.o["run1_aborted"] = run1, aborted
				buffered = nil
				txns++
			}
		}
		return txns > s.BRun1Txns, nil
	})
	if err != nil {
		return err
	}
	if err := r.closeProducer(p); err != nil {
		return fmt.Errorf("closing run 1's producer: %w", err)
	}

	// Run 2: from the committed offsets to the end of every partition.
	ends := map[string]int64{}
	for i := 0; i < s.BInputs; i++ {
		ends[strconv.Itoa(i%n)]++
	}
	positions, err := r.groupOffsets(admin)
	if err != nil {
		return err
	}
	atEnd := func() bool {
		for k, e := range ends {
			if positions[k] < e {
				return false
			}
		}
		return true
	}
	p, err = r.txnProducer(s.BTxnID, nil)
	if err != nil {
		return err
	}
	if !atEnd() {
		err = r.ctpRun(ctx, "run 2", func(sess sarama.ConsumerGroupSession, recs []record) (bool,
			error) {
			key := strconv.Itoa(int(recs[0].partition))
			if _, ok := run2First[key]; !ok {
				run2First[key] = recs[0].offset
			}
			vals, err := r.ctpTxn(p, sess, recs, true)
			if err != nil {
				return true, err
			}
			run2 = append(run2, vals...)
			r.o["run2"] = run2
			positions[key] = recs[len(recs)-1].offset + 1
			return atEnd(), nil
		})
		if err != nil {
			return err
		}
	}
	if err := r.commitSentinel(p, s.BOutTopic, n); err != nil {
		return err
	}
	if r.o["committed"], err = r.groupOffsets(admin); err != nil {
		return err
	}
	out, err := r.readUntilSentinel(ctx, s.BOutTopic, n, sarama.ReadCommitted)
	r.o["output"] = out
	return err
}

// -- c ------------------------------------------------------------------------------------

func (r *run) fencing(ctx context.Context) error {
	s := r.s
	n := s.CPartitions
	if err := r.createTopics(map[string]int{s.CTopic: n}); err != nil {
		return err
	}
	batch := func(part string, count int) []*sarama.ProducerMessage {
		var out []*sarama.ProducerMessage
		for m := 0; m < count; m++ {
			out = append(out, msg(s.CTopic, m%n, cValue(part, m)))
		}
		return out
	}
	first, err := r.txnProducer(s.CTxnID, func(cfg *sarama.Config) {
		cfg.Producer.Transaction.Retry.Max = 3
	})
	if err != nil {
		return err
	}
	if err := first.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn: %w", err)
	}
	if err := sendAll(first, batch("a1", s.CMsgs)); err != nil {
		return err
	}
	if err := first.CommitTxn(); err != nil {
		return fmt.Errorf("CommitTxn: %w", err)
	}
	if err := first.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn: %w", err)
	}
	a2 := batch("a2", s.CMsgs)
	if err := sendAll(first, a2); err != nil {
		return err
	}
	r.o["a2_acked"] = values(a2)

	second, err := r.txnProducer(s.CTxnID, nil)
	if err != nil {
		return err
	}
	// Producer 1's next operations: one more record, then the commit.
	late := []*sarama.ProducerMessage{msg(s.CTopic, 0, cValue("a2", s.CMsgs))}
	if err := sendAll(first, late); err != nil {
		r.o["fence_step"], r.o["fence_error"] = "send", errText(err)
	}
	if err := first.CommitTxn(); err != nil {
		if _, ok := r.o["fence_step"]; !ok {
			r.o["fence_step"], r.o["fence_error"] = "commit", errText(err)
		}
	} else if _, ok := r.o["fence_step"]; !ok {
		r.o["fence_step"], r.o["fence_error"] = "commit (which succeeded)", ""
	}
	if err := second.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn (producer 2): %w", err)
	}
	if err := sendAll(second, batch("b", s.CMsgs)); err != nil {
		return err
	}
	if err := second.CommitTxn(); err != nil {
		return fmt.Errorf("CommitTxn (producer 2): %w", err)
	}
	if err := r.commitSentinel(second, s.CTopic, n); err != nil {
		return err
	}
	return r.readBoth(ctx, s.CTopic, n)
}

// -- d ------------------------------------------------------------------------------------

func (r *run) timeout(ctx context.Context) error {
	s := r.s
	n := s.DPartitions
	if err := r.createTopics(map[string]int{s.DTopic: n}); err != nil {
		return err
	}
	batch := func(part string) []*sarama.ProducerMessage {
		var out []*sarama.ProducerMessage
		for m := 0; m < s.DMsgs; m++ {
			out = append(out, msg(s.DTopic, m%n, dValue(part, m)))
		}
		return out
	}
	opened, err := r.txnProducer(s.DOpenTxnID, func(cfg *sarama.Config) {
		cfg.Producer.Transaction.Timeout = time.Duration(s.DTimeoutMs) * time.Millisecond
		cfg.Producer.Transaction.Retry.Max = 3
	})
	if err != nil {
		return err
	}
	if err := opened.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn: %w", err)
	}
	open := batch("open")
	if err := sendAll(opened, open); err != nil {
		return err
	}
	r.o["open_acked"] = values(open)
	tOpen := time.Now()
	after, err := r.txnProducer(s.DAfterTxnID, nil)
	if err != nil {
		return err
	}
	if err := after.BeginTxn(); err != nil {
		return fmt.Errorf("BeginTxn: %w", err)
	}
	if err := sendAll(after, batch("after")); err != nil {
		return err
	}
	if err := after.CommitTxn(); err != nil {
		return fmt.Errorf("CommitTxn: %w", err)
	}
	if err := r.commitSentinel(after, s.DTopic, n); err != nil {
		return err
	}
	got, err := r.readUntilSentinel(ctx, s.DTopic, n, sarama.ReadCommitted)
	r.o["read_committed"] = got
	if err != nil {
		return fmt.Errorf("read_committed: %w", err)
	}
	r.o["seconds_to_sentinel"] = time.Since(tOpen).Seconds()
	if r.o["read_uncommitted"], err = r.readUntilSentinel(ctx, s.DTopic, n,
		sarama.ReadUncommitted); err != nil {
		return fmt.Errorf("read_uncommitted: %w", err)
	}
	if err := opened.CommitTxn(); err != nil {
		r.o["open_commit_error"] = errText(err)
	} else {
		r.o["open_commit_error"] = nil
	}
	return nil
}

// -- e ------------------------------------------------------------------------------------

func (r *run) killProduce(ctx context.Context) error {
	s := r.s
	n := s.EPartitions
	if err := r.createTopics(map[string]int{s.ETopic: n}); err != nil {
		return err
	}
	// Few retries: the commit the kill interrupts gives up within seconds.
	p, err := r.txnProducer(s.ETxnID, func(cfg *sarama.Config) {
		cfg.Producer.Transaction.Retry.Max = 10
		cfg.Producer.Retry.Max = 3
		cfg.Metadata.Retry.Max = 2
	})
	if err != nil {
		return err
	}
	committed := []int{}
	commitMs := []float64{}
	r.o["committed"], r.o["commit_ms"] = committed, commitMs
	for t := 0; t <= s.EKillTxn; t++ {
		if err := p.BeginTxn(); err != nil {
			return fmt.Errorf("BeginTxn %d: %w", t, err)
		}
		var msgs []*sarama.ProducerMessage
		for k := 0; k < n; k++ {
			for m := 0; m < s.EMsgs; m++ {
				msgs = append(msgs, msg(s.ETopic, k, eValue(t, k, m)))
			}
		}
		if err := sendAll(p, msgs); err != nil {
			return fmt.Errorf("transaction %d: %w", t, err)
		}
		fmt.Printf("COMMITTING %d\n", t)
		t0 := time.Now()
		if err := p.CommitTxn(); err != nil {
			r.o["commit_error"] = errText(err)
			break
		}
		ms := float64(time.Since(t0).Microseconds()) / 1000
		committed = append(committed, t)
		commitMs = append(commitMs, ms)
		r.o["committed"], r.o["commit_ms"] = committed, commitMs
		fmt.Printf("COMMITTED %d %.2f\n", t, ms)
	}
	// Alive until the test, which kills the broker, closes stdin: a kill that comes after the
	// last commit still finds this producer connected, as a user's would be.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func (r *run) killVerify(ctx context.Context) error {
	s := r.s
	p, err := r.txnProducer(s.ETxnID, nil)
	if err != nil {
		return err
	}
	if err := r.commitSentinel(p, s.ETopic, s.EPartitions); err != nil {
		return err
	}
	got, err := r.readUntilSentinel(ctx, s.ETopic, s.EPartitions, sarama.ReadCommitted)
	r.o["read_committed"] = got
	return err
}
