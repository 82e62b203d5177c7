'use strict'
// Writes numbered records for the consumer examples.
const { Producer } = require('../../node')

async function fill(bootstrap, topic, n, { partitions = 1 } = {}) {
  const producer = new Producer({ 'bootstrap.servers': bootstrap })
  await producer.sendBatch(Array.from({ length: n }, (_, i) => ({ topic, partition: i % partitions, key: `k${i}`, value: `record ${i}` })))
  await producer.close()
}

module.exports = { fill }
