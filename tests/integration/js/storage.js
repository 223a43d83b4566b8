// SPDX-License-Identifier: Apache-2.0
// kafkajs 2.2.4 against a running broker: admin.createTopics (3 partitions), producer.send of
// known counts per partition (uncompressed, then GZIP, which kafkajs compresses itself, with
// explicit timestamps), admin.fetchTopicOffsets and admin.fetchTopicOffsetsByTimestamp.
// Usage: node storage.js HOST:PORT TOPIC T0
// Prints one JSON object with what kafkajs returned; exits non-zero on any error.
'use strict';

const { Kafka, logLevel, CompressionTypes } = require('kafkajs');

// Messages per partition in each of the two sends.
const PLAIN = [10, 25, 7];
const GZIP = [5, 0, 12];

async function main() {
  const [broker, topic, t0s] = process.argv.slice(2);
  if (!broker || !topic || !t0s) throw new Error('usage: node storage.js HOST:PORT TOPIC T0');
  const t0 = Number(t0s);
  const kafka = new Kafka({
    clientId: 'runnel-it-kafkajs',
    brokers: [broker],
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await admin.connect();
  await producer.connect();
  try {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 10000,
    });
    const createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });

    // Message i of partition p has timestamp t0 + i * 1000.
    const make = (counts, tag) => {
      const messages = [];
      counts.forEach((n, partition) => {
        for (let i = 0; i < n; i++) {
          messages.push({
            partition,
            key: `${tag}-k-${partition}-${i}`,
            value: `${tag}-v-${partition}-${i}`,
            timestamp: String(t0 + i * 1000),
          });
        }
      });
      return messages;
    };
    const plain = await producer.send({ topic, acks: -1, messages: make(PLAIN, 'plain') });
    const gzip = await producer.send({
      topic, acks: -1, compression: CompressionTypes.GZIP, messages: make(GZIP, 'gzip'),
    });
    const offsets = await admin.fetchTopicOffsets(topic);
    const byTimestamp = await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 2500);
    const afterLast = await admin.fetchTopicOffsetsByTimestamp(topic, t0 + 3600 * 1000);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    process.stdout.write(JSON.stringify({
      created, createdAgain, plain, gzip, offsets, byTimestamp, afterLast, metadata,
      counts: { plain: PLAIN, gzip: GZIP },
    }) + '\n');
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

main().catch((err) => {
  console.error('kafkajs storage failed:', err && err.stack ? err.stack : err);
  process.exit(1);
});
