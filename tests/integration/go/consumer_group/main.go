// SPDX-License-Identifier: Apache-2.0
// A sarama 1.22 consumer-group member for test_sarama.py, built by the test in GOPATH mode
// against Debian's golang-github-shopify-sarama-dev (no network, no modules).
//
// Usage: consumer_group -brokers HOST:PORT -group G -topic T -want N [-idle-ms 1500]
//        [-timeout-ms 30000]
//
// Config.Version = V2_2_0_0, Consumer.Offsets.Initial = OffsetOldest, commit every 100 ms
// (sarama's offset manager), and a final commit when the session ends. It consumes with
// NewConsumerGroup/Consume and MarkMessage for every message until it has seen N messages and
// then nothing more for idle-ms (so that extra messages show), or until timeout-ms. Then it
// cancels the session (final commit), closes the group (LeaveGroup) and exits 0.
//
// stdout, one JSON object a line: {"ev":"assign","parts":[...],"member":..,"generation":..}
// (Setup), {"ev":"revoke"} (Cleanup), {"ev":"msg","p":P,"o":O,"v":V}, {"ev":"error",...},
// {"ev":"timeout"}, {"ev":"closed"}. Exit status 2 on a setup error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

var outMu sync.Mutex

func out(v map[string]interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

type handler struct {
	topic string
	mu    sync.Mutex
	seen  int
	last  time.Time
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	parts := append([]int32(nil), s.Claims()[h.topic]...)
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	out(map[string]interface{}{"ev": "assign", "parts": parts, "member": s.MemberID(),
		"generation": s.GenerationID()})
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	out(map[string]interface{}{"ev": "revoke"})
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		out(map[string]interface{}{"ev": "msg", "p": msg.Partition, "o": msg.Offset,
			"v": string(msg.Value)})
		s.MarkMessage(msg, "")
		h.mu.Lock()
		h.seen++
		h.last = time.Now()
		h.mu.Unlock()
	}
	return nil
}

func main() {
	brokers := flag.String("brokers", "", "HOST:PORT")
	group := flag.String("group", "", "group id")
	topic := flag.String("topic", "", "topic")
	want := flag.Int("want", 0, "messages to wait for")
	idleMs := flag.Int("idle-ms", 1500, "quiet time after the wanted messages")
	timeoutMs := flag.Int("timeout-ms", 30000, "give up after this long")
	flag.Parse()
	if *brokers == "" || *group == "" || *topic == "" {
		fmt.Fprintln(os.Stderr, "usage: consumer_group -brokers HOST:PORT -group G -topic T -want N")
		os.Exit(2)
	}
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)

	config := sarama.NewConfig()
	config.Version = sarama.V2_2_0_0
	config.ClientID = "runnel-it-sarama"
	config.Consumer.Return.Errors = true
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	config.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	config.Consumer.Group.Session.Timeout = 6 * time.Second
	config.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	config.Consumer.MaxWaitTime = 250 * time.Millisecond

	cg, err := sarama.NewConsumerGroup([]string{*brokers}, *group, config)
	if err != nil {
		out(map[string]interface{}{"ev": "error", "error": err.Error(), "fatal": true})
		os.Exit(2)
	}
	go func() {
		for err := range cg.Errors() {
			out(map[string]interface{}{"ev": "error", "error": err.Error()})
		}
	}()

	h := &handler{topic: *topic}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{*topic}, h); err != nil {
				out(map[string]interface{}{"ev": "error", "error": err.Error()})
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()

	deadline := time.Now().Add(time.Duration(*timeoutMs) * time.Millisecond)
	for {
		h.mu.Lock()
		seen, last := h.seen, h.last
		h.mu.Unlock()
		if seen >= *want && time.Since(last) >= time.Duration(*idleMs)*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			out(map[string]interface{}{"ev": "timeout", "seen": seen})
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		out(map[string]interface{}{"ev": "error", "error": "Consume did not return within 15 s of cancel"})
	}
	if err := cg.Close(); err != nil {
		out(map[string]interface{}{"ev": "error", "error": "close: " + err.Error()})
	}
	out(map[string]interface{}{"ev": "closed"})
}
