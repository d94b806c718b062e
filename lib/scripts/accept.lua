--[[
Accepts what was handed over to this consumer (handoff.lua): takes the items of its inbox, in order, and returns
those made for this incarnation whose entries are still pending under it. Items made for an earlier incarnation are
dropped: their entries are pending under this id, and the incarnation that follows takes them back (recover.lua).

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] this consumer's inbox
KEYS[4] loads hash
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] most items to take

Returns { 'lost' } (session gone: the inbox is left as it is) or { 'ok', items left in the inbox, item... } with items
{ 'handoff', id, stream, raw lbs-input, token, membership } (granted) or { 'offer', id, stream, raw lbs-input, giver,
membership } (to be claimed from the giver).
]]
--@include entry

local lbs, session, inbox, loads = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, me, nonce, most = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local items = redis.call('LRANGE', inbox, 0, most - 1)
redis.call('LTRIM', inbox, #items, -1)
local result = { 'ok', redis.call('LLEN', inbox) }
for _, text in ipairs(items) do
  local ok, item = pcall(cjson.decode, text)
  if ok and type(item) == 'table' and item.nonce == nonce and pending_owner(lbs, group, item.id) == me then
    local fields = read_entry(lbs, item.id)
    if fields == nil then
      redis.call('XACK', lbs, group, item.id) -- deleted from the stream meanwhile: nothing left to own
      redis.call('HINCRBY', loads, me, -1)
    else
      local raw = ''
      for i = 1, #fields, 2 do
        if fields[i] == 'lbs-input' then raw = fields[i + 1] end
      end
      if item.token then
        result[#result + 1] = { 'handoff', item.id, item.stream, raw, item.token, item.epoch }
      else
        result[#result + 1] = { 'offer', item.id, item.stream, raw, item.from, item.epoch }
      end
    end
  end
end
return result
