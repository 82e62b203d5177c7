'use strict'
// Manual commits: process a batch, then commit synchronously (await) or asynchronously (callback from a later
// poll). A restarted member resumes after the last committed record.
const { Consumer } = require('../../node')
const { startCluster, unique, check, main } = require('./cluster')
const { fill } = require('./fill')

main(async () => {
  const cluster = await startCluster()
  const topic = unique('manual-commit')
  const group = unique('manual-group')
  await fill(cluster.bootstrap, topic, 30)
  const config = {
    'bootstrap.servers': cluster.bootstrap,
    'group.id': group,
    'enable.auto.commit': false,
    'auto.offset.reset': 'earliest',
    'max.poll.records': 5,
  }
  const consumer = new Consumer(config)
  consumer.subscribe([topic])
  let processed = 0
  let asyncDone = null
  let batches = 0
  const deadline = Date.now() + 10000
  while (processed < 20 && Date.now() < deadline) {
    const records = await consumer.poll(500)
    const batch = records.slice(0, 20 - processed)
    if (batch.length === 0) continue
    processed += batch.length
    const last = batch[batch.length - 1]
    const offsets = [{ topic, partition: last.partition, offset: last.offset + 1 }]
    if (++batches % 2 === 1) {
      await consumer.commit(offsets)
      console.log(`committed synchronously up to ${last.offset + 1}`)
    } else {
      consumer.commitAsync(offsets, (err, committed) => {
        asyncDone = err || committed
        console.log(err ? `async commit failed: ${err.message}` : `async commit of ${committed[0].offset} confirmed`)
      })
    }
    if (batch.length < records.length) consumer.seek({ topic, partition: last.partition, offset: last.offset + 1 })
  }
  const confirmDeadline = Date.now() + 10000
  while (asyncDone === null && Date.now() < confirmDeadline) await consumer.poll(50) // async commit results arrive from poll
  await consumer.close()
  check(processed === 20, `processed 20 records, got ${processed}`)
  const committed = await (async () => {
    const c = new Consumer(config)
    const r = await c.committed([{ topic, partition: 0 }])
    await c.close()
    return r[0].offset
  })()
  console.log(`committed offset of ${group}: ${committed}`)
  check(committed === 20, 'the group resumes at record 20')
  check(asyncDone !== null && !(asyncDone instanceof Error), 'the async commit callback ran and succeeded')
  await cluster.close()
})
