-- What counts towards maxDeliveries. A stream's delivery count grows when its owner's session ends and the
-- sessions of other consumers of the service did not: then the owner failed alone, and the stream may be why.
-- A pause of Redis or of the network ends every session at once, so nobody's session lived through it; such an
-- end is not the stream's fault and does not count.
-- k holds the keys: consumers (session deadlines), started (consumer -> server ms its live incarnation
-- registered), ended (consumer -> deadline of its last session, recorded by the sweep that found it ended).

-- The deadline at which `consumer`'s last session ended: recorded by a sweep, or still its score in consumers.
local function session_end(k, consumer)
  return tonumber(redis.call('HGET', k.ended, consumer) or redis.call('ZSCORE', k.consumers, consumer))
end

-- Whether `consumer`'s session ended while another consumer's live session had started before that moment.
local function failed_alone(k, prefix, consumer, now)
  local ended = session_end(k, consumer)
  if ended == nil then return true end
  for _, peer in ipairs(redis.call('ZRANGEBYSCORE', k.consumers, now, '+inf')) do
    if peer ~= consumer then
      local started = tonumber(redis.call('HGET', k.started, peer))
      if started and started < ended and redis.call('EXISTS', prefix .. peer) == 1 then return true end
    end
  end
  return false
end
