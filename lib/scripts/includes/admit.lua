--@include entry
--@include ownership
--@include fencing
-- Admits an entry pending under `consumer`: dead-letters it when malformed, drops it when its stream is held
-- through another entry, and grants it otherwise. `counted` says whether loads already counts the entry.
-- k holds the keys: lbs, owners, loads, token, dead_letter.
local function admit(k, group, consumer, max_bytes, id, fields, counted)
  local name, detail = decode_entry(fields, max_bytes)
  if name == nil then
    dead_letter(k.lbs, k.dead_letter, group, id, fields, detail, max_bytes)
    if counted then redis.call('HINCRBY', k.loads, consumer, -1) end
    return { 'dead', id, detail }
  end
  if other_holder(k.lbs, k.owners, group, name, id) then
    drop_entry(k.lbs, group, id)
    if counted then redis.call('HINCRBY', k.loads, consumer, -1) end
    return { 'duplicate', id, name }
  end
  redis.call('HSET', k.owners, name, id)
  if not counted then redis.call('HINCRBY', k.loads, consumer, 1) end
  return { 'granted', id, name, detail, next_token(k.token) }
end
