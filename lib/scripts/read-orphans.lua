--[[
The streams that given entries of a dead consumer name, for those still pending under it, once its session is gone
(manual mode reports them as `streamExpired`). A malformed entry (delivered but never admitted) is dead-lettered.

KEYS[1] LBS stream
KEYS[2] session key of the dead consumer
KEYS[3] dead-letter stream
ARGV[1] consumer group
ARGV[2] dead consumer id
ARGV[3] maxEntryBytes
ARGV[4..] entry ids

Returns { 'alive' } while the consumer's session exists; otherwise { 'orphaned', item... } with an item per entry
still pending under it: { 'expired', id, name, raw lbs-input } or { 'dead', id, reason } (dead-lettered).
]]
--@include entry

local lbs, session, dead_letter_key = KEYS[1], KEYS[2], KEYS[3]
local group, dead, max_bytes = ARGV[1], ARGV[2], tonumber(ARGV[3])

if redis.call('EXISTS', session) == 1 then return { 'alive' } end

local result = { 'orphaned' }
for i = 4, #ARGV do
  local id = ARGV[i]
  if pending_owner(lbs, group, id) == dead then
    local fields = read_entry(lbs, id)
    if fields == nil then
      redis.call('XACK', lbs, group, id)
    else
      local name, detail = decode_entry(fields, max_bytes)
      if name == nil then
        dead_letter(lbs, dead_letter_key, group, id, fields, detail, max_bytes)
        result[#result + 1] = { 'dead', id, detail }
      else
        result[#result + 1] = { 'expired', id, name, detail }
      end
    end
  end
end
return result
