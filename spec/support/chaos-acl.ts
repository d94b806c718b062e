/**
 * The ACL rule docs/security.md gives for a consumer of one service: only that service's keys and keyspace
 * channels, its data streams and their keyspace channels, and only the commands the client sends (directly or from
 * its Lua scripts). Keep the two in step.
 */

/**
 * The minimal ACL rule for a consumer of `service` on database `db` (after `reset on >password`) that processes the
 * data streams whose names match the glob `dataStreams`. PSUBSCRIBE patterns are checked literally against `&`
 * patterns, so the keyspace pattern names the database; SUBSCRIBE channels (a data stream's) are matched as globs.
 */
export function consumerAclRule(service: string, dataStreams: string, db = 0): string[] {
  return [
    `~rsc:{${service}}:*`,
    `~${dataStreams}`,
    `&__keyspace@${db}__:rsc:{${service}}:session:*`,
    `&__keyspace@${db}__:rsc:{${service}}:probe:*`,
    `&__keyevent@${db}__:expired`,
    `&__keyspace@${db}__:${dataStreams}`,
    '-@all',
    // Outside scripts: the database in use, the reader's connection id (drain() ends its blocking read early),
    // scripts, the group, blocking reads, reconcile, expiry checks, adding.
    '+client|info', '+client|id', '+client|unblock', '+evalsha', '+eval', '+xgroup|create', '+xreadgroup', '+xinfo|consumers', '+exists', '+set', '+xadd',
    '+psubscribe', '+subscribe',
    // Processing: where a stream ends, reading, trimming, hearing writes (and no longer), positions, dead letters.
    '+xinfo|stream', '+xread', '+xtrim', '+unsubscribe',
    // Inside the heartbeat: a dead peer announced to every survivor.
    '+publish',
    // Inside the scripts.
    '+get', '+del', '+pexpire', '+pttl', '+incr', '+time',
    '+hget', '+hgetall', '+hset', '+hdel', '+hincrby', '+sadd', '+srem', '+sismember', '+zadd', '+zrange', '+zrangebyscore', '+zscore', '+zrem',
    '+xpending', '+xrange', '+xclaim', '+xack', '+xdel', '+xgroup|delconsumer',
    // Inside take.lua: how many LBS entries wait to be delivered, and how far the group has been read.
    '+xinfo|groups', '+xlen',
  ];
}
