--@include clock
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
