--[[
What a dead consumer still holds, once its session is gone: its pending entries. Listing gives their ids (cheap,
no entry is read); reading gives the streams they name, for the ids asked for. Malformed pending entries
(delivered but never admitted) are dead-lettered when read.

KEYS[1] LBS stream
KEYS[2] session key of the dead consumer
KEYS[3] consumers sorted set
KEYS[4] dead-letter stream
ARGV[1] consumer group
ARGV[2] dead consumer id
ARGV[3] 'list' or 'read'
ARGV[4] list: list entries after this id ('-' to start)
ARGV[5] list: most entries to list
ARGV[6] maxEntryBytes
ARGV[7] session key prefix (session key = prefix .. consumer id)
ARGV[8..] read: entry ids

Returns { 'alive' } while the consumer's session exists; otherwise
list: { 'orphaned', last id listed or '' when done, { live consumer ids }, id... }
read: { 'orphaned', '', {}, { id, name, raw lbs-input }... } for the entries still pending under it.
]]
--@include ownership
--@include entry

local lbs, session, consumers, dead_letter_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, dead, mode, after, count, max_bytes, prefix =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]

if redis.call('EXISTS', session) == 1 then return { 'alive' } end

if mode == 'read' then
  local result = { 'orphaned', '', {} }
  for i = 8, #ARGV do
    local id = ARGV[i]
    if pending_owner(lbs, group, id) == dead then
      local fields = read_entry(lbs, id)
      if fields == nil then
        redis.call('XACK', lbs, group, id)
      else
        local name, detail = decode_entry(fields, max_bytes)
        if name == nil then
          dead_letter(lbs, dead_letter_key, group, id, fields, detail, max_bytes)
        else
          result[#result + 1] = { id, name, detail }
        end
      end
    end
  end
  return result
end

-- Live consumers: a session key exists (the sorted set also keeps dead consumers that still hold entries).
local live = {}
for _, consumer in ipairs(redis.call('ZRANGEBYSCORE', consumers, server_time_ms(), '+inf')) do
  if redis.call('EXISTS', prefix .. consumer) == 1 then live[#live + 1] = consumer end
end
local start = after == '-' and '-' or '(' .. after
local pending = redis.call('XPENDING', lbs, group, start, '+', count, dead)
local result = { 'orphaned', '', live }
if #pending == count then result[2] = pending[#pending][1] end
for _, p in ipairs(pending) do result[#result + 1] = p[1] end
return result
