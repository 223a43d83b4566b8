// SPDX-License-Identifier: Apache-2.0

// Command goclients runs one scenario of the tests of today's clients (issue 10) with one Go
// client against one broker, and prints what it saw as one JSON object on stdout:
//
//	goclients -client sarama|kafka-go|franz-go -scenario NAME -bootstrap HOST:PORT \
//		-prefix P <spec.json
//
// tests/integration/test_clients_go.py runs it against Runnel and Apache Kafka and checks the
// observations with the same checks as the Python clients (clients_common.py). The spec on
// stdin (clients_common.go_spec()) carries every record, count and setting, so the two sides
// cannot drift apart. A step that fails stops the scenario: the observation then has an
// "error" key, with everything seen until then. The client's own log goes to stderr. The exit
// status is 0 whenever the observation was printed, 2 for bad arguments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

type record struct {
	Key     string      `json:"key"`
	Value   string      `json:"value"`
	Headers [][2]string `json:"headers"`
}

type spec struct {
	Codecs              []string            `json:"codecs"`
	CodecRecords        map[string][]record `json:"codec_records"`
	GroupPartitions     int                 `json:"group_partitions"`
	GroupFirst          []string            `json:"group_first"`
	GroupSecond         []string            `json:"group_second"`
	RebalancePartitions int                 `json:"rebalance_partitions"`
	AdminPartitions     int                 `json:"admin_partitions"`
	AdminPartitionsNew  int                 `json:"admin_partitions_after"`
	TopicConfigs        map[string]string   `json:"topic_configs"`
	AlteredRetentionMs  string              `json:"altered_retention_ms"`
	BaseMs              int64               `json:"base_ms"`
	Timestamps          []int64             `json:"timestamps"`
	ByTimestamp         int64               `json:"by_timestamp"`
	DeleteBefore        int64               `json:"delete_before"`
	DeleteValues        []string            `json:"delete_records_values"`
	DeleteRecordsBefore int64               `json:"delete_records_before"`
	DefaultsValues      []string            `json:"defaults_values"`
	SessionTimeoutMs    int                 `json:"session_timeout_ms"`
	HeartbeatMs         int                 `json:"heartbeat_interval_ms"`
	WaitS               float64             `json:"wait_s"`
}

func (s *spec) wait() time.Duration { return time.Duration(s.WaitS * float64(time.Second)) }
func (s *spec) session() time.Duration {
	return time.Duration(s.SessionTimeoutMs) * time.Millisecond
}
func (s *spec) heartbeat() time.Duration { return time.Duration(s.HeartbeatMs) * time.Millisecond }

// obs is what a scenario saw, printed as JSON.
type obs map[string]any

// scenarios is one client's way of running each scenario; each fills o as it goes.
type scenarios interface {
	codecs(ctx context.Context, s *spec, prefix string, o obs) error
	group(ctx context.Context, s *spec, prefix string, o obs) error
	rebalance(ctx context.Context, s *spec, prefix string, o obs) error
	admin(ctx context.Context, s *spec, prefix string, o obs) error
	adminGroups(ctx context.Context, s *spec, prefix string, o obs) error
	deleteRecords(ctx context.Context, s *spec, prefix string, o obs) error
	producerDefaults(ctx context.Context, s *spec, prefix string, o obs) error
	producerNoIdempotence(ctx context.Context, s *spec, prefix string, o obs) error
}

func main() {
	client := flag.String("client", "", "sarama, kafka-go or franz-go")
	scenario := flag.String("scenario", "", "codecs, group, rebalance, admin, admin_groups, "+
		"delete_records, producer_defaults or producer_no_idempotence")
	bootstrap := flag.String("bootstrap", "", "HOST:PORT of the broker")
	prefix := flag.String("prefix", "", "prefix of topic and group names")
	timeout := flag.Duration("timeout", 90*time.Second, "bound on the whole scenario")
	flag.Parse()

	var sc scenarios
	switch *client {
	case "sarama":
		sc = &saramaClient{bootstrap: *bootstrap}
	case "kafka-go":
		sc = &kafkaGoClient{bootstrap: *bootstrap}
	case "franz-go":
		sc = &franzClient{bootstrap: *bootstrap}
	default:
		fmt.Fprintf(os.Stderr, "goclients: unknown -client %q\n", *client)
		os.Exit(2)
	}
	runs := map[string]func(context.Context, *spec, string, obs) error{
		"codecs":                  sc.codecs,
		"group":                   sc.group,
		"rebalance":               sc.rebalance,
		"admin":                   sc.admin,
		"admin_groups":            sc.adminGroups,
		"delete_records":          sc.deleteRecords,
		"producer_defaults":       sc.producerDefaults,
		"producer_no_idempotence": sc.producerNoIdempotence,
	}
	run, ok := runs[*scenario]
	if !ok || *bootstrap == "" || *prefix == "" {
		fmt.Fprintf(os.Stderr, "goclients: need -scenario (one of %v), -bootstrap and -prefix\n",
			keys(runs))
		os.Exit(2)
	}
	var s spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintf(os.Stderr, "goclients: reading the spec from stdin: %v\n", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	o := obs{}
	if err := run(ctx, &s, *prefix, o); err != nil {
		o["error"] = err.Error()
	}
	out, err := json.Marshal(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goclients: encoding the observation: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitFor polls cond every 50 ms until it holds or `d` passes; then it returns an error that
// says `what` and, from state(), what was seen last.
func waitFor(ctx context.Context, d time.Duration, what string, cond func() bool,
	state func() string) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s within %s: %s", what, d, state())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (%s)", what, ctx.Err(), state())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// settle calls fetch every 100 ms until done(value) holds or 10 s pass, and returns the last
// value (the checks then say what is wrong). Kafka applies topic changes through its metadata
// log, so for a moment after acknowledging one, the broker may describe the old state; a user
// waits the same way (clients_common.settle).
func settle[T any](ctx context.Context, fetch func() (T, error), done func(T) bool) (T, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := fetch()
		if err != nil || done(v) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// created and altered tell whether described configs show the topic's configs as created,
// and after the alteration.
func (s *spec) created(configs map[string]string) bool {
	return configs["retention.ms"] == s.TopicConfigs["retention.ms"]
}

func (s *spec) altered(configs map[string]string) bool {
	return configs["retention.ms"] == s.AlteredRetentionMs
}

// partitionOf gives, for the group scenario, the partition of each value: value i of
// first+second goes to partition i % partitions.
func groupRecords(s *spec, second bool) (values []string, partitions []int32) {
	start, vs := 0, s.GroupFirst
	if second {
		start, vs = len(s.GroupFirst), s.GroupSecond
	}
	for j, v := range vs {
		values = append(values, v)
		partitions = append(partitions, int32((start+j)%s.GroupPartitions))
	}
	return values, partitions
}

// consumed is one record as the checks want it: [partition, offset, value].
func consumed(p int32, offset int64, value []byte) []any {
	return []any{p, offset, string(value)}
}

func sortedInts(ps []int32) []int32 {
	out := append([]int32{}, ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func headersOut(hs [][2]string) [][2]string {
	if hs == nil {
		return [][2]string{}
	}
	return hs
}

func ptr[T any](v T) *T { return &v }
