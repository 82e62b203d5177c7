'use strict'
// Mixed clients on one Streamlet broker: Streamlet's producer read by a kafkajs consumer group, and kafkajs'
// producer read by Streamlet's consumer group.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Kafka, logLevel } = require('kafkajs')
const { Producer, Consumer } = require('..')
const { startBroker, uniqueName, createTopic, waitFor } = require('./helpers')

let broker
let kafka
test.before(async () => {
  broker = await startBroker()
  kafka = new Kafka({ clientId: 'streamlet-node-test', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING })
})
test.after(async () => broker.close())

test('a Streamlet producer is read by a kafkajs consumer group', async () => {
  const topic = await createTopic(broker.bootstrapServers, uniqueName('s2k'), 2)
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  const sent = Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i % 4}`, value: `value-${i}`, headers: { n: String(i) } }))
  await p.sendBatch(sent)
  await p.close()

  const consumer = kafka.consumer({ groupId: uniqueName('kjs'), sessionTimeout: 6000, heartbeatInterval: 500 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = []
  await consumer.run({ eachMessage: async ({ partition, message }) => got.push({ partition, key: String(message.key), value: String(message.value), n: String(message.headers.n) }) })
  try {
    await waitFor(() => got.length >= 20, 'kafkajs to read 20 records', 30000)
  } finally {
    await consumer.disconnect()
  }
  assert.deepEqual(got.map((g) => g.value).sort(), sent.map((s) => s.value).sort())
  for (const g of got) assert.equal(g.value, `value-${g.n}`)
  const partitionOfKey = new Map()
  for (const g of got) {
    if (partitionOfKey.has(g.key)) assert.equal(partitionOfKey.get(g.key), g.partition, 'one partition per key')
    partitionOfKey.set(g.key, g.partition)
  }
})

test('a kafkajs producer is read by a Streamlet consumer group, and keys land where kafkajs puts them', async () => {
  const topic = await createTopic(broker.bootstrapServers, uniqueName('k2s'), 3)
  const producer = kafka.producer()
  await producer.connect()
  const messages = Array.from({ length: 30 }, (_, i) => ({ key: `key-${i}`, value: `v${i}`, headers: { src: 'kafkajs' } }))
  const acks = await producer.send({ topic, messages })
  await producer.disconnect()
  assert.ok(acks.length > 0)

  const c = new Consumer({ 'bootstrap.servers': broker.bootstrapServers, 'group.id': uniqueName('sg'), 'auto.offset.reset': 'earliest' })
  c.subscribe([topic])
  const got = []
  for await (const m of c) {
    got.push(m)
    if (got.length === 30) break
  }
  await c.close()
  assert.deepEqual(got.map((m) => String(m.value)).sort(), messages.map((m) => m.value).sort())
  assert.ok(got.every((m) => String(m.headers.src) === 'kafkajs'))

  // Streamlet's default partitioner is the Java client's murmur2, as is kafkajs' DefaultPartitioner.
  const p = new Producer({ 'bootstrap.servers': broker.bootstrapServers })
  for (const m of got.slice(0, 5)) {
    const md = await p.send({ topic, key: m.key, value: 'again' })
    assert.equal(md.partition, m.partition, `key ${m.key} goes to the same partition with both clients`)
  }
  await p.close()
})
