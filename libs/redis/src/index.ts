export {
  createRedisClient,
  describeRedisTarget,
  reconnectOnReadonly,
  redisClientOptions,
  type RedisBehaviour,
} from './redis-client';
