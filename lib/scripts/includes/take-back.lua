--@include entry
--@include admit
-- Takes back entries pending under this consumer (`pending`: XPENDING-shaped rows { id, consumer, idle,
-- deliveries }), with new fencing tokens; appends their take.lua items to `result`. `counts`: each counts one more
-- delivery (the incarnation that held them failed alone), and one delivered maxDeliveries times is dead-lettered.
-- k holds the keys: lbs, owners, loads, token, dead_letter, offers (an entry offered to this consumer and taken back
-- is no offer any more).
local function take_back(k, group, me, pending, counts, max_bytes, max_deliveries, result)
  for _, p in ipairs(pending) do
    local id = p[1]
    redis.call('HDEL', k.offers, id)
    local fields = read_entry(k.lbs, id)
    if fields == nil then
      redis.call('XACK', k.lbs, group, id)
      redis.call('HINCRBY', k.loads, me, -1)
    elseif counts and p[4] >= max_deliveries then
      local reason = 'its owners died ' .. p[4] .. ' times (maxDeliveries ' .. max_deliveries .. ')'
      local name = decode_entry(fields, max_bytes)
      if name and redis.call('HGET', k.owners, name) == id then redis.call('HDEL', k.owners, name) end
      dead_letter(k.lbs, k.dead_letter, group, id, fields, reason, max_bytes)
      redis.call('HINCRBY', k.loads, me, -1)
      result[#result + 1] = { 'dead', id, reason }
    else
      redis.call('XCLAIM', k.lbs, group, me, 0, id, 'RETRYCOUNT', counts and p[4] + 1 or p[4], 'JUSTID')
      result[#result + 1] = admit(k, group, me, max_bytes, id, fields, true)
    end
  end
end
