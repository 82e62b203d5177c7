'use strict'
// Synchronous style: await each send before the next one; errors arrive as KafkaError.
const { Producer, KafkaError } = require('../../node')
const { startCluster, unique, check, main } = require('./cluster')

main(async () => {
  const cluster = await startCluster()
  const topic = unique('sync')
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap, acks: 'all' })
  for (let i = 0; i < 5; i++) {
    const md = await producer.send({ topic, value: `step ${i}` })
    console.log(`step ${i} stored at offset ${md.offset} (timestamp ${md.timestamp})`)
    check(md.offset === i, 'offsets follow the sends')
  }
  try {
    await producer.send({ topic, partition: 99, value: 'nowhere' })
    check(false, 'sending to a missing partition fails')
  } catch (e) {
    check(e instanceof KafkaError, 'failures are KafkaErrors')
    console.log(`expected failure: ${e.name} (code ${e.code}, retriable ${e.retriable})`)
  }
  await producer.close()
  await cluster.close()
})
