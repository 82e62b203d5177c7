// Compiled with `tsc --noEmit --strict` by types.test.js: exercises index.d.ts the way an application would.
import streamlet, { Broker, Producer, Consumer, Admin, KafkaError, Message, RecordMetadata, TopicPartition } from 'streamlet'

async function main(): Promise<void> {
  const broker: Broker = await streamlet.Broker.start({ listen: '127.0.0.1:0', config: { 'num.partitions': 3 } })
  const producer = new Producer(
    { 'bootstrap.servers': broker.bootstrapServers, 'linger.ms': 5 },
    {
      interceptors: [{ onSend: (r) => ({ ...r, value: `x${r.value}` }), onAcknowledgement: (md, err) => void (md?.offset ?? err?.code) }],
      partitioner: (topic: string, key: Buffer | null, count: number) => (key ? key.length % count : 0),
    },
  )
  const md: RecordMetadata = await producer.send({ topic: 't', key: 'k', value: Buffer.from('v'), headers: { h: ['a', 'b'] }, timestamp: Date.now() })
  const mds: RecordMetadata[] = await producer.sendBatch({ topicMessages: [{ topic: 't', messages: [{ value: 'a' }] }] })
  producer.produce({ topic: 't', value: 'f' }, (err: KafkaError | null, m: RecordMetadata | null) => void (err ? err.name : m?.partition))
  producer.on('delivery', (err, m, record) => void (err?.retriable ?? m?.offset ?? record.topic))
  await producer.flush(1000)
  await producer.close()

  const consumer = new Consumer(
    { 'bootstrap.servers': broker.bootstrapServers, 'group.id': 'g' },
    { interceptors: [{ onConsume: (rs: Message[]) => rs, onCommit: (o) => void o.length }] },
  )
  consumer.subscribe(['t'], { onAssign: async (ps: TopicPartition[], c: Consumer) => void (await c.position(ps[0])), onRevoke: () => {} })
  for await (const m of consumer) {
    const v: Buffer | null = m.value
    void v
    break
  }
  const polled: Message[] = await consumer.poll(100)
  void polled
  await consumer.run({ eachMessage: async ({ message }) => void message.offset })
  await consumer.stop()
  await consumer.commit([{ topic: 't', partition: 0, offset: md.offset + 1 }])
  consumer.commitAsync((err, offsets) => void (err ?? offsets))
  const committed = await consumer.committed([{ topic: 't', partition: 0 }])
  const first: number | null = committed[0].offset
  void first
  consumer.seek({ topic: 't', partition: 0, offset: 0 })
  consumer.subscribe(/t-.*/, { onLost: (ps) => void ps.length })
  consumer.pause([{ topic: 't', partition: 0 }])
  consumer.resume(consumer.paused())
  await consumer.close()

  const admin = new Admin({ 'bootstrap.servers': broker.bootstrapServers })
  await admin.createTopics([{ name: 'u', numPartitions: 2, configs: { 'retention.ms': 1000 } }])
  await admin.alterConfigs('u', { 'retention.ms': 2000 })
  await admin.alterConfigs('u', [{ name: 'retention.ms', op: 'delete' }], { validateOnly: true })
  const moved: TopicPartition[] = await admin.alterGroupOffsets('g', [{ topic: 'u', partition: 0, offset: 1 }])
  void moved
  const lag = await admin.groupLag('g')
  void lag[0].lag
  const offs = await admin.listOffsets([{ topic: 'u', partition: 0, spec: 'earliest' }, { topic: 'u', partition: 1, spec: 1234 }])
  void offs[0].timestamp
  await admin.close()
  await broker.close()
  void mds
  try {
    await producer.send({ topic: '' })
  } catch (e) {
    if (e instanceof KafkaError) void [e.code, e.name, e.retriable, e.fatal]
  }
}

void main
