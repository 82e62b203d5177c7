'use strict'
// Choosing the partition: explicitly, or by key (the same key always lands on the same partition).
const { Producer } = require('../../node')
const { startCluster, unique, createTopic, check, main } = require('./cluster')

main(async () => {
  const cluster = await startCluster()
  const topic = await createTopic(cluster.bootstrap, unique('partition-key'), 4)
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap })
  const fixed = await producer.send({ topic, partition: 2, value: 'to partition 2' })
  console.log(`explicit partition: ${fixed.partition} offset ${fixed.offset}`)
  check(fixed.partition === 2, 'the explicit partition is used')
  const byKey = new Map()
  for (let i = 0; i < 12; i++) {
    const key = `customer-${i % 3}`
    const md = await producer.send({ topic, key, value: `order ${i}` })
    console.log(`key ${key} -> partition ${md.partition} offset ${md.offset}`)
    check(!byKey.has(key) || byKey.get(key) === md.partition, `key ${key} always goes to one partition`)
    byKey.set(key, md.partition)
  }
  await producer.close()
  await cluster.close()
})
