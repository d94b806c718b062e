--[[
Claims streams of a dead consumer. For each entry, atomically: the previous owner's session is gone, the entry
is still pending under it and names the given stream; then it moves to this consumer with a new fencing token.
Exactly one of several concurrent claimers wins each entry.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] session key of the previous owner
KEYS[4] owners hash
KEYS[5] loads hash
KEYS[6] fencing token counter
KEYS[7] released: set of consumers that handed their streams over (close()) rather than died
KEYS[8] dead-letter stream
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] previous owner id
ARGV[5] maxEntryBytes
ARGV[6] maxDeliveries
ARGV[7..] pairs of entry id, stream name ('' to claim whatever stream the entry names)

Returns { 'lost' } (this consumer's session is gone), { 'alive' } (the previous owner's session exists), or
{ 'ok', outcome... } with one outcome per pair: { fencing token, stream name, raw lbs-input } when claimed, or
'taken' (no longer
pending under the previous owner), 'mismatch' (the entry does not name that stream), 'duplicate' (the stream is
held through another entry; this one was dropped), 'poison' (its owners died maxDeliveries times: the entry was
dead-lettered), 'malformed' (the entry is malformed: it was dead-lettered).
A hand-off by close() does not count as a delivery; the death of an owner does.
]]
--@include ownership
--@include entry

local lbs, session, previous_session, owners, loads, token_key, released, dead_letter_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local group, me, nonce, previous = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_bytes, max_deliveries = tonumber(ARGV[5]), tonumber(ARGV[6])

if redis.call('GET', session) ~= nonce then return { 'lost' } end
if redis.call('EXISTS', previous_session) == 1 then return { 'alive' } end

local handed_over = redis.call('SISMEMBER', released, previous) == 1
local result = { 'ok' }
-- loads are updated once at the end: entries moved to this consumer, entries the previous owner no longer holds.
local moved, released_by_previous = 0, 0
for i = 7, #ARGV, 2 do
  local id, stream = ARGV[i], ARGV[i + 1]
  local outcome = 'taken'
  local owner, deliveries = pending_owner(lbs, group, id)
  local fields = owner == previous and read_entry(lbs, id)
  if owner == previous and not fields then
    redis.call('XACK', lbs, group, id) -- deleted from the stream: nothing left to own
  elseif owner == previous then
    local name, detail = decode_entry(fields, max_bytes)
    if name == nil then
      dead_letter(lbs, dead_letter_key, group, id, fields, detail)
      released_by_previous = released_by_previous + 1
      outcome = 'malformed'
    elseif stream ~= '' and name ~= stream then
      outcome = 'mismatch'
    elseif other_holder(lbs, owners, group, name, id) then
      drop_entry(lbs, group, id)
      released_by_previous = released_by_previous + 1
      outcome = 'duplicate'
    elseif not handed_over and deliveries >= max_deliveries then
      dead_letter(lbs, dead_letter_key, group, id, fields,
        'its owners died ' .. deliveries .. ' times (maxDeliveries ' .. max_deliveries .. ')')
      if redis.call('HGET', owners, name) == id then redis.call('HDEL', owners, name) end
      released_by_previous = released_by_previous + 1
      outcome = 'poison'
    else
      -- JUSTID leaves the delivery count alone: a hand-off is not a failure.
      if handed_over then
        redis.call('XCLAIM', lbs, group, me, 0, id, 'JUSTID')
      else
        redis.call('XCLAIM', lbs, group, me, 0, id)
      end
      redis.call('HSET', owners, name, id)
      moved = moved + 1
      outcome = { next_token(token_key), name, detail }
    end
  end
  result[#result + 1] = outcome
end
if moved + released_by_previous > 0 then redis.call('HINCRBY', loads, previous, -(moved + released_by_previous)) end
if moved > 0 then redis.call('HINCRBY', loads, me, moved) end
return result
