// kafkajs driver for the Streamlet interop tests (same interface as java/src/Interop.java).
//
//   node interop.js create-topic BOOTSTRAP TOPIC PARTITIONS
//   node interop.js produce BOOTSTRAP TOPIC COMPRESSION < spec.jsonl     (none|gzip; acks=-1)
//   node interop.js consume BOOTSTRAP TOPIC PARTITIONS COUNT TIMEOUT_MS  (no consumer group)
//
// kafkajs has no group-less consumer (its Consumer always joins a group), so `consume` uses kafkajs's
// own cluster/broker layer: metadata, leader lookup and Fetch requests, as the kafkajs fetcher does.
'use strict'
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')
const readline = require('readline')

const [mode, bootstrap, topic, ...rest] = process.argv.slice(2)

const kafka = new Kafka({
  clientId: 'kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
})

const buf = s => (s === null || s === undefined ? null : Buffer.from(s, 'utf8'))
const str = b => (b === null || b === undefined ? null : Buffer.from(b).toString('utf8'))

async function readSpec() {
  const out = []
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of rl) if (line.trim()) out.push(JSON.parse(line))
  return out
}

async function createTopic(partitions) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 20000,
    })
    if (!created) throw new Error(`topic ${topic} already existed`)
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const n = md.topics[0].partitions.length
    if (n !== partitions) throw new Error(`topic ${topic} has ${n} partitions, wanted ${partitions}`)
  } finally {
    await admin.disconnect()
  }
}

async function produce(compression) {
  const codec = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP,
    snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }[compression]
  if (codec === undefined) throw new Error(`unknown compression ${compression}`)
  const spec = await readSpec()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    // one send per record keeps the produce order exactly the spec order, per partition
    const results = []
    for (const r of spec) {
      const headers = {}
      for (const [k, v] of r.h || []) {
        if (k in headers) headers[k] = [].concat(headers[k], buf(v))
        else headers[k] = buf(v)
      }
      const msg = { key: buf(r.k), value: buf(r.v), headers }
      if (r.p !== null && r.p !== undefined) msg.partition = r.p
      const md = await producer.send({ topic, acks: -1, compression: codec, messages: [msg] })
      results.push({ p: md[0].partition, o: Number(md[0].baseOffset) })
    }
    for (const r of results) process.stdout.write(JSON.stringify(r) + '\n')
  } finally {
    await producer.disconnect()
  }
}

async function consume(partitions, count, timeoutMs) {
  // The Kafka object keeps its cluster factory under a private symbol; use it for a bare cluster.
  const sym = Object.getOwnPropertySymbols(kafka).find(s => String(s).includes('createCluster'))
  const cluster = kafka[sym]({ allowAutoTopicCreation: false })
  await cluster.connect()
  const got = []
  try {
    await cluster.addTargetTopic(topic)
    await cluster.refreshMetadata()
    const next = new Map()
    for (let p = 0; p < partitions; p++) next.set(p, '0')
    const deadline = Date.now() + timeoutMs
    while (got.length < count && Date.now() < deadline) {
      const byLeader = cluster.findLeaderForPartitions(topic, [...next.keys()])
      for (const [leaderId, parts] of Object.entries(byLeader)) {
        const broker = await cluster.findBroker({ nodeId: leaderId })
        const resp = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 10485760,
          topics: [{ topic, partitions: parts.map(p => ({ partition: p, fetchOffset: next.get(p), maxBytes: 1048576 })) }],
        })
        for (const t of resp.responses) {
          for (const pd of t.partitions) {
            if (pd.errorCode) throw new Error(`fetch ${topic}/${pd.partition}: error code ${pd.errorCode}`)
            for (const m of pd.messages) {
              if (m.isControlRecord) continue
              if (BigInt(m.offset) < BigInt(next.get(pd.partition))) continue
              const h = []
              for (const [k, v] of Object.entries(m.headers || {})) {
                for (const one of Array.isArray(v) ? v : [v]) h.push([k, str(one)])
              }
              got.push({ p: pd.partition, o: Number(m.offset), k: str(m.key), v: str(m.value), h })
              next.set(pd.partition, (BigInt(m.offset) + 1n).toString())
            }
          }
        }
      }
    }
  } finally {
    await cluster.disconnect()
  }
  got.sort((a, b) => a.p - b.p || a.o - b.o)
  for (const r of got) process.stdout.write(JSON.stringify(r) + '\n')
  if (got.length < count) {
    process.stderr.write(`consumed ${got.length} of ${count} records before the timeout\n`)
    process.exitCode = 1
  }
}

async function main() {
  switch (mode) {
    case 'create-topic': return createTopic(Number(rest[0]))
    case 'produce': return produce(rest[0])
    case 'consume': return consume(Number(rest[0]), Number(rest[1]), Number(rest[2]))
    default:
      process.stderr.write('usage: interop.js create-topic|produce|consume ...\n')
      process.exitCode = 2
  }
}

main().catch(e => {
  process.stderr.write(`kafkajs ${mode} failed: ${e && e.stack ? e.stack : e}\n`)
  if (e && e.cause) process.stderr.write(`cause: ${e.cause.stack || e.cause}\n`)
  process.exitCode = 1
})
