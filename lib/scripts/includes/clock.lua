-- The server's clock, in ms: deadlines are compared in one clock shared by every consumer.
local function server_time_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
