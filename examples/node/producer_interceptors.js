'use strict'
// Interceptors: one prefixes every value with the send time, one counts successes and failures.
const { Producer, Consumer } = require('../../node')
const { startCluster, unique, check, main } = require('./cluster')

const timestampPrefix = {
  onSend: (record) => ({ ...record, value: `${Date.now()}|${record.value}` }),
}

class Counter {
  constructor() {
    this.ok = 0
    this.failed = 0
  }
  onAcknowledgement(metadata, error) {
    if (error) this.failed++
    else this.ok++
  }
  close() {
    console.log(`interceptor closing: ${this.ok} delivered, ${this.failed} failed`)
  }
}

main(async () => {
  const cluster = await startCluster()
  const topic = unique('interceptors')
  const counter = new Counter()
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap }, { interceptors: [timestampPrefix, counter] })
  await producer.sendBatch(Array.from({ length: 8 }, (_, i) => ({ topic, value: `message ${i}` })))
  await producer.send({ topic, partition: 42, value: 'fails: no such partition' }).catch((e) => console.log(`expected failure: ${e.name}`))
  await producer.close()
  check(counter.ok === 8 && counter.failed === 1, `8 successes and 1 failure counted, got ${counter.ok}/${counter.failed}`)
  const consumer = new Consumer({ 'bootstrap.servers': cluster.bootstrap, 'auto.offset.reset': 'earliest' })
  consumer.assign([{ topic, partition: 0 }])
  const [first] = await consumer.poll(10000)
  console.log(`stored value: ${first.value}`)
  check(/^\d+\|message 0$/.test(String(first.value)), 'the stored value carries the timestamp prefix')
  await consumer.close()
  await cluster.close()
})
