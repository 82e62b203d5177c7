'use strict'
// Fire-and-forget: produce() without a callback, then flush() to wait until everything is delivered.
const { Producer } = require('../../node')
const { startCluster, unique, check, main } = require('./cluster')

main(async () => {
  const cluster = await startCluster()
  const topic = unique('basic')
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap, 'linger.ms': 5 })
  let failed = 0
  producer.on('delivery', (err) => err && failed++)
  for (let i = 0; i < 100; i++) producer.produce({ topic, key: `key-${i}`, value: `value-${i}` })
  await producer.flush(10000)
  console.log(`produced 100 records to ${topic} (${failed} failed)`)
  check(failed === 0, 'every record is delivered')
  await producer.close()
  await cluster.close()
})
