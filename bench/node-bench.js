#!/usr/bin/env node
'use strict'
// Produce and consume N records of S bytes from Node with Streamlet's package and with kafkajs, against the
// same broker in the same run, and print records/s and MB/s for each.
//
//   (cd node && npm ci && npm run build)        # release build of the addon (the measurement needs one)
//   node bench/node-bench.js                     # 1,000,000 x 100 B, embedded broker in this process
//   node bench/node-bench.js --records 200000 --size 1000 --partitions 3 --bootstrap 127.0.0.1:9092
//
// Both clients use the same acks (`--acks`, default all), no compression, and per-record APIs on the consuming side (Streamlet's
// `for await`, kafkajs' eachMessage). Producing goes through batch calls in both (Streamlet's sendBatch,
// kafkajs' send with many messages), `--chunk` records per call with `--inflight` calls outstanding. kafkajs
// turns each send call into one request (a batch of up to `--chunk` records per partition); Streamlet's producer
// batches by `batch.size`, set to `--batchSize` (default 1 MiB) so that both write comparable batches (with
// acks=all the broker fsyncs every batch, so small batches measure the disk, not the client).
// Both consumers fetch up to 4 MiB per partition per request (max.partition.fetch.bytes / maxBytesPerPartition).
// STREAMLET_NODE_ADDON=/path/to/release.node picks the addon build to measure.
const path = require('node:path')
const { Broker, Producer, Consumer, Admin } = require(path.join(__dirname, '..', 'node'))
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'))

function args() {
  const o = { records: 1000000, size: 100, partitions: 3, chunk: 10000, inflight: 4, batchSize: 1048576, acks: 'all', bootstrap: null, only: null }
  const a = process.argv.slice(2)
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '')
    if (!(k in o)) throw new Error(`unknown option --${k}`)
    o[k] = typeof o[k] === 'number' ? Number(a[i + 1]) : a[i + 1]
  }
  return o
}

function report(what, n, bytes, ms) {
  const rps = n / (ms / 1000)
  const mbps = bytes / (ms / 1000) / 1e6
  console.log(`${what.padEnd(44)} ${String(n).padStart(9)} records in ${(ms / 1000).toFixed(2).padStart(6)} s: ${Math.round(rps).toLocaleString('en-US').padStart(10)} records/s ${mbps.toFixed(1).padStart(7)} MB/s`)
  return { rps, mbps }
}

/** Runs `n` calls of `call(i)` (each covering one chunk) with at most `inflight` outstanding. */
async function pipelined(chunks, inflight, call) {
  let next = 0
  const lane = async () => {
    while (next < chunks) await call(next++)
  }
  await Promise.all(Array.from({ length: inflight }, lane))
}

async function streamletProduce(o, bootstrap, topic, value) {
  const p = new Producer({ 'bootstrap.servers': bootstrap, acks: o.acks, 'linger.ms': 5, 'batch.size': o.batchSize })
  const chunks = Math.ceil(o.records / o.chunk)
  const t0 = performance.now()
  await pipelined(chunks, o.inflight, (c) => {
    const n = Math.min(o.chunk, o.records - c * o.chunk)
    return p.sendBatch(Array.from({ length: n }, () => ({ topic, value })))
  })
  const ms = performance.now() - t0
  await p.close()
  return report('streamlet  produce (sendBatch)', o.records, o.records * o.size, ms)
}

async function streamletConsume(o, bootstrap, topic) {
  const c = new Consumer({ 'bootstrap.servers': bootstrap, 'group.id': `bench-${topic}`, 'auto.offset.reset': 'earliest', 'max.poll.records': 5000, 'max.partition.fetch.bytes': 4194304 })
  c.subscribe([topic])
  let n = 0
  let bytes = 0
  let t0 = null
  for await (const m of c) {
    if (t0 === null) t0 = performance.now()
    n++
    bytes += m.value.length
    if (n === o.records) break
  }
  const ms = performance.now() - t0
  await c.close()
  return report('streamlet  consume (for await, per record)', n, bytes, ms)
}

async function kafkajsProduce(o, kafka, topic, value) {
  const p = kafka.producer({ allowAutoTopicCreation: true })
  await p.connect()
  const chunks = Math.ceil(o.records / o.chunk)
  const t0 = performance.now()
  await pipelined(chunks, o.inflight, (c) => {
    const n = Math.min(o.chunk, o.records - c * o.chunk)
    return p.send({ topic, acks: o.acks === 'all' ? -1 : Number(o.acks), messages: Array.from({ length: n }, () => ({ value })) })
  })
  const ms = performance.now() - t0
  await p.disconnect()
  return report('kafkajs    produce (send, batches)', o.records, o.records * o.size, ms)
}

async function kafkajsConsume(o, kafka, topic) {
  const c = kafka.consumer({ groupId: `bench-kjs-${topic}`, maxBytesPerPartition: 4 << 20 })
  await c.connect()
  await c.subscribe({ topics: [topic], fromBeginning: true })
  let n = 0
  let bytes = 0
  let t0 = null
  const ms = await new Promise((resolve) => {
    c.run({
      eachMessage: async ({ message }) => {
        if (t0 === null) t0 = performance.now()
        n++
        bytes += message.value.length
        if (n === o.records) resolve(performance.now() - t0)
      },
    })
  })
  await c.disconnect()
  return report('kafkajs    consume (eachMessage)', n, bytes, ms)
}

async function main() {
  const o = args()
  let broker = null
  let bootstrap = o.bootstrap
  if (!bootstrap) {
    broker = await Broker.start({ config: { 'group.initial.rebalance.delay.ms': 0 } })
    bootstrap = broker.bootstrapServers
  }
  console.log(`node ${process.version}; ${o.records} records of ${o.size} bytes, ${o.partitions} partitions, acks=${o.acks}; broker ${bootstrap}${broker ? ' (embedded, in this process)' : ''}`)
  const admin = new Admin({ 'bootstrap.servers': bootstrap })
  const run = Date.now()
  const tS = `bench-streamlet-${run}`
  const tK = `bench-kafkajs-${run}`
  await admin.createTopics([{ name: tS, numPartitions: o.partitions }, { name: tK, numPartitions: o.partitions }])
  await admin.close()
  const value = Buffer.alloc(o.size, 'x')
  const kafka = new Kafka({ clientId: 'node-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING })
  const r = {}
  if (o.acks !== 'all') o.acks = Number(o.acks)
  if (o.only !== 'kafkajs') {
    r.sp = await streamletProduce(o, bootstrap, tS, value)
    r.sc = await streamletConsume(o, bootstrap, tS)
  }
  if (o.only !== 'streamlet') {
    r.kp = await kafkajsProduce(o, kafka, tK, value)
    r.kc = await kafkajsConsume(o, kafka, tK)
  }
  if (r.sp && r.kp) {
    console.log(`produce: streamlet / kafkajs = ${(r.sp.rps / r.kp.rps).toFixed(1)}x; consume: ${(r.sc.rps / r.kc.rps).toFixed(1)}x`)
  }
  if (broker) await broker.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
