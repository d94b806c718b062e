-- LBS entries: reading, validating and removing them.
-- An entry is well formed when its field `lbs-input` holds at most `max_bytes` bytes of a JSON object (RFC 8259,
-- as JavaScript's JSON.parse reads it) whose `DataStreamName` is a non-empty string and whose `Info`, when present,
-- is an object. This is the one place that decides it: consumers decode the Info of every entry granted here.

-- Returns the entry's field/value list, or nil when the entry was deleted from the stream.
local function read_entry(lbs, id)
  local found = redis.call('XRANGE', lbs, id, id)
  if #found == 0 then return nil end
  return found[1][2]
end

-- Whether a bare token is a number as RFC 8259 writes it: no '+', no leading zeros, digits on both sides of a '.'.
local function is_json_number(token)
  local p = string.match(token, '^%-?[1-9]%d*()') or string.match(token, '^%-?0()')
  if p == nil then return false end
  p = string.match(token, '^%.%d+()', p) or p
  p = string.match(token, '^[eE][%+%-]?%d+()', p) or p
  return p == #token + 1
end

local INTEGERS_ONLY = '^[{}%[%]:, \t\n\r%d%-]*()'
local LITERALS = { ['true'] = '', ['false'] = '', ['null'] = '' }

-- What makes text that cjson.decode accepted invalid JSON for JSON.parse, or nil. Redis's decoder takes raw control
-- characters in strings, NaN, Infinity, hex numbers, a leading '+', leading zeros, '1.' and '-.5', and stops
-- reading at a NUL byte. Since cjson accepted the text, backslashes occur only in strings' escapes, quotes only
-- around strings, and bare tokens (true, false, null, numbers) lie between delimiters. O(length), in passes of
-- Lua's pattern matcher chosen for speed: about what cjson.decode costs again for a usual entry.
local function json_strictness_problem(raw)
  local nul = string.find(raw, '\0', 1, true)
  if nul then return 'NUL byte at byte ' .. nul end
  local text = raw
  if string.find(raw, '\\', 1, true) then text = string.gsub(raw, '\\.', '') end -- escapes: cjson checked them
  -- Removes every string without a raw control character. A string with one keeps its opening quote: the match
  -- fails there, and each later attempt begins after it. (No %z in the class: it would make the pass 3x slower.)
  local outside = string.gsub(text, '"[^"\1-\31]*"', '')
  local quote = string.find(outside, '"', 1, true)
  if quote then
    local control = string.byte(outside, (string.find(outside, '[\1-\31]', quote)))
    return string.format('raw control character 0x%02x in a string', control)
  end
  -- Delimiters and integers only: no need to look at each token, only at leading zeros and where '-' stands.
  -- Literals are removed first (a word not in the table stays: the 'e' of 1e5, the 'x' of 0x10, NaN, ...).
  local integers_only = string.match(outside, INTEGERS_ONLY) > #outside
  if not integers_only then
    outside = string.gsub(outside, '%a+', LITERALS)
    integers_only = string.match(outside, INTEGERS_ONLY) > #outside
  end
  if integers_only and not string.find(outside, '%f[%d]0%d') and not (string.find(outside, '-', 1, true)
      and (string.find(outside, '[^{}%[%]:, \t\n\r]%-') or string.find(outside, '%-%D'))) then
    return nil
  end
  for token in string.gmatch(outside, '[^{}%[%]:, \t\n\r]+') do
    if not (LITERALS[token] or is_json_number(token)) then
      return 'non-standard number ' .. string.sub(token, 1, 32)
    end
  end
  return nil
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
  if not ok then
    local detail = tostring(doc)
    if string.find(detail, 'too many nested', 1, true) then
      return nil, "lbs-input is nested deeper than Redis's JSON decoder allows (1000 levels)"
    end
    return nil, 'lbs-input is not valid JSON: ' .. detail
  end
  local problem = json_strictness_problem(raw)
  if problem then return nil, 'lbs-input is not valid JSON: ' .. problem end
  if type(doc) ~= 'table' or (#doc > 0) then return nil, 'lbs-input is not a JSON object' end
  local name = doc['DataStreamName']
  if type(name) ~= 'string' or name == '' then return nil, 'DataStreamName is missing or not a non-empty string' end
  -- The library's own keys (the LBS among them) must never be read or trimmed as a data stream.
  if string.sub(name, 1, 4) == 'rsc:' then return nil, 'DataStreamName lies in the library\'s own key space (rsc:)' end
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

-- Moves an entry to the dead-letter stream with the reason, then drops it. The copy is bounded, whatever the
-- producer wrote: the first 32 field/value pairs (an entry with a huge number of fields must not exceed what one
-- Lua call can take), each name and value cut to its first max_bytes bytes. Field `truncated`, present only when
-- a value was cut, is a JSON object from each such value's field name to its original size in bytes.
local function dead_letter(lbs, dead_letter_key, group, id, fields, reason, max_bytes)
  local copy, cut = {}, {}
  for i = 1, math.min(#fields, 64) do
    copy[i] = string.sub(fields[i], 1, max_bytes)
    if i % 2 == 0 and #fields[i] > max_bytes then cut[#cut + 1] = cjson.encode(copy[i - 1]) .. ':' .. #fields[i] end
  end
  local args = { 'XADD', dead_letter_key, '*', 'reason', reason, 'lbs-id', id }
  if #cut > 0 then
    args[#args + 1] = 'truncated'
    args[#args + 1] = '{' .. table.concat(cut, ',') .. '}'
  end
  for i = 1, #copy do args[#args + 1] = copy[i] end
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

-- How many entries are pending under a consumer: the truth that the loads hash caches (0 when the group is gone).
local function pending_count(lbs, group, consumer)
  local listed = redis.pcall('XINFO', 'CONSUMERS', lbs, group)
  if listed.err then return 0 end
  for _, fields in ipairs(listed) do
    local name, pending
    for i = 1, #fields, 2 do
      if fields[i] == 'name' then name = fields[i + 1] end
      if fields[i] == 'pending' then pending = fields[i + 1] end
    end
    if name == consumer then return pending end
  end
  return 0
end
