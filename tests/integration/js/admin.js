// SPDX-License-Identifier: Apache-2.0
// kafkajs 2.2.4 admin client against a running broker: connect, describeCluster,
// fetchTopicMetadata and listTopics. Usage: node admin.js HOST:PORT
// Prints one JSON object with what kafkajs returned; exits non-zero on any error.
'use strict';

const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const broker = process.argv[2];
  if (!broker) throw new Error('usage: node admin.js HOST:PORT');
  const kafka = new Kafka({
    clientId: 'runnel-it-kafkajs',
    brokers: [broker],
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    const metadata = await admin.fetchTopicMetadata({ topics: [] });
    const topics = await admin.listTopics();
    process.stdout.write(JSON.stringify({ cluster, metadata, topics }) + '\n');
  } finally {
    await admin.disconnect();
  }
}

main().catch((err) => {
  console.error('kafkajs admin failed:', err && err.stack ? err.stack : err);
  process.exit(1);
});
