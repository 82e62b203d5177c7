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

async function fill(topic, n, { partitions = 1 } = {}) {
  const p = new Producer({ 'bootstrap.servers': bootstrap, 'linger.ms': 1 })
  await p.sendBatch(Array.from({ length: n }, (_, i) => ({ topic, partition: i % partitions, key: `k${i}`, value: `v${i}`, timestamp: 1000 + i })))
  await p.close()
}

const groupConfig = (group, extra = {}) => ({
  'bootstrap.servers': bootstrap,
  'group.id': group,
  'auto.offset.reset': 'earliest',
  'session.timeout.ms': 6000,
  'heartbeat.interval.ms': 500,
  ...extra,
})

test('subscribe with rebalance callbacks; callbacks may await the consumer; for await yields every record', async () => {
  const topic = await createTopic(bootstrap, uniqueName('sub'), 2)
  await fill(topic, 10, { partitions: 2 })
  const c = new Consumer(groupConfig(uniqueName('g')))
  const events = []
  c.subscribe([topic], {
    onAssign: async (ps, consumer) => {
      assert.equal(consumer, c)
      const positions = await Promise.all(ps.map((p) => consumer.position(p)))
      events.push(['assign', ps.length, positions])
    },
    onRevoke: (ps) => events.push(['revoke', ps.length]),
  })
  assert.deepEqual(c.subscription(), [topic])
  const seen = []
  for await (const m of c) {
    seen.push(`${m.partition}:${m.offset}:${m.value}`)
    if (seen.length === 10) break
  }
  assert.equal(new Set(seen).size, 10)
  assert.deepEqual(events[0], ['assign', 2, [0, 0]])
  assert.deepEqual(c.assignment().map((p) => p.partition).sort(), [0, 1])
  const gm = c.groupMetadata()
  assert.ok(gm.memberId.length > 0)
  assert.ok(gm.generation >= 1)
  await c.close()
  assert.deepEqual(events[events.length - 1], ['revoke', 2])
})

test('two members split the partitions; the first is revoked and reassigned', async () => {
  const topic = await createTopic(bootstrap, uniqueName('split'), 2)
  const group = uniqueName('g')
  const log1 = []
  const c1 = new Consumer(groupConfig(group))
  c1.subscribe(topic, { onAssign: (ps) => log1.push(['assign', ps.length]), onRevoke: (ps) => log1.push(['revoke', ps.length]) })
  await waitFor(async () => (await c1.poll(100), c1.assignment().length === 2), 'the first member owns both partitions')
  const c2 = new Consumer(groupConfig(group))
  c2.subscribe([topic])
  await waitFor(async () => {
    await Promise.all([c1.poll(100), c2.poll(100)])
    return c1.assignment().length === 1 && c2.assignment().length === 1
  }, 'each member owns one partition')
  assert.ok(log1.some(([e]) => e === 'revoke'), 'the first member saw a revocation')
  await c2.close()
  await c1.close()
})

test('run({ eachMessage }) delivers in order; a throwing handler gets the message again; stop ends it', async () => {
  const topic = uniqueName('run')
  await fill(topic, 5)
  const c = new Consumer(groupConfig(uniqueName('g')))
  c.subscribe([topic])
  const got = []
  let failedOnce = false
  const errors = []
  c.on('error', (e) => errors.push(e.message))
  await c.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      assert.equal(t, topic)
      assert.equal(partition, 0)
      if (message.offset === 2 && !failedOnce) {
        failedOnce = true
        throw new Error('handler failed once')
      }
      got.push(message.offset)
    },
  })
  await waitFor(() => got.length >= 5, 'five handled messages')
  await c.stop()
  assert.deepEqual(got, [0, 1, 2, 3, 4])
  assert.deepEqual(errors, ['handler failed once'])
  await assert.rejects(c.run({}), (e) => e.name === '_INVALID_ARG')
  await c.close()
})

test('run({ eachBatch }) gets a partition batch', async () => {
  const topic = uniqueName('runb')
  await fill(topic, 3)
  const c = new Consumer(groupConfig(uniqueName('g')))
  c.subscribe([topic])
  const got = []
  await c.run({ eachBatch: async ({ batch }) => got.push(...batch.messages.map((m) => String(m.value))) })
  await waitFor(() => got.length >= 3, 'three messages in batches')
  await c.close()
  assert.deepEqual(got, ['v0', 'v1', 'v2'])
})

test('commit, committed, commitAsync with callback, position and auto commit on close', async () => {
  const topic = uniqueName('commit')
  await fill(topic, 6)
  const group = uniqueName('g')
  const c = new Consumer(groupConfig(group, { 'enable.auto.commit': false }))
  const tp = { topic, partition: 0 }
  c.assign([tp])
  const recs = await pollN(c, 6)
  assert.equal(recs.length, 6)
  assert.deepEqual(await c.committed([tp]), [{ ...tp, offset: null }])
  await c.commit([{ ...tp, offset: 2 }])
  assert.deepEqual(await c.committed([tp]), [{ ...tp, offset: 2 }])
  assert.equal(await c.position(tp), 6)
  await c.commit()
  assert.deepEqual(await c.committed([tp]), [{ ...tp, offset: 6 }])
  let result
  c.commitAsync([{ ...tp, offset: 4 }], (err, offsets) => (result = { err, offsets }))
  await waitFor(async () => (await c.poll(50), result), 'the commitAsync callback')
  assert.equal(result.err, null)
  assert.deepEqual(result.offsets, [{ ...tp, offset: 4 }])
  await assert.rejects(c.commit([{ ...tp, offset: -5 }]), (e) => e.name === '_INVALID_ARG')
  assert.throws(() => c.commitAsync([{ topic, partition: 'x', offset: 1 }]), (e) => e.name === '_INVALID_ARG')
  await c.close()

  const auto = new Consumer(groupConfig(group, { 'enable.auto.commit': true }))
  auto.assign([tp])
  await auto.commit([{ ...tp, offset: 1 }])
  await pollN(auto, 5)
  await auto.close()
  const check = new Consumer(groupConfig(group))
  assert.deepEqual(await check.committed([tp]), [{ ...tp, offset: 6 }], 'close committed what poll handed out')
  await check.close()
})

test('seek, seekToBeginning, seekToEnd, pause, resume, offsets lookups, partitionsFor', async () => {
  const topic = await createTopic(bootstrap, uniqueName('seek'), 2)
  await fill(topic, 10, { partitions: 2 })
  const c = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' })
  const p0 = { topic, partition: 0 }
  const p1 = { topic, partition: 1 }
  c.assign([p0, p1])
  assert.deepEqual(await c.partitionsFor(topic), [0, 1])
  assert.deepEqual(await c.beginningOffsets([p0, p1]), [{ ...p0, offset: 0 }, { ...p1, offset: 0 }])
  const ends = await c.endOffsets([p0, p1])
  assert.deepEqual(ends.map((e) => e.offset), [5, 5])
  const times = await c.offsetsForTimes([{ ...p0, timestamp: 1004 }, { ...p1, timestamp: 99999999 }])
  assert.deepEqual(times.map((t) => t.offset), [2, null])
  assert.equal(times[0].timestamp, 1004)

  c.pause([p1])
  assert.deepEqual(c.paused(), [p1])
  const first = await pollN(c, 5)
  assert.ok(first.every((r) => r.partition === 0), 'nothing from the paused partition')
  c.resume([p1])
  assert.deepEqual(c.paused(), [])
  const second = await pollN(c, 5)
  assert.ok(second.every((r) => r.partition === 1))

  c.seek({ ...p0, offset: 3 })
  assert.equal(await c.position(p0), 3)
  c.pause([p1])
  const again = await pollN(c, 2)
  assert.deepEqual(again.map((r) => r.offset), [3, 4])
  c.seekToBeginning([p0])
  assert.equal(await c.position(p0), 0)
  c.seekToEnd([p0])
  assert.equal(await c.position(p0), 5)
  assert.throws(() => c.seek({ topic, partition: 9, offset: 0 }), (e) => e.name === '_STATE')
  assert.throws(() => c.seek({ ...p0, offset: -1 }), (e) => e.name === '_INVALID_ARG')
  assert.throws(() => c.pause([{ topic: 'other', partition: 0 }]), (e) => e.name === '_STATE')
  await c.close()
})

test('interceptors: onConsume may rewrite records, onCommit sees commits, throws are logged and skipped', async () => {
  const topic = uniqueName('cicpt')
  await fill(topic, 3)
  const commits = []
  let closed = 0
  const upper = {
    onConsume: (records) => records.map((r) => ({ ...r, value: Buffer.from(String(r.value).toUpperCase()) })),
    onCommit: (offsets) => commits.push(offsets),
    close: () => closed++,
  }
  const thrower = {
    onConsume: () => {
      throw new Error('boom in onConsume')
    },
    onCommit: () => {
      throw new Error('boom in onCommit')
    },
  }
  const warnings = []
  const onWarning = (w) => warnings.push(String(w.message))
  process.on('warning', onWarning)
  const c = new Consumer(groupConfig(uniqueName('g'), { 'enable.auto.commit': false }), { interceptors: [thrower, upper] })
  c.assign([{ topic, partition: 0 }])
  const recs = await pollN(c, 3)
  assert.deepEqual(recs.map((r) => String(r.value)), ['V0', 'V1', 'V2'])
  await c.commit([{ topic, partition: 0, offset: 3 }])
  await waitFor(() => commits.length === 1, 'onCommit for the synchronous commit')
  let asyncResult
  c.commitAsync([{ topic, partition: 0, offset: 2 }], (err) => (asyncResult = err === null))
  await waitFor(async () => (await c.poll(20), commits.length === 2 && asyncResult), 'onCommit for the asynchronous commit')
  await c.close()
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  assert.deepEqual(commits, [[{ topic, partition: 0, offset: 3 }], [{ topic, partition: 0, offset: 2 }]])
  assert.equal(closed, 1)
  assert.ok(warnings.some((w) => w.includes('boom in onConsume')))
  assert.ok(warnings.some((w) => w.includes('boom in onCommit')))
})

test('errors: config, state, closed consumer', async () => {
  assert.throws(() => new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'sometimes' }), (e) => {
    assert.ok(e instanceof KafkaError)
    assert.equal(e.name, '_INVALID_CONFIG')
    assert.match(e.message, /auto\.offset\.reset/)
    return true
  })
  const c = new Consumer({ 'bootstrap.servers': bootstrap })
  await assert.rejects(c.poll(10), (e) => e.name === '_STATE' && e.code === -108)
  assert.throws(() => c.subscribe(['t']), (e) => e.name === '_STATE', 'subscribe needs a group.id')
  await assert.rejects(c.commit(), (e) => e.name === '_STATE')
  assert.throws(() => c.assign([{ topic: 't' }]), (e) => e.name === '_INVALID_ARG')
  assert.equal(c.groupMetadata(), null)
  await c.close()
  await c.close()
  await assert.rejects(c.poll(10), (e) => e.name === '_CLOSED')
  assert.throws(() => c.assign([{ topic: 't', partition: 0 }]), (e) => e.name === '_CLOSED')
})

test('unsubscribe revokes and poll then needs a new subscription', async () => {
  const topic = uniqueName('unsub')
  await fill(topic, 1)
  const c = new Consumer(groupConfig(uniqueName('g')))
  const revoked = []
  c.subscribe([topic], { onRevoke: (ps) => revoked.push(...ps) })
  await pollN(c, 1)
  await c.unsubscribe()
  assert.deepEqual(revoked, [{ topic, partition: 0 }])
  assert.deepEqual(c.assignment(), [])
  await assert.rejects(c.poll(10), (e) => e.name === '_STATE')
  await c.close()
})

test('a long poll does not block the event loop', async () => {
  const topic = await createTopic(bootstrap, uniqueName('idle'))
  const c = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' })
  c.assign([{ topic, partition: 0 }])
  let ticks = 0
  const timer = setInterval(() => ticks++, 10)
  const started = Date.now()
  const records = await c.poll(1000)
  clearInterval(timer)
  assert.deepEqual(records, [])
  assert.ok(Date.now() - started >= 900, 'poll waited for its timeout')
  assert.ok(ticks >= 20, `timers kept running during poll (${ticks} ticks)`)
  await c.close()
})

test('onCommit sees automatic commits', async () => {
  const topic = uniqueName('autoic')
  await fill(topic, 4)
  const commits = []
  const c = new Consumer(groupConfig(uniqueName('g'), { 'enable.auto.commit': true, 'auto.commit.interval.ms': 100 }), {
    interceptors: [{ onCommit: (offsets) => commits.push(...offsets) }],
  })
  c.subscribe([topic])
  await pollN(c, 4)
  await waitFor(async () => (await c.poll(50), commits.some((o) => o.offset === 4)), 'an automatic commit of offset 4 reported to onCommit')
  await c.close()
})

test('subscribe to a RegExp: matching topics only, whole-name match; an invalid pattern is _INVALID_ARG', async () => {
  const base = uniqueName('rx')
  await fill(`${base}-a`, 1)
  await fill(`${base}-b`, 1)
  await fill(`x${base}-c`, 1)
  const c = new Consumer(groupConfig(uniqueName('g')))
  const assigned = []
  c.subscribe(new RegExp(`${base}-.`), { onAssign: (ps) => assigned.push(...ps.map((p) => p.topic)) })
  const recs = await pollN(c, 2)
  assert.deepEqual(recs.map((r) => r.topic).sort(), [`${base}-a`, `${base}-b`])
  assert.deepEqual([...new Set(assigned)].sort(), [`${base}-a`, `${base}-b`])
  assert.deepEqual(await c.poll(300), [], 'the topic with a prefix does not match')
  // Valid in JS, not in Java-like regex without look-around support (Rust's regex crate).
  assert.throws(() => c.subscribe(/(?=a)b/), (e) => e.name === '_INVALID_ARG' && e.code === -100)
  await c.close()
})

test('onLost runs when the member was dropped for not polling within max.poll.interval.ms', async () => {
  const topic = uniqueName('lost')
  await fill(topic, 1)
  const events = []
  const c = new Consumer(groupConfig(uniqueName('g'), { 'max.poll.interval.ms': 1000 }))
  c.subscribe([topic], {
    onAssign: (ps) => events.push(['assign', ps.length]),
    onRevoke: (ps) => events.push(['revoke', ps.length]),
    onLost: (ps) => events.push(['lost', ps.length]),
  })
  await pollN(c, 1)
  // Not polling is the point here: the member must exceed max.poll.interval.ms.
  await new Promise((r) => setTimeout(r, 2000))
  await waitFor(async () => (await c.poll(100), events.some(([e]) => e === 'lost')), 'onLost after exceeding max.poll.interval.ms')
  assert.deepEqual(events.find(([e]) => e === 'lost'), ['lost', 1])
  assert.ok(!events.some(([e]) => e === 'revoke'), 'lost partitions are not revoked')
  await c.close()
})

test('a fenced static member gets a fatal KafkaError', async () => {
  const topic = uniqueName('fenced')
  await fill(topic, 1)
  const config = groupConfig(uniqueName('g'), { 'group.instance.id': 'the-one' })
  const first = new Consumer(config)
  first.subscribe([topic])
  await pollN(first, 1)
  const second = new Consumer(config)
  second.subscribe([topic])
  await waitFor(async () => (await second.poll(100), second.assignment().length === 1), 'the second instance to take over')
  const err = await waitFor(async () => {
    try {
      await first.poll(100)
      return null
    } catch (e) {
      return e
    }
  }, 'the first instance to be fenced')
  assert.ok(err instanceof KafkaError)
  assert.equal(err.fatal, true, `${err.name}: ${err.message}`)
  assert.equal(err.retriable, false)
  await second.close()
  await first.close().catch(() => {})
})
