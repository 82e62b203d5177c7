// Type definitions for the `streamlet` Node package.
/// <reference types="node" />
import { EventEmitter } from 'node:events'

/** Kafka configuration properties by their Kafka names ('bootstrap.servers', 'linger.ms', ...). */
export type Config = Record<string, string | number | boolean | string[] | null | undefined>

/**
 * Every failure the package reports. `code`/`name` are Kafka's (e.g. 3 / 'UNKNOWN_TOPIC_OR_PARTITION') or local
 * ones below -100 shared with the C API: -100 _INVALID_ARG, -101 _INVALID_CONFIG, -103 _TIMED_OUT,
 * -104 _TRANSPORT, -105 _PROTOCOL, -106 _UNSUPPORTED, -107 _CLOSED, -108 _STATE, -109 _NO_OFFSET,
 * -110 _COMMIT_FAILED, -111 _FATAL, -112 _WAKEUP, -113 _IO, -114 _PANIC.
 */
export class KafkaError extends Error {
  constructor(message: string, options?: { code?: number; name?: string; retriable?: boolean; fatal?: boolean })
  readonly code: number
  /** Kafka's error name, e.g. 'UNKNOWN_TOPIC_OR_PARTITION', or a local one such as '_TIMED_OUT'. */
  name: string
  /** Retrying the same operation may succeed. */
  readonly retriable: boolean
  /** The client cannot continue (for a consumer: fenced or an inconsistent group protocol). */
  readonly fatal: boolean
  /** Admin calls over several resources: every resource's outcome. */
  results?: Array<{ error: KafkaError | null; [key: string]: unknown }>
}

export interface BrokerOptions {
  /** Where logs live; default: a temp dir removed on close. */
  dataDir?: string
  /** HOST:PORT; port 0 picks a free port. Default '127.0.0.1:0'. */
  listen?: string
  /** Broker properties by Kafka name ('num.partitions', 'log.segment.bytes', ...). */
  config?: Config
}

/** An embedded Streamlet broker running in this process. */
export class Broker {
  static start(options?: BrokerOptions): Promise<Broker>
  /** 'host:port' for clients' bootstrap.servers. */
  readonly bootstrapServers: string
  /** Stops the broker; later calls resolve at once. */
  close(): Promise<void>
}

export type Bytes = Buffer | Uint8Array | string

/** Headers as kafkajs writes them ({ key: value | value[] }) or as [key, value] pairs. */
export type HeadersInput = Record<string, Bytes | null | undefined | Array<Bytes | null>> | Array<[string, Bytes | null | undefined]>

export interface ProducerRecord {
  topic: string
  key?: Bytes | null
  value?: Bytes | null
  /** Explicit partition; otherwise the partitioner (murmur2 of the key, sticky for keyless records) picks one. */
  partition?: number
  headers?: HeadersInput
  /** Milliseconds since the epoch (number, numeric string or Date); default: the time of send. */
  timestamp?: number | string | Date
}

export interface RecordMetadata {
  topic: string
  partition: number
  /** -1 with acks=0. */
  offset: number
  /** The broker's LogAppendTime when the topic uses it, otherwise the record's timestamp. */
  timestamp: number
}

export type DeliveryCallback = (error: KafkaError | null, metadata: RecordMetadata | null) => void

export interface ProducerInterceptor {
  /** Runs inside send/produce before the record is partitioned; returns the record to send. */
  onSend?(record: ProducerRecord): ProducerRecord
  /** Runs for every record, delivered or failed, just before its promise/callback settles. */
  onAcknowledgement?(metadata: RecordMetadata | null, error: KafkaError | null): void
  close?(): void
}

/** Picks a partition in [0, partitionCount) for a record without one; `key` is null for keyless records. */
export type Partitioner = (topic: string, key: Buffer | null, partitionCount: number) => number

export interface ProducerOptions {
  /** Run in order; a throwing interceptor is logged (process warning) and skipped. */
  interceptors?: ProducerInterceptor[]
  /** A throwing partitioner, or one returning an invalid partition, fails the record (UNKNOWN_TOPIC_OR_PARTITION). */
  partitioner?: Partitioner
}

export interface TopicMessages {
  topicMessages: Array<{ topic: string; messages: Array<Omit<ProducerRecord, 'topic'>> }>
}

export declare interface Producer {
  on(event: 'delivery', listener: (error: KafkaError | null, metadata: RecordMetadata | null, record: ProducerRecord) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

export class Producer extends EventEmitter {
  constructor(config: Config, options?: ProducerOptions)
  /** Resolves once the broker acknowledged the record. */
  send(record: ProducerRecord): Promise<RecordMetadata>
  /** Resolves to every record's metadata in order, or rejects with the first failure once all are done. */
  sendBatch(records: ProducerRecord[] | TopicMessages): Promise<RecordMetadata[]>
  /** Fire-and-forget; the callback runs on delivery and 'delivery' is emitted for every record sent this way. */
  produce(record: ProducerRecord, callback?: DeliveryCallback): void
  /** Sends everything now and waits until every record sent so far is done (default timeout 30 s). */
  flush(timeoutMs?: number): Promise<void>
  /** Delivers what is queued (up to timeoutMs, default 30 s; the rest fails with _CLOSED), closes interceptors. */
  close(timeoutMs?: number): Promise<void>
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number
}

export interface Message {
  topic: string
  partition: number
  offset: number
  timestamp: number
  timestampType: 'CreateTime' | 'LogAppendTime'
  key: Buffer | null
  value: Buffer | null
  /** A key that occurs several times maps to an array of its values. */
  headers: Record<string, Buffer | null | Array<Buffer | null>>
}

export interface RebalanceListener {
  /** After partitions were assigned, before their positions are looked up: a seek here wins. */
  onAssign?(partitions: TopicPartition[], consumer: Consumer): void | Promise<void>
  /** Before partitions are taken away (after the automatic commit, if enabled). */
  onRevoke?(partitions: TopicPartition[], consumer: Consumer): void | Promise<void>
  /** Partitions lost without a chance to commit; defaults to onRevoke. */
  onLost?(partitions: TopicPartition[], consumer: Consumer): void | Promise<void>
}

export interface ConsumerInterceptor {
  /** Runs on every poll's records (before they are handed out); returns the records to hand out. */
  onConsume?(records: Message[]): Message[]
  /** Runs after every successful commit (commit, commitAsync, automatic) with the committed offsets. */
  onCommit?(offsets: TopicPartitionOffset[]): void
  close?(): void
}

export interface ConsumerOptions {
  /** Run in order; a throwing interceptor is logged (process warning) and skipped. */
  interceptors?: ConsumerInterceptor[]
}

export interface EachMessagePayload {
  topic: string
  partition: number
  message: Message
  consumer: Consumer
}

export interface EachBatchPayload {
  batch: { topic: string; partition: number; messages: Message[] }
  consumer: Consumer
}

export interface RunOptions {
  eachMessage?(payload: EachMessagePayload): Promise<void> | void
  eachBatch?(payload: EachBatchPayload): Promise<void> | void
  /** Default 1000. */
  pollTimeoutMs?: number
  /** Wait before a failed message is delivered again; default 100. */
  retryBackoffMs?: number
}

export interface GroupMetadata {
  groupId: string
  generation: number
  memberId: string
  groupInstanceId?: string | null
}

export declare interface Consumer {
  /** A handler given to run() threw (the message is delivered again). Without a listener it is logged. */
  on(event: 'error', listener: (error: Error) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

/**
 * A Kafka consumer. A consumer that is never closed does not keep the process alive once nothing awaits it
 * (a running `for await` or `run()` does keep it alive); the group then drops it after session.timeout.ms.
 */
export class Consumer extends EventEmitter implements AsyncIterable<Message> {
  constructor(config: Config, options?: ConsumerOptions)
  /**
   * Subscribes to topics, or to every topic whose whole name matches a RegExp (Java regex semantics as far as
   * Rust's regex crate allows; flags are ignored), replacing the previous subscription; needs a group.id.
   */
  subscribe(topics: string | string[] | RegExp, listener?: RebalanceListener): void
  unsubscribe(): Promise<void>
  /** Manual assignment, without group membership. */
  assign(partitions: TopicPartition[]): void
  assignment(): TopicPartition[]
  subscription(): string[]
  /** Waits up to timeoutMs (default 1000) for records; resolves to an array, empty when none came. */
  poll(timeoutMs?: number): Promise<Message[]>
  /** Yields records one by one until the consumer is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Message>
  /** kafkajs-style processing loop; resolves once it runs. */
  run(options: RunOptions): Promise<void>
  /** Ends run() after the current message. */
  stop(): Promise<void>
  /** Commits the given offsets (next offset to read) or, without, the consumed positions. */
  commit(offsets?: TopicPartitionOffset[]): Promise<void>
  /** Commits in the background; the callback runs from a later poll (or close). */
  commitAsync(offsets?: TopicPartitionOffset[] | null, callback?: (error: KafkaError | null, offsets: TopicPartitionOffset[]) => void): void
  commitAsync(callback: (error: KafkaError | null, offsets: TopicPartitionOffset[]) => void): void
  /** Committed offsets; offset null where the group has none. */
  committed(partitions: TopicPartition[]): Promise<Array<TopicPartition & { offset: number | null }>>
  /** The offset of the next record poll hands out. */
  position(partition: TopicPartition): Promise<number>
  seek(target: TopicPartitionOffset): void
  seekToBeginning(partitions: TopicPartition[]): void
  seekToEnd(partitions: TopicPartition[]): void
  pause(partitions: TopicPartition[]): void
  resume(partitions: TopicPartition[]): void
  paused(): TopicPartition[]
  beginningOffsets(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>
  endOffsets(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>
  /** The earliest offset whose timestamp is at least the given one (offset null: no such record). */
  offsetsForTimes(query: Array<TopicPartition & { timestamp: number }>): Promise<Array<TopicPartition & { offset: number | null; timestamp: number | null }>>
  partitionsFor(topic: string): Promise<number[]>
  /** null without a group.id. */
  groupMetadata(): GroupMetadata | null
  /** Commits (with auto-commit), runs onRevoke, leaves the group, closes interceptors. */
  close(): Promise<void>
}

export interface NewTopic {
  name?: string
  /** kafkajs' spelling of `name`. */
  topic?: string
  /** Default: the broker's num.partitions. */
  numPartitions?: number
  replicationFactor?: number
  configs?: Record<string, string | number>
}

export interface ResourceResult {
  name: string
  error: KafkaError | null
}

export interface PartitionDescription {
  partition: number
  leader: number
  replicas: number[]
  isr: number[]
}

export interface TopicDescription {
  name: string
  topicId: string
  internal: boolean
  partitions: PartitionDescription[]
}

export interface ConfigEntry {
  name: string
  value: string
  isDefault: boolean
}

export interface GroupListing {
  groupId: string
  protocolType: string
  state: string
}

export interface MemberDescription {
  memberId: string
  groupInstanceId?: string
  clientId: string
  host: string
  assignment?: TopicPartition[]
}

export interface GroupDescription {
  groupId: string
  state: string
  protocolType: string
  protocol: string
  members: MemberDescription[]
}

export interface PartitionLag extends TopicPartition {
  /** -1: nothing committed. */
  committed: number
  logEnd: number
  lag: number
}

export type OffsetSpec = 'earliest' | 'latest' | 'maxTimestamp' | number

export interface ClusterDescription {
  clusterId: string
  controller: number
  brokers: Array<{ nodeId: number; address: string }>
}

/** The admin client. Calls over several resources reject with the first failure (see KafkaError.results). */
export class Admin {
  constructor(config: Config)
  createTopics(topics: NewTopic[], options?: { validateOnly?: boolean }): Promise<ResourceResult[]>
  deleteTopics(names: string[]): Promise<ResourceResult[]>
  listTopics(options?: { includeInternal?: boolean }): Promise<string[]>
  describeTopics(names: string[]): Promise<TopicDescription[]>
  /** Grows each topic to `count` partitions in total. */
  createPartitions(topics: Array<{ topic: string; count: number }>): Promise<ResourceResult[]>
  describeConfigs(topic: string): Promise<ConfigEntry[]>
  /** `{ key: value }` sets keys; a list of ops may also delete (back to the default), append or subtract. */
  alterConfigs(
    topic: string,
    ops: Record<string, string | number> | Array<{ name: string; value?: string | number; op?: 'set' | 'delete' | 'append' | 'subtract' }>,
    options?: { validateOnly?: boolean },
  ): Promise<void>
  describeBrokerConfigs(nodeId: number): Promise<ConfigEntry[]>
  listGroups(): Promise<GroupListing[]>
  describeGroups(groupIds: string[]): Promise<GroupDescription[]>
  deleteGroups(groupIds: string[]): Promise<ResourceResult[]>
  listGroupOffsets(groupId: string): Promise<TopicPartitionOffset[]>
  /** Sets a group's committed offsets; refused (UNKNOWN_MEMBER_ID) while the group has members. */
  alterGroupOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<TopicPartition[]>
  groupLag(groupId: string): Promise<PartitionLag[]>
  /** Offset -1: no record at or after the timestamp. */
  listOffsets(queries: Array<TopicPartition & { spec?: OffsetSpec }>): Promise<Array<TopicPartitionOffset & { timestamp: number }>>
  /** Deletes records before each offset; resolves to the new low watermarks. */
  deleteRecords(partitions: TopicPartitionOffset[]): Promise<Array<TopicPartition & { lowWatermark: number }>>
  describeCluster(): Promise<ClusterDescription>
  close(): Promise<void>
}

declare const streamlet: {
  Broker: typeof Broker
  Producer: typeof Producer
  Consumer: typeof Consumer
  Admin: typeof Admin
  KafkaError: typeof KafkaError
}
export default streamlet
