// kafkajs consumer-group member for test_groups.py (same protocol as ../group_member.py).
//
//   node groups.js BOOTSTRAP TOPIC GROUP ASSIGNOR SESSION_TIMEOUT_MS
//
// ASSIGNOR must be `roundrobin`: kafkajs 2.2.4 ships only PartitionAssigners.roundRobin (protocol name
// "RoundRobinAssigner"); range and cooperative-sticky do not exist in kafkajs.
// stdout: {"ev":"assign","parts":[...]} on every GROUP_JOIN, {"ev":"rec","p","o","v"} per record,
//         {"ev":"committed","offsets":{...}}, {"ev":"closed"}, {"ev":"error","msg"}.
// stdin:  "commit" | "close" (EOF = close).
'use strict'
const { Kafka, PartitionAssigners, logLevel } = require('kafkajs')
const readline = require('readline')

const [bootstrap, topic, group, assignor, sessionMs] = process.argv.slice(2)
const emit = ev => process.stdout.write(JSON.stringify(ev) + '\n')

if (assignor !== 'roundrobin') {
  process.stderr.write(`kafkajs has no ${assignor} assignor (round-robin only)\n`)
  process.exit(2)
}

const kafka = new Kafka({
  clientId: 'kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 20000,
  retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
})

async function main() {
  const consumer = kafka.consumer({
    groupId: group,
    partitionAssigners: [PartitionAssigners.roundRobin],
    sessionTimeout: Number(sessionMs),
    rebalanceTimeout: 30000,
    heartbeatInterval: 1000,
    allowAutoTopicCreation: false,
  })
  const next = new Map()
  let parts = []
  consumer.on(consumer.events.GROUP_JOIN, e => {
    parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    emit({ ev: 'assign', parts })
  })
  consumer.on(consumer.events.CRASH, e => emit({ ev: 'error', msg: `crash: ${e.payload.error}` }))
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      next.set(partition, (BigInt(message.offset) + 1n).toString())
      emit({ ev: 'rec', p: partition, o: Number(message.offset),
        v: message.value === null ? null : message.value.toString('utf8') })
    },
  })

  let busy = Promise.resolve()
  let closing = false
  const close = () => {
    if (closing) return
    closing = true
    busy = busy.then(async () => {
      await consumer.disconnect()
      emit({ ev: 'closed' })
      process.exit(0)
    })
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  rl.on('line', line => {
    const cmd = line.trim()
    if (cmd === 'commit') {
      busy = busy.then(async () => {
        const offs = [...next.entries()].filter(([p]) => parts.includes(p))
        try {
          if (offs.length) await consumer.commitOffsets(offs.map(([p, o]) => ({ topic, partition: p, offset: o })))
          emit({ ev: 'committed', offsets: Object.fromEntries(offs.map(([p, o]) => [String(p), Number(o)])) })
        } catch (e) {
          emit({ ev: 'error', msg: `commit: ${e}` })
        }
      })
    } else if (cmd === 'close') close()
  })
  rl.on('close', close)
}

main().catch(e => {
  process.stderr.write(`kafkajs group member failed: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
