'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Broker, Producer, Consumer, KafkaError } = require('..')

test('an ephemeral broker starts on a free port and closes', async () => {
  const b = await Broker.start()
  assert.match(b.bootstrapServers, /^127\.0\.0\.1:\d+$/)
  assert.notEqual(b.bootstrapServers, '127.0.0.1:0')
  await b.close()
  await b.close() // idempotent
})

test('a broker with a data dir keeps its records across restarts', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamlet-node-'))
  try {
    let b = await Broker.start({ dataDir: dir })
    const p = new Producer({ 'bootstrap.servers': b.bootstrapServers })
    await p.send({ topic: 'kept', value: 'v1' })
    await p.close()
    await b.close()
    assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('kept-0')), 'the partition directory is in the data dir')
    b = await Broker.start({ dataDir: dir })
    const c = new Consumer({ 'bootstrap.servers': b.bootstrapServers, 'auto.offset.reset': 'earliest' })
    c.assign([{ topic: 'kept', partition: 0 }])
    let got = []
    const deadline = Date.now() + 10000
    while (got.length === 0 && Date.now() < deadline) got = await c.poll(200)
    assert.equal(String(got[0].value), 'v1')
    await c.close()
    await b.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('an invalid broker config is a KafkaError naming the key', async () => {
  await assert.rejects(Broker.start({ config: { 'num.partitions': 'many' } }), (e) => {
    assert.ok(e instanceof KafkaError)
    assert.equal(e.name, '_INVALID_CONFIG')
    assert.equal(e.code, -101)
    assert.match(e.message, /num\.partitions/)
    return true
  })
})

test('a listen address that cannot be bound is a KafkaError', async () => {
  const b = await Broker.start()
  try {
    await assert.rejects(Broker.start({ listen: b.bootstrapServers }), (e) => e instanceof KafkaError && e.name === '_IO')
  } finally {
    await b.close()
  }
})
