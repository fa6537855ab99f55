//! The Lua scripts that make a save and a lease release atomic on the Redis server.

use redis::Script;

/// Compare-and-set save. `KEYS[1]` the pair hash, `KEYS[2]` the sends hash; `ARGV` version,
/// expires_at_ms, format, payload. Returns -1 when saved, or the stored version when it is the
/// same or higher (nothing written).
pub(super) fn save() -> Script {
    Script::new(
        r"
local stored = redis.call('HGET', KEYS[1], 'version')
if stored and tonumber(stored) >= tonumber(ARGV[1]) then
  return tonumber(stored)
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'expires_at_ms', ARGV[2], 'format', ARGV[3], 'payload', ARGV[4])
redis.call('DEL', KEYS[2])
return -1
",
    )
}

/// Extends the lease `KEYS[1]` to `ARGV[2]` milliseconds only if `ARGV[1]` still holds it.
/// Returns 1 if extended.
pub(super) fn extend() -> Script {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
}

/// Deletes the lease `KEYS[1]` only if `ARGV[1]` still holds it. Returns 1 if deleted.
pub(super) fn release() -> Script {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
}
