'use strict'
// Rebalance callbacks with an offset store of our own (as when offsets live beside the results): nothing is
// committed to the group. onRevoke saves each partition's position; onAssign seeks to the saved position, so a
// partition that moves to another member is not read twice.
const { Consumer } = require('../../node')
const { startCluster, unique, createTopic, check, main, WAIT_MS } = require('./cluster')
const { fill } = require('./fill')

const store = new Map()
const k = (p) => `${p.topic}-${p.partition}`

function listener(name) {
  return {
    onRevoke: async (partitions, consumer) => {
      for (const p of partitions) {
        const pos = await consumer.position(p)
        console.log(`[${name}] revoked ${k(p)}: saving position ${pos}`)
        store.set(k(p), pos)
      }
    },
    onAssign: (partitions, consumer) => {
      for (const p of partitions) {
        if (store.has(k(p))) {
          console.log(`[${name}] assigned ${k(p)}: seeking to saved position ${store.get(k(p))}`)
          consumer.seek({ ...p, offset: store.get(k(p)) })
        } else console.log(`[${name}] assigned ${k(p)}: nothing saved, auto.offset.reset applies`)
      }
    },
  }
}

async function pollUntil(consumers, what, done) {
  const got = []
  const deadline = Date.now() + WAIT_MS
  while (!done(got)) {
    check(Date.now() < deadline, `timed out waiting for ${what}`)
    for (const c of consumers) got.push(...(await c.poll(50)))
  }
  return got
}

main(async () => {
  const cluster = await startCluster()
  const topic = await createTopic(cluster.bootstrap, unique('rebalance'), 2)
  const group = unique('rebalance-group')
  await fill(cluster.bootstrap, topic, 10, { partitions: 2 })
  const config = { 'bootstrap.servers': cluster.bootstrap, 'group.id': group, 'enable.auto.commit': false, 'auto.offset.reset': 'earliest' }
  const first = new Consumer(config)
  first.subscribe([topic], listener('first'))
  const early = await pollUntil([first], '10 records', (got) => got.length >= 10)
  console.log(`[first] read ${early.length} records`)
  const second = new Consumer(config)
  second.subscribe([topic], listener('second'))
  const deadline = Date.now() + WAIT_MS
  while (second.assignment().length === 0 || first.assignment().length !== 1) {
    check(Date.now() < deadline, 'timed out waiting for the rebalance')
    const stray = [...(await first.poll(50)), ...(await second.poll(50))]
    check(stray.length === 0, 'nothing new to read during the rebalance')
  }
  await fill(cluster.bootstrap, topic, 10, { partitions: 2 })
  const late = await pollUntil([first, second], 'the 10 new records', (got) => got.length >= 10)
  const offsets = late.map((r) => `${r.partition}@${r.offset}`)
  console.log(`after the rebalance: ${offsets.join(' ')}`)
  check(late.every((r) => r.offset >= 5), 'no record was read twice')
  await second.close()
  await first.close()
  await cluster.close()
})
