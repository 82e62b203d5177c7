'use strict'
// A delivery callback per record, printing where each one landed.
const { Producer } = require('../../node')
const { startCluster, unique, createTopic, check, main } = require('./cluster')

main(async () => {
  const cluster = await startCluster()
  const topic = await createTopic(cluster.bootstrap, unique('callback'), 3)
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap })
  let delivered = 0
  for (let i = 0; i < 10; i++) {
    producer.produce({ topic, key: `user-${i}`, value: `event ${i}` }, (err, md) => {
      if (err) return console.error(`record ${i} failed: ${err.name}: ${err.message}`)
      delivered++
      console.log(`record ${i} -> ${md.topic} partition ${md.partition} offset ${md.offset}`)
    })
  }
  await producer.flush(10000)
  check(delivered === 10, `10 delivery callbacks ran, got ${delivered}`)
  await producer.close()
  await cluster.close()
})
