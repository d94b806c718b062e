-- LBS entries: reading, validating and removing them.
-- An entry is well formed when its field `lbs-input` holds at most `max_bytes` bytes of a JSON object whose
-- `DataStreamName` is a non-empty string and whose `Info`, when present, is an object.

-- Returns the entry's field/value list, or nil when the entry was deleted from the stream.
local function read_entry(lbs, id)
  local found = redis.call('XRANGE', lbs, id, id)
  if #found == 0 then return nil end
  return found[1][2]
end

-- Returns name, raw for a well formed entry; nil, reason otherwise.
local function decode_entry(fields, max_bytes)
  local raw
  for i = 1, #fields, 2 do
    if fields[i] == 'lbs-input' then raw = fields[i + 1] end
  end
  if raw == nil then return nil, 'missing field lbs-input' end
  if #raw > max_bytes then
    return nil, 'lbs-input is ' .. #raw .. ' bytes, more than maxEntryBytes (' .. max_bytes .. ')'
  end
  local ok, doc = pcall(cjson.decode, raw)
  if not ok or type(doc) ~= 'table' or (#doc > 0) then return nil, 'lbs-input is not a JSON object' end
  local name = doc['DataStreamName']
  if type(name) ~= 'string' or name == '' then return nil, 'DataStreamName is missing or not a non-empty string' end
  local info = doc['Info']
  if info ~= nil and info ~= cjson.null and (type(info) ~= 'table' or #info > 0) then
    return nil, 'Info is not a JSON object'
  end
  return name, raw
end

-- Acknowledges and deletes an entry (acknowledge first: a deleted pending entry breaks XREADGROUP replies).
local function drop_entry(lbs, group, id)
  redis.call('XACK', lbs, group, id)
  redis.call('XDEL', lbs, id)
end

-- Moves an entry to the dead-letter stream with the reason, then drops it. Keeps the first 32 field/value
-- pairs: an entry with a huge number of fields must not exceed what one Lua call can take.
local function dead_letter(lbs, dead_letter_key, group, id, fields, reason)
  local args = { 'XADD', dead_letter_key, '*', 'reason', reason, 'lbs-id', id }
  for i = 1, math.min(#fields, 64) do args[#args + 1] = fields[i] end
  redis.call(unpack(args))
  drop_entry(lbs, group, id)
end

-- The consumer an entry is pending under and how many times it was delivered, or nil when it is not pending
-- (or `id` is no stream id Redis accepts: a forged id must fail alone, not abort a script part-way).
local function pending_owner(lbs, group, id)
  local found = redis.pcall('XPENDING', lbs, group, id, id, 1)
  if type(found) ~= 'table' or found.err or #found == 0 then return nil end
  return found[1][2], found[1][4]
end

-- Whether a consumer has any pending entry (false when the group is gone, as after a restart without data).
local function has_pending(lbs, group, consumer)
  local found = redis.pcall('XPENDING', lbs, group, '-', '+', 1, consumer)
  return type(found) == 'table' and found.err == nil and #found > 0
end
