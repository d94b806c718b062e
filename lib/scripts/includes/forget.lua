-- Removes every trace of a consumer that owns nothing any more.
local function forget(consumers, loads, readers, lbs, group, consumer)
  redis.call('ZREM', consumers, consumer)
  redis.call('HDEL', loads, consumer)
  redis.call('HDEL', readers, consumer)
  redis.pcall('XGROUP', 'DELCONSUMER', lbs, group, consumer)
end
