-- Removes every trace of a consumer that owns nothing any more: it has left the fleet.
-- k holds the keys: consumers, loads, readers, released, started, ended, lbs, members, membership.
local function forget(k, group, consumer)
  redis.call('ZREM', k.consumers, consumer)
  redis.call('HDEL', k.started, consumer)
  redis.call('HDEL', k.ended, consumer)
  redis.call('HDEL', k.loads, consumer)
  redis.call('HDEL', k.readers, consumer)
  redis.call('SREM', k.released, consumer)
  redis.call('HDEL', k.members, consumer)
  redis.call('INCR', k.membership)
  redis.pcall('XGROUP', 'DELCONSUMER', k.lbs, group, consumer)
end
