// SPDX-License-Identifier: Apache-2.0
// One kafkajs 2.2.4 group consumer as its own node process, for test_groups_kafkajs.py.
// Usage: node group_consumer.js HOST:PORT GROUP TOPIC NAME [SESSION_MS] [MAX_SECONDS]
//
// Subscribes from the beginning with autoCommit off and reports on stdout, one JSON object a
// line (stdout writes to a pipe are synchronous in Node on Linux, so what a SIGKILLed process
// reported is all in the pipe), in the same shape as ../group_worker.py:
//   {"ev":"start"} {"ev":"assign","parts":[...]} (GROUP_JOIN) {"ev":"revoke","parts":[...]}
//   (REBALANCING) {"ev":"msg","p":P,"o":O,"v":V} {"ev":"commit","offsets":{"P":NEXT}}
//   {"ev":"commit_failed",...} {"ev":"error",...} {"ev":"closed"}
// Each batch is processed message by message (resolveOffset each) and then committed with
// consumer.commitOffsets before the next fetch. A line `close` on stdin (or EOF) disconnects
// the consumer (LeaveGroup) and exits 0. Logs go to stderr.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const stderrLogCreator = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log;
  const when = new Date().toISOString();
  process.stderr.write(`${when} ${label} [${namespace}] ${message} ${JSON.stringify(extra)}\n`);
};

async function main() {
  const [broker, groupId, topic, name, sessionMs, maxSeconds] = process.argv.slice(2);
  if (!broker || !groupId || !topic || !name) {
    throw new Error('usage: node group_consumer.js HOST:PORT GROUP TOPIC NAME '
      + '[SESSION_MS] [MAX_SECONDS]');
  }
  const kafka = new Kafka({
    clientId: name,
    brokers: [broker],
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.WARN,
    logCreator: stderrLogCreator,
  });
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: Number(sessionMs || 6000),
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  let current = [];
  let closing = false;
  out({ ev: 'start', name, pid: process.pid });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    current = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b);
    out({
      ev: 'assign', parts: current, leader: e.payload.isLeader, protocol: e.payload.groupProtocol,
    });
  });
  consumer.on(consumer.events.REBALANCING, () => {
    out({ ev: 'revoke', parts: current });
    current = [];
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const error = String(e.payload.error && e.payload.error.message);
    out({ ev: 'error', error, fatal: !e.payload.restart });
  });

  const close = async () => {
    if (closing) return;
    closing = true;
    try {
      await consumer.disconnect();
      out({ ev: 'closed' });
      process.exit(0);
    } catch (e) {
      out({ ev: 'error', error: String(e && e.message), fatal: true });
      process.exit(1);
    }
  };
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buf += d;
    if (buf.split('\n').some((l) => l.trim() === 'close')) close();
  });
  process.stdin.on('end', close);
  setTimeout(close, Number(maxSeconds || 120) * 1000).unref();

  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      let last = null;
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const v = m.value === null ? null : m.value.toString();
        out({ ev: 'msg', p: batch.partition, o: Number(m.offset), v });
        resolveOffset(m.offset);
        last = m.offset;
      }
      if (last === null) return;
      const next = (BigInt(last) + 1n).toString();
      try {
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: next },
        ]);
        out({ ev: 'commit', offsets: { [batch.partition]: Number(next) } });
      } catch (e) {
        out({
          ev: 'commit_failed',
          offsets: { [batch.partition]: Number(next) },
          error: String(e && e.message),
        });
      }
      await heartbeat();
    },
  });
}

main().catch((e) => {
  out({ ev: 'error', error: String(e && e.stack), fatal: true });
  process.exit(1);
});
