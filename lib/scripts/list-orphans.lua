--[[
What a dead consumer still holds, once its session is gone: the ids of its pending entries, a page at a time (cheap:
no entry is read), and the live consumers, among which the takeover is split.

KEYS[1] LBS stream
KEYS[2] session key of the dead consumer
KEYS[3] consumers sorted set
ARGV[1] consumer group
ARGV[2] dead consumer id
ARGV[3] list entries after this id ('-' to start)
ARGV[4] most entries to list
ARGV[5] session key prefix (session key = prefix .. consumer id)

Returns { 'alive' } while the consumer's session exists; otherwise
{ 'orphaned', last id listed or '' when done, { live consumer ids }, id... }
]]
--@include clock

local lbs, session, consumers = KEYS[1], KEYS[2], KEYS[3]
local group, dead, after, count, prefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]

if redis.call('EXISTS', session) == 1 then return { 'alive' } end

-- Live consumers: a session key exists (the sorted set also keeps dead consumers that still hold entries).
local live = {}
for _, consumer in ipairs(redis.call('ZRANGEBYSCORE', consumers, server_time_ms(), '+inf')) do
  if redis.call('EXISTS', prefix .. consumer) == 1 then live[#live + 1] = consumer end
end
local pending = redis.call('XPENDING', lbs, group, after == '-' and '-' or '(' .. after, '+', count, dead)
local result = { 'orphaned', '', live }
if #pending == count then result[2] = pending[#pending][1] end
for _, p in ipairs(pending) do result[#result + 1] = p[1] end
return result
