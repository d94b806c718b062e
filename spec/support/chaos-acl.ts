/**
 * The ACL rule docs/security.md gives for a consumer of one service: only that service's keys and keyspace
 * channels, and only the commands the client sends (directly or from its Lua scripts). Keep the two in step.
 */

/**
 * The minimal ACL rule for a consumer of `service` on database `db` (after `reset on >password`). PSUBSCRIBE
 * patterns are checked literally against `&` patterns, so the keyspace pattern names the database.
 */
export function consumerAclRule(service: string, db = 0): string[] {
  return [
    `~rsc:{${service}}:*`,
    `&__keyspace@${db}__:rsc:{${service}}:session:*`,
    `&__keyspace@${db}__:rsc:{${service}}:probe:*`,
    `&__keyevent@${db}__:expired`,
    '-@all',
    // Outside scripts: the database in use, scripts, the group, blocking reads, reconcile, expiry checks, adding.
    '+client|info', '+evalsha', '+eval', '+xgroup|create', '+xreadgroup', '+xinfo|consumers', '+exists', '+set', '+xadd',
    '+psubscribe', '+subscribe',
    // Inside the heartbeat: a dead peer announced to every survivor.
    '+publish',
    // Inside the scripts.
    '+get', '+del', '+pexpire', '+pttl', '+incr', '+time',
    '+hget', '+hset', '+hdel', '+hincrby', '+sadd', '+srem', '+sismember', '+zadd', '+zrange', '+zrangebyscore', '+zscore', '+zrem',
    '+xpending', '+xrange', '+xclaim', '+xack', '+xdel', '+xgroup|delconsumer',
  ];
}
