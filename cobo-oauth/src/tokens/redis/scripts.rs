//! The Lua scripts that make a save and a lease release atomic on the Redis server.

use redis::Script;

/// Compare-and-set save. `KEYS[1]` the pair hash, `KEYS[2]` the sends hash; `ARGV` version,
/// expires_at_ms, format, payload. Returns -1 when saved, or the stored version when it is
/// higher, or the same with another payload (nothing written). The same version with the same
/// (sealed, randomly nonced) payload is this process saving its own pair again, waiting for a
/// replica's acknowledgement: rewritten, so that the rewrite is replicated and acknowledged.
/// The send counts are deleted only when the version goes up: a rewrite of the same pair keeps
/// a send of its refresh token that another process recorded meanwhile (deleting it would let
/// the next lease holder present that refresh token again).
const SAVE: &str = r"
local stored = redis.call('HGET', KEYS[1], 'version')
local wanted = tonumber(ARGV[1])
local rewrite = false
if stored then
  local version = tonumber(stored)
  if version > wanted or (version == wanted and redis.call('HGET', KEYS[1], 'payload') ~= ARGV[4]) then
    return version
  end
  rewrite = version == wanted
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'expires_at_ms', ARGV[2], 'format', ARGV[3], 'payload', ARGV[4])
if not rewrite then
  redis.call('DEL', KEYS[2])
end
return -1
";

/// One save of a pair: its keys and arguments, the sealed payload zeroized when dropped.
pub(super) struct SaveArgs {
    /// The pair hash (`KEYS[1]`).
    pub pair_key: String,
    /// The sends hash (`KEYS[2]`).
    pub sends_key: String,
    /// The pair's version.
    pub version: u64,
    /// When its access token expires (Unix ms).
    pub expires_at_ms: u64,
    /// The payload's format.
    pub format: &'static str,
    /// The sealed pair (or plaintext JSON).
    pub payload: zeroize::Zeroizing<Vec<u8>>,
}

impl SaveArgs {
    /// The save as an `EVAL` (whose first key routes it on a cluster, and that can be pipelined
    /// with a `WAIT`).
    pub fn command(&self) -> redis::Cmd {
        let mut command = redis::cmd("EVAL");
        command
            .arg(SAVE)
            .arg(2)
            .arg(&self.pair_key)
            .arg(&self.sends_key)
            .arg(self.version)
            .arg(self.expires_at_ms)
            .arg(self.format)
            .arg(self.payload.as_slice());
        command
    }
}

/// The scripts of a refresh lease, each hashed once.
pub(super) struct LeaseScripts {
    /// Extends the lease `KEYS[1]` to `ARGV[2]` milliseconds only if `ARGV[1]` still holds it.
    /// Returns 1 if extended.
    pub extend: Script,
    /// Deletes the lease `KEYS[1]` only if `ARGV[1]` still holds it. Returns 1 if deleted.
    pub release: Script,
}

impl Default for LeaseScripts {
    fn default() -> Self {
        Self {
            extend: Script::new(
                r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
            ),
            release: Script::new(
                r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
            ),
        }
    }
}
