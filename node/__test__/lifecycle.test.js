'use strict'
// The process exits by itself once everything is closed, and also when a consumer is left open but nothing
// awaits it; `import` works as well as `require`.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const pkg = path.join(__dirname, '..')

function runScript(source, { esm = false, timeoutMs = 30000 } = {}) {
  const args = esm ? ['--input-type=module', '-e', source] : ['-e', source]
  const started = Date.now()
  const r = spawnSync(process.execPath, args, { cwd: pkg, timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, STREAMLET_PKG: pkg } })
  return { ...r, ms: Date.now() - started }
}

const prelude = `
const { Broker, Producer, Consumer, Admin } = require(process.env.STREAMLET_PKG);
`

test('a script that closes everything exits on its own', () => {
  const r = runScript(`${prelude}
(async () => {
  const b = await Broker.start({ config: { 'group.initial.rebalance.delay.ms': 0 } })
  const p = new Producer({ 'bootstrap.servers': b.bootstrapServers })
  await p.send({ topic: 't', value: 'x' })
  await p.close()
  const c = new Consumer({ 'bootstrap.servers': b.bootstrapServers, 'group.id': 'g', 'auto.offset.reset': 'earliest' })
  c.subscribe(['t'])
  for await (const m of c) break
  await c.close()
  const a = new Admin({ 'bootstrap.servers': b.bootstrapServers })
  await a.listTopics()
  await a.close()
  await b.close()
  console.log('finished')
})()`)
  assert.equal(r.error, undefined, `the script did not exit by itself: ${r.error}`)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /finished/)
})

test('a script that forgets to close its consumer, producer and admin still exits', () => {
  const r = runScript(`${prelude}
(async () => {
  const b = await Broker.start({ config: { 'group.initial.rebalance.delay.ms': 0 } })
  const p = new Producer({ 'bootstrap.servers': b.bootstrapServers })
  await p.send({ topic: 't', value: 'x' })
  const c = new Consumer({ 'bootstrap.servers': b.bootstrapServers, 'group.id': 'g', 'auto.offset.reset': 'earliest' })
  c.subscribe(['t'])
  const got = await (async () => { for await (const m of c) return m })()
  const a = new Admin({ 'bootstrap.servers': b.bootstrapServers })
  await a.listTopics()
  console.log('read', String(got.value))
})()`)
  assert.equal(r.error, undefined, `the script hung: ${r.error}`)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /read x/)
})

test('records produced without waiting are delivered before the process exits', () => {
  const r = runScript(`${prelude}
(async () => {
  const b = await Broker.start()
  const p = new Producer({ 'bootstrap.servers': b.bootstrapServers, 'linger.ms': 50 })
  let n = 0
  for (let i = 0; i < 100; i++) p.produce({ topic: 't', value: 'x' }, (err) => { if (!err) n++ })
  process.on('exit', () => console.log('delivered', n))
})()`)
  assert.equal(r.error, undefined, `the script hung: ${r.error}`)
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /delivered 100/)
})

test('import works as well as require', () => {
  const r = runScript(
    `import streamlet, { Broker, Producer, Consumer, Admin, KafkaError } from 'streamlet'
const b = await Broker.start()
console.log(typeof Producer, typeof Consumer, typeof Admin, typeof KafkaError, streamlet.Broker === Broker)
await b.close()`,
    { esm: true },
  )
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'function function function function true')
})
