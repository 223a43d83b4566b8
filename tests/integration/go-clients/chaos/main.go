// SPDX-License-Identifier: Apache-2.0

// Command chaos is the franz-go producer of tests/integration/test_idempotent_chaos.py
// (issue 11):
//
//	chaos BOOTSTRAP TOPIC COUNT RATE on|off TIMEOUT_S
//
// It produces COUNT records, record i with key "k<i>" and a 100-byte value that starts with i
// in eight digits and a dash, at about RATE records a second. With "on" the client keeps its
// defaults (idempotent, acks=all, unlimited retries, up to five requests in flight per
// broker); with "off" idempotence is disabled and five requests may be in flight, as the other
// clients of the test have it. It waits for every acknowledgement, at most TIMEOUT_S seconds
// from its start, and prints one JSON object on stdout (client, acked, failed, unacked,
// errors, seconds). franz-go's log, at warn, goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type summary struct {
	Client  string   `json:"client"`
	Acked   int64    `json:"acked"`
	Failed  int64    `json:"failed"`
	Unacked int64    `json:"unacked"`
	Errors  []string `json:"errors"`
	Seconds float64  `json:"seconds"`
}

func value(i int) []byte {
	v := []byte(fmt.Sprintf("%08d-", i))
	for len(v) < 100 {
		v = append(v, 'x')
	}
	return v
}

// franzVersion is the franz-go module version this program was built with.
func franzVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/twmb/franz-go" {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: chaos BOOTSTRAP TOPIC COUNT RATE on|off TIMEOUT_S")
		os.Exit(2)
	}
	bootstrap, topic, idem := os.Args[1], os.Args[2], os.Args[5]
	count, err1 := strconv.Atoi(os.Args[3])
	rate, err2 := strconv.ParseFloat(os.Args[4], 64)
	timeoutS, err3 := strconv.ParseFloat(os.Args[6], 64)
	if err1 != nil || err2 != nil || err3 != nil || (idem != "on" && idem != "off") {
		fmt.Fprintln(os.Stderr, "chaos: bad arguments")
		os.Exit(2)
	}
	t0 := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(),
		t0.Add(time.Duration(timeoutS*float64(time.Second))))
	defer cancel()

	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.ClientID("runnel-chaos-franz-go"),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, nil))}
	if idem == "off" {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: kgo.NewClient:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := summary{Client: "franz-go " + franzVersion(), Errors: []string{}}
	for i := 0; i < count && ctx.Err() == nil; i++ {
		if wait := time.Until(t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
		rec := &kgo.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: value(i)}
		// The records' context is not the deadline's: an idempotent record cannot be
		// cancelled anyway, and the wait below is what bounds the run.
		cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				out.Acked++
				return
			}
			out.Failed++
			if len(out.Errors) < 10 {
				out.Errors = append(out.Errors, err.Error())
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: flush:", err)
	}
	mu.Lock()
	out.Unacked = int64(count) - out.Acked - out.Failed
	out.Seconds = float64(time.Since(t0).Milliseconds()) / 1000
	b, _ := json.Marshal(out)
	mu.Unlock()
	fmt.Println(string(b))
	// Close fails what is still buffered, calling the callbacks: print first.
	go cl.Close()
	time.Sleep(100 * time.Millisecond)
	os.Exit(0)
}
