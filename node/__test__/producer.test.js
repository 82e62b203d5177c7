'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { Producer, Consumer, KafkaError } = require('..')
const { startBroker, uniqueName, createTopic, pollN, waitFor } = require('./helpers')

let broker
let bootstrap
test.before(async () => {
  broker = await startBroker()
  bootstrap = broker.bootstrapServers
})
test.after(async () => broker.close())

const producerConfig = () => ({ 'bootstrap.servers': bootstrap, 'linger.ms': 1 })

async function readAll(topic, n, partitions = 1) {
  const c = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' })
  try {
    c.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })))
    return await pollN(c, n)
  } finally {
    await c.close()
  }
}

/** Collects process warnings (how the package logs a throwing callback) during fn. */
async function withWarnings(fn) {
  const seen = []
  const on = (w) => seen.push(String(w.message))
  process.on('warning', on)
  try {
    await fn()
    await new Promise((r) => setImmediate(r))
  } finally {
    process.off('warning', on)
  }
  return seen
}

test('send resolves to metadata; keys and values may be strings or Buffers; headers and timestamps travel', async () => {
  const topic = uniqueName('send')
  const p = new Producer(producerConfig())
  const md = await p.send({ topic, key: 'k1', value: 'v1', headers: { a: 'x', b: ['y', Buffer.from('z')] }, timestamp: 1700000000000 })
  assert.deepEqual(md, { topic, partition: 0, offset: 0, timestamp: 1700000000000 })
  const md2 = await p.send({ topic, key: Buffer.from([0, 1]), value: Buffer.from('v2') })
  assert.equal(md2.offset, 1)
  const md3 = await p.send({ topic, value: null })
  assert.equal(md3.offset, 2)
  await p.close()
  const [r1, r2, r3] = await readAll(topic, 3)
  assert.equal(String(r1.key), 'k1')
  assert.equal(String(r1.value), 'v1')
  assert.equal(r1.timestamp, 1700000000000)
  assert.equal(r1.timestampType, 'CreateTime')
  assert.equal(String(r1.headers.a), 'x')
  assert.deepEqual(r1.headers.b.map(String), ['y', 'z'])
  assert.deepEqual([...r2.key], [0, 1])
  assert.equal(r3.value, null)
  assert.equal(r3.key, null)
})

test('records go to an explicit partition, and equal keys to one partition', async () => {
  const topic = await createTopic(bootstrap, uniqueName('parts'), 4)
  const p = new Producer(producerConfig())
  const fixed = await p.send({ topic, value: 'x', partition: 3 })
  assert.equal(fixed.partition, 3)
  const keyed = await p.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, key: 'same-key', value: `v${i}` })))
  assert.equal(new Set(keyed.map((m) => m.partition)).size, 1)
  assert.deepEqual(keyed.map((m) => m.offset), [...keyed.keys()].map((i) => keyed[0].offset + i))
  await p.close()
})

test('sendBatch takes an array or kafkajs topicMessages and resolves in order', async () => {
  const t1 = uniqueName('batch')
  const t2 = uniqueName('batch')
  const p = new Producer(producerConfig())
  const mds = await p.sendBatch({ topicMessages: [{ topic: t1, messages: [{ value: 'a' }, { value: 'b' }] }, { topic: t2, messages: [{ value: 'c' }] }] })
  assert.deepEqual(mds.map((m) => [m.topic, m.offset]), [[t1, 0], [t1, 1], [t2, 0]])
  assert.deepEqual(await p.sendBatch([]), [])
  await p.close()
})

test('produce: fire-and-forget with a callback and delivery events; flush waits for all', async () => {
  const topic = uniqueName('produce')
  const p = new Producer(producerConfig())
  const events = []
  const callbacks = []
  p.on('delivery', (err, md, record) => events.push([err, md.offset, String(record.value)]))
  for (let i = 0; i < 50; i++) p.produce({ topic, value: `m${i}` }, (err, md) => callbacks.push([err, md.offset]))
  await p.flush(10000)
  assert.equal(callbacks.length, 50)
  assert.equal(events.length, 50)
  assert.ok(callbacks.every(([err], i) => err === null && callbacks[i][1] === i))
  assert.deepEqual(events[49], [null, 49, 'm49'])
  p.produce({ topic, value: 'no callback' })
  await p.flush()
  assert.equal(events.length, 51)
  await p.close()
})

test('errors: bad config names the key, bad records, missing partitions, oversized records, closed producer', async () => {
  assert.throws(() => new Producer({ 'bootstrap.servers': bootstrap, acks: 'some' }), (e) => {
    assert.ok(e instanceof KafkaError)
    assert.equal(e.name, '_INVALID_CONFIG')
    assert.match(e.message, /acks/)
    assert.match(e.message, /some/)
    return true
  })
  assert.throws(() => new Producer('nope'), (e) => e.name === '_INVALID_ARG')
  const p = new Producer({ ...producerConfig(), 'max.request.size': 1000 })
  await assert.rejects(p.send({ value: 'no topic' }), (e) => e instanceof KafkaError && e.name === '_INVALID_ARG')
  await assert.rejects(p.send({ topic: 't', value: 42 }), (e) => e.name === '_INVALID_ARG')
  await assert.rejects(p.send({ topic: 't', value: 'x', partition: -2 }), (e) => e.name === '_INVALID_ARG')
  const topic = uniqueName('err')
  await p.send({ topic, value: 'x' })
  await assert.rejects(p.send({ topic, value: 'x', partition: 7 }), (e) => {
    assert.equal(e.name, 'UNKNOWN_TOPIC_OR_PARTITION')
    assert.equal(e.code, 3)
    assert.equal(e.retriable, true)
    assert.equal(e.fatal, false)
    return true
  })
  await assert.rejects(p.send({ topic, value: Buffer.alloc(5000) }), (e) => e.name === 'MESSAGE_TOO_LARGE' && e.code === 10)
  await p.close()
  await assert.rejects(p.send({ topic, value: 'late' }), (e) => e.name === '_CLOSED')
  let late
  p.produce({ topic, value: 'late' }, (err) => (late = err))
  await waitFor(() => late, 'the callback of a record produced after close')
  assert.equal(late.name, '_CLOSED')
  await p.close() // idempotent
})

test('interceptors: onSend rewrites, onAcknowledgement sees every result, close runs; throws are logged and skipped', async () => {
  const topic = uniqueName('icpt')
  const acks = []
  let closed = 0
  const prefix = {
    onSend: (r) => ({ ...r, value: `pfx:${r.value}` }),
    onAcknowledgement: (md, err) => acks.push(err ? err.name : md.offset),
    close: () => closed++,
  }
  const thrower = {
    onSend: () => {
      throw new Error('boom in onSend')
    },
    onAcknowledgement: () => {
      throw new Error('boom in onAcknowledgement')
    },
    close: () => {
      throw new Error('boom in close')
    },
  }
  const p = new Producer(producerConfig(), { interceptors: [thrower, prefix] })
  const warnings = await withWarnings(async () => {
    await p.send({ topic, value: 'a' })
    await p.send({ topic, value: 'b', partition: 5 }).catch(() => {})
    await p.close()
  })
  assert.deepEqual(acks, [0, 'UNKNOWN_TOPIC_OR_PARTITION'])
  assert.equal(closed, 1)
  assert.ok(warnings.some((w) => w.includes('boom in onSend')), 'onSend throw logged')
  assert.ok(warnings.some((w) => w.includes('boom in onAcknowledgement')), 'onAcknowledgement throw logged')
  assert.ok(warnings.some((w) => w.includes('boom in close')), 'close throw logged')
  const [r] = await readAll(topic, 1)
  assert.equal(String(r.value), 'pfx:a')
})

test('a partitioner function picks partitions; a throwing or invalid one fails the record', async () => {
  const topic = await createTopic(bootstrap, uniqueName('ptn'), 3)
  const seen = []
  let mode = 'ok'
  const partitioner = (t, key, count) => {
    seen.push([t, key === null ? null : String(key), count])
    if (mode === 'throw') throw new Error('partitioner boom')
    if (mode === 'bad') return 17
    return count - 1
  }
  const p = new Producer(producerConfig(), { partitioner })
  const md = await p.send({ topic, key: 'k', value: 'v' })
  assert.equal(md.partition, 2)
  assert.deepEqual(seen[0], [topic, 'k', 3])
  assert.equal((await p.send({ topic, value: 'v', partition: 0 })).partition, 0, 'an explicit partition wins')
  mode = 'throw'
  const warnings = await withWarnings(async () => {
    await assert.rejects(p.send({ topic, value: 'v' }), (e) => e.name === 'UNKNOWN_TOPIC_OR_PARTITION')
  })
  assert.ok(warnings.some((w) => w.includes('partitioner boom')))
  mode = 'bad'
  await assert.rejects(p.send({ topic, value: 'v' }), (e) => e.name === 'UNKNOWN_TOPIC_OR_PARTITION')
  await p.close()
})

test('a producer with nothing outstanding does not block the event loop', async () => {
  const topic = uniqueName('loop')
  const p = new Producer(producerConfig())
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  await Promise.all(Array.from({ length: 2000 }, (_, i) => p.send({ topic, value: `v${i}` })))
  clearInterval(timer)
  assert.ok(ticks > 0, 'timers ran while sending')
  await p.close()
})
