// SPDX-License-Identifier: Apache-2.0
// The transaction scenarios of issue 11 with kafkajs 2.2.4, for test_txn_kafkajs.py.
// Usage: node txn.js SCENARIO HOST:PORT < spec.json (one line)
//
// SCENARIO is interleaved, consume_transform_produce, fencing, timeout, kill_produce or
// kill_verify; the spec (txn_common.spec() in ../txn_common.py, which describes each scenario
// and its observation) is a flat JSON object on stdin. The observation is one JSON object on the
// last line of stdout, with an "error" key (and what was seen until then) when a step failed;
// kill_produce also prints "COMMITTING n" before each commit and "COMMITTED n MILLIS" after it,
// and after the last commit waits for the end of stdin (the test closes it after the kill).
// kafkajs logs (WARN and up) go to stderr. Exit status 0 whenever the observation was printed.
//
// kafkajs consumers only come in groups, so every reader joins a group of its own and
// subscribes from the beginning; partitions come in batches, in offset order.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const stderrLogCreator = () => ({ namespace, label, log }) => {
  const { message, ...extra } = log;
  process.stderr.write(`${new Date().toISOString()} ${label} [${namespace}] ${message} `
    + `${JSON.stringify(extra)}\n`);
};

function errText(e) {
  const parts = [];
  for (let c = e, depth = 0; c && depth < 5; c = c.originalError || c.cause, depth += 1) {
    parts.push(`${c.name || 'Error'}${c.type ? ` ${c.type}` : ''}: ${c.message}`);
  }
  return parts.join(' <- caused by ');
}

// stdin: the spec on its first line; kill_produce then waits for its end (stdinEnded).
let stdinText = '';
let specLine = null;
const stdinEnded = new Promise((resolve) => {
  process.stdin.on('end', resolve);
  process.stdin.on('error', resolve);
});
function readSpecLine() {
  return new Promise((resolve) => {
    const take = () => {
      const i = stdinText.indexOf('\n');
      if (specLine === null && i >= 0) {
        specLine = stdinText.slice(0, i);
        resolve(specLine);
      }
    };
    process.stdin.on('data', (c) => { stdinText += c.toString('utf8'); take(); });
    stdinEnded.then(() => { if (specLine === null) { specLine = stdinText; resolve(specLine); } });
  });
}

const pad = (n, w) => String(n).padStart(w, '0');
const aValue = (t, m) => `a-t${pad(t, 2)}-m${pad(m, 2)}`;
const bInput = (i) => `in-${pad(i, 3)}`;
const cValue = (part, m) => `c-${part}-m${pad(m, 2)}`;
const dValue = (part, m) => `d-${part}-m${pad(m, 2)}`;
const eValue = (t, p, m) => `e-t${pad(t, 2)}-p${pad(p, 2)}-m${m}`;
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

class Scenarios {
  constructor(spec, bootstrap, obs) {
    this.s = spec;
    this.obs = obs;
    this.kafka = new Kafka({
      clientId: `${spec.prefix}-txn`,
      brokers: [bootstrap],
      connectionTimeout: 5000,
      requestTimeout: 15000,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: stderrLogCreator,
    });
    this.clients = [];
    this.readers = 0;
  }

  async closeAll() {
    for (const c of this.clients.reverse()) {
      try { await c.disconnect(); } catch (e) { /* closing anyway */ }
    }
  }

  async createTopics(topics) {
    const admin = this.kafka.admin();
    this.clients.push(admin);
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.entries(topics).map(([topic, n]) => ({
        topic, numPartitions: n, replicationFactor: 1,
      })),
    });
    // Kafka leads a new partition a moment after CreateTopics answers: wait until each one
    // answers ListOffsets.
    const deadline = Date.now() + this.s.wait_ms;
    for (const [topic, n] of Object.entries(topics)) {
      for (;;) {
        try {
          const offsets = await admin.fetchTopicOffsets(topic);
          if (offsets.length === n) break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
        }
        await sleep(100);
      }
    }
    return admin;
  }

  async txnProducer(transactionalId, extra = {}) {
    const producer = this.kafka.producer({
      transactionalId, idempotent: true, maxInFlightRequests: 1, ...extra,
    });
    this.clients.push(producer);
    await producer.connect();
    return producer;
  }

  async commitSentinel(producer, topic, n) {
    const txn = await producer.transaction();
    const messages = [];
    for (let p = 0; p < n; p += 1) messages.push({ value: this.s.sentinel, partition: p });
    await txn.send({ topic, messages });
    await txn.commit();
  }

  // Every value of each partition from the beginning up to and with the sentinel.
  async readUntilSentinel(topic, n, isolation) {
    this.readers += 1;
    const consumer = this.kafka.consumer({
      groupId: `${this.s.prefix}-reader-${topic}-${this.readers}`,
      readUncommitted: isolation === 'read_uncommitted',
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    });
    this.clients.push(consumer);
    const got = {};
    for (let p = 0; p < n; p += 1) got[String(p)] = [];
    const done = new Set();
    let finish;
    const finished = new Promise((r) => { finish = r; });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const v = m.value.toString();
          got[String(batch.partition)].push(v);
          if (v === this.s.sentinel) done.add(batch.partition);
        }
        if (done.size === n) finish();
      },
    });
    const timer = setTimeout(finish, this.s.wait_ms);
    await finished;
    clearTimeout(timer);
    await consumer.disconnect();
    if (done.size < n) {
      const counts = Object.fromEntries(Object.entries(got).map(([p, v]) => [p, v.length]));
      throw new Error(`${topic} (${isolation}): no sentinel within ${this.s.wait_ms} ms in `
        + `some partition; read ${JSON.stringify(counts)}`);
    }
    return got;
  }

  // -- a --------------------------------------------------------------------------------------

  async interleaved() {
    const { s } = this;
    const topic = s.a_topic;
    const n = s.a_partitions;
    await this.createTopics({ [topic]: n });
    const producer = await this.txnProducer(s.a_txn_id);
    this.obs.outcomes = [];
    for (let t = 0; t < s.a_txns; t += 1) {
      const txn = await producer.transaction();
      const messages = [];
      for (let m = 0; m < s.a_msgs; m += 1) {
        messages.push({ value: aValue(t, m), partition: m % n });
      }
      await txn.send({ topic, messages });
      if (t % s.a_abort_every === s.a_abort_every - 1) {
        await txn.abort();
        this.obs.outcomes.push('abort');
      } else {
        await txn.commit();
        this.obs.outcomes.push('commit');
      }
    }
    await this.commitSentinel(producer, topic, n);
    this.obs.read_committed = await this.readUntilSentinel(topic, n, 'read_committed');
    this.obs.read_uncommitted = await this.readUntilSentinel(topic, n, 'read_uncommitted');
  }

  // -- b --------------------------------------------------------------------------------------

  // One transaction: the transformed records of `batch` ([{partition, offset, value}]) and the
  // offsets after them.
  async ctpTxn(producer, batch, commit) {
    const { s } = this;
    const txn = await producer.transaction();
    const ends = {};
    await txn.send({
      topic: s.b_out_topic,
      messages: batch.map((r) => ({ value: `out-${r.value}`, partition: r.partition })),
    });
    for (const r of batch) ends[r.partition] = BigInt(r.offset) + 1n;
    await txn.sendOffsets({
      consumerGroupId: s.b_group,
      topics: [{
        topic: s.b_in_topic,
        partitions: Object.entries(ends).map(([p, o]) => ({
          partition: Number(p), offset: String(o),
        })),
      }],
    });
    if (commit) await txn.commit(); else await txn.abort();
    return batch.map((r) => r.value);
  }

  // A group member of run 1 or 2: hands each batch of records to `handle` (which returns true
  // when the run is over), resolving their offsets so that the fetches move on, but never
  // committing them itself. Resolves once `handle` said so, then leaves the group.
  async ctpRun(handle, what) {
    const { s } = this;
    const consumer = this.kafka.consumer({
      groupId: s.b_group, maxWaitTimeInMs: 200, allowAutoTopicCreation: false,
      sessionTimeout: 10000, heartbeatInterval: 500,
    });
    this.clients.push(consumer);
    let finish;
    let failure = null;
    let over = false;
    const finished = new Promise((r) => { finish = r; });
    await consumer.connect();
    await consumer.subscribe({ topic: s.b_in_topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        if (over) return;
        const records = batch.messages.map((m) => ({
          partition: batch.partition, offset: m.offset, value: m.value.toString(),
        }));
        try {
          over = await handle(records);
        } catch (e) {
          failure = e;
          over = true;
        }
        for (const m of batch.messages) resolveOffset(m.offset);
        await heartbeat();
        if (over) finish();
      },
    });
    const timer = setTimeout(() => {
      failure = failure || new Error(`${what}: not done within ${s.wait_ms} ms`);
      finish();
    }, s.wait_ms);
    await finished;
    clearTimeout(timer);
    await consumer.disconnect();
    if (failure) throw failure;
  }

  async consumeTransformProduce() {
    const { s, obs } = this;
    const n = s.b_partitions;
    const admin = await this.createTopics({ [s.b_in_topic]: n, [s.b_out_topic]: n });
    const plain = this.kafka.producer({ idempotent: false });
    this.clients.push(plain);
    await plain.connect();
    const inputs = [];
    for (let i = 0; i < s.b_inputs; i += 1) inputs.push({ value: bInput(i), partition: i % n });
    await plain.send({ topic: s.b_in_topic, messages: inputs });
    obs.run1_committed = [];
    obs.run1_aborted = [];
    obs.run2 = [];
    obs.run2_first = {};

    // Run 1: b_run1_txns transactions of b_txn_size records committed, one more aborted.
    let producer = await this.txnProducer(s.b_txn_id);
    let buffered = [];
    let txns = 0;
    await this.ctpRun(async (records) => {
      for (const r of records) {
        if (txns > s.b_run1_txns) break;
        buffered.push(r);
        if (buffered.length === s.b_txn_size) {
          const commit = txns < s.b_run1_txns;
          const done = await this.ctpTxn(producer, buffered, commit);
          (commit ? obs.run1_committed : obs.run1_aborted).push(...done);
          buffered = [];
          txns += 1;
        }
      }
      return txns > s.b_run1_txns;
    }, 'run 1');
    await producer.disconnect();

    // Run 2: from the committed offsets to the end of every partition.
    const ends = {};
    for (let i = 0; i < s.b_inputs; i += 1) ends[i % n] = (ends[i % n] || 0) + 1;
    const positions = {};
    const startAt = await admin.fetchOffsets({ groupId: s.b_group, topics: [s.b_in_topic] });
    for (const { partition, offset } of startAt[0].partitions) {
      positions[partition] = Number(offset);
    }
    const atEnd = () => Object.keys(ends).every((p) => (positions[p] || 0) >= ends[p]);
    producer = await this.txnProducer(s.b_txn_id);
    if (!atEnd()) {
      await this.ctpRun(async (records) => {
        if (records.length === 0) return atEnd();
        const p = String(records[0].partition);
        if (!(p in obs.run2_first)) obs.run2_first[p] = Number(records[0].offset);
        obs.run2.push(...await this.ctpTxn(producer, records, true));
        positions[p] = Number(records[records.length - 1].offset) + 1;
        return atEnd();
      }, 'run 2');
    }
    await this.commitSentinel(producer, s.b_out_topic, n);
    const committed = await admin.fetchOffsets({ groupId: s.b_group, topics: [s.b_in_topic] });
    obs.committed = {};
    for (const { partition, offset } of committed[0].partitions) {
      obs.committed[String(partition)] = Number(offset);
    }
    obs.output = await this.readUntilSentinel(s.b_out_topic, n, 'read_committed');
  }

  // -- c --------------------------------------------------------------------------------------

  async fencing() {
    const { s, obs } = this;
    const topic = s.c_topic;
    const n = s.c_partitions;
    await this.createTopics({ [topic]: n });
    const messages = (part, count) => {
      const out = [];
      for (let m = 0; m < count; m += 1) out.push({ value: cValue(part, m), partition: m % n });
      return out;
    };
    const first = await this.txnProducer(s.c_txn_id);
    let txn = await first.transaction();
    await txn.send({ topic, messages: messages('a1', s.c_msgs) });
    await txn.commit();
    txn = await first.transaction();
    await txn.send({ topic, messages: messages('a2', s.c_msgs) });
    obs.a2_acked = messages('a2', s.c_msgs).map((m) => m.value);

    // kafkajs's connect() asks for an idempotent producer id only; the transactional
    // InitProducerId, which fences producer 1, comes with the first transaction().
    const second = await this.txnProducer(s.c_txn_id);
    const txn2 = await second.transaction();
    // Producer 1's next operations: one more record, then the commit.
    try {
      await txn.send({ topic, messages: [{ value: cValue('a2', s.c_msgs), partition: 0 }] });
    } catch (e) {
      obs.fence_step = 'send';
      obs.fence_error = errText(e);
    }
    try {
      await txn.commit();
      if (!obs.fence_step) {
        obs.fence_step = 'commit (which succeeded)';
        obs.fence_error = '';
      }
    } catch (e) {
      if (!obs.fence_step) {
        obs.fence_step = 'commit';
        obs.fence_error = errText(e);
      }
    }
    await txn2.send({ topic, messages: messages('b', s.c_msgs) });
    await txn2.commit();
    await this.commitSentinel(second, topic, n);
    obs.read_committed = await this.readUntilSentinel(topic, n, 'read_committed');
    obs.read_uncommitted = await this.readUntilSentinel(topic, n, 'read_uncommitted');
  }

  // -- d --------------------------------------------------------------------------------------

  async timeout() {
    const { s, obs } = this;
    const topic = s.d_topic;
    const n = s.d_partitions;
    await this.createTopics({ [topic]: n });
    const messages = (part) => {
      const out = [];
      for (let m = 0; m < s.d_msgs; m += 1) out.push({ value: dValue(part, m), partition: m % n });
      return out;
    };
    const opened = await this.txnProducer(s.d_open_txn_id, { transactionTimeout: s.d_timeout_ms });
    const txn = await opened.transaction();
    await txn.send({ topic, messages: messages('open') });
    obs.open_acked = messages('open').map((m) => m.value);
    const tOpen = process.hrtime.bigint();
    const after = await this.txnProducer(s.d_after_txn_id);
    const txn2 = await after.transaction();
    await txn2.send({ topic, messages: messages('after') });
    await txn2.commit();
    await this.commitSentinel(after, topic, n);
    obs.read_committed = await this.readUntilSentinel(topic, n, 'read_committed');
    obs.seconds_to_sentinel = Number(process.hrtime.bigint() - tOpen) / 1e9;
    obs.read_uncommitted = await this.readUntilSentinel(topic, n, 'read_uncommitted');
    try {
      await txn.commit();
      obs.open_commit_error = null;
    } catch (e) {
      obs.open_commit_error = errText(e);
    }
  }

  // -- e --------------------------------------------------------------------------------------

  async killProduce() {
    const { s, obs } = this;
    const topic = s.e_topic;
    const n = s.e_partitions;
    await this.createTopics({ [topic]: n });
    // Few retries: the commit the kill interrupts gives up within seconds.
    const producer = await this.txnProducer(s.e_txn_id, {
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    obs.committed = [];
    obs.commit_ms = [];
    for (let t = 0; t <= s.e_kill_txn; t += 1) {
      const txn = await producer.transaction();
      const messages = [];
      for (let p = 0; p < n; p += 1) {
        for (let m = 0; m < s.e_msgs; m += 1) {
          messages.push({ value: eValue(t, p, m), partition: p });
        }
      }
      await txn.send({ topic, messages });
      process.stdout.write(`COMMITTING ${t}\n`);
      const t0 = process.hrtime.bigint();
      try {
        await txn.commit();
      } catch (e) {
        obs.commit_error = errText(e);
        break;
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      obs.commit_ms.push(ms);
      obs.committed.push(t);
      process.stdout.write(`COMMITTED ${t} ${ms.toFixed(2)}\n`);
    }
    // Alive until the test, which kills the broker, closes stdin: a kill that comes after the
    // last commit still finds this producer connected, as a user's would be.
    await stdinEnded;
  }

  async killVerify() {
    const { s, obs } = this;
    const producer = await this.txnProducer(s.e_txn_id);
    await this.commitSentinel(producer, s.e_topic, s.e_partitions);
    obs.read_committed = await this.readUntilSentinel(s.e_topic, s.e_partitions, 'read_committed');
  }
}

async function main() {
  const [scenario, bootstrap] = process.argv.slice(2);
  const methods = {
    interleaved: 'interleaved',
    consume_transform_produce: 'consumeTransformProduce',
    fencing: 'fencing',
    timeout: 'timeout',
    kill_produce: 'killProduce',
    kill_verify: 'killVerify',
  };
  if (!bootstrap || !methods[scenario]) {
    process.stderr.write('usage: node txn.js SCENARIO HOST:PORT < spec.json\n');
    process.exit(2);
  }
  const spec = JSON.parse(await readSpecLine());
  const obs = {};
  const run = new Scenarios(spec, bootstrap, obs);
  try {
    await run[methods[scenario]]();
  } catch (e) {
    process.stderr.write(`${e && e.stack}\n`);
    obs.error = errText(e);
  }
  const closing = run.closeAll();
  await Promise.race([closing, sleep(10000)]);
  process.stdout.write(`${JSON.stringify(obs)}\n`);
  process.exit(0);
}

main();
