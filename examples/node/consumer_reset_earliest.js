'use strict'
// A brand-new group with auto.offset.reset=earliest reads the topic from the start, kafkajs-style with run().
const { Consumer } = require('../../node')
const { startCluster, unique, check, main, WAIT_MS } = require('./cluster')
const { fill } = require('./fill')

main(async () => {
  const cluster = await startCluster()
  const topic = unique('reset-earliest')
  await fill(cluster.bootstrap, topic, 10)
  const consumer = new Consumer({ 'bootstrap.servers': cluster.bootstrap, 'group.id': unique('fresh-group'), 'auto.offset.reset': 'earliest' })
  consumer.subscribe([topic])
  const seen = []
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out reading 10 records')), WAIT_MS)
    consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        console.log(`${t}-${partition}@${message.offset}: ${message.value}`)
        seen.push(message.offset)
        if (seen.length === 10) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  await consumer.stop()
  check(seen[0] === 0 && seen.length === 10, 'the new group started at the earliest offset')
  await consumer.close()
  await cluster.close()
})
