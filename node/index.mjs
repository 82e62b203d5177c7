import streamlet from './index.js'

export const { Broker, Producer, Consumer, Admin, KafkaError } = streamlet
export default streamlet
