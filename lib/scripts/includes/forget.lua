-- Removes every trace of a consumer that owns nothing any more.
-- k holds the keys: consumers, loads, readers, released, started, ended, lbs.
local function forget(k, group, consumer)
  redis.call('ZREM', k.consumers, consumer)
  redis.call('HDEL', k.started, consumer)
  redis.call('HDEL', k.ended, consumer)
  redis.call('HDEL', k.loads, consumer)
  redis.call('HDEL', k.readers, consumer)
  redis.call('SREM', k.released, consumer)
  redis.pcall('XGROUP', 'DELCONSUMER', k.lbs, group, consumer)
end
