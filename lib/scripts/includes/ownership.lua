--@include entry
-- Ownership records: owners maps a stream name to the LBS entry that holds it, loads counts what each consumer owns.

-- The entry id that holds `name` now, other than `id`, or nil (a record whose entry is no longer pending is stale);
-- then the entry id recorded for `name`, stale or not.
local function other_holder(lbs, owners, group, name, id)
  local recorded = redis.call('HGET', owners, name)
  if not recorded or recorded == id then return nil, recorded end
  if pending_owner(lbs, group, recorded) == nil then return nil, recorded end
  return recorded, recorded
end

local function server_time_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A new fencing token. A missing counter (new service, or data lost with a restart) starts from the server
-- clock in microseconds, above any token granted before. Checked once per script call.
local token_counter_ready = false
local function next_token(token_key)
  if not token_counter_ready then
    if redis.call('EXISTS', token_key) == 0 then redis.call('SET', token_key, server_time_ms() * 1000) end
    token_counter_ready = true
  end
  return redis.call('INCR', token_key)
end
