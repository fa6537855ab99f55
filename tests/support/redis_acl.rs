//! Redis ACL users for the store tests: `ACL SETUSER` with a password, the store's key prefix
//! and a chosen set of commands.

/// Every command the Redis store sends, directly or from its Lua scripts.
pub const STORE_COMMANDS: &[&str] = &[
    "hmget",
    "hincrby",
    "set",
    "evalsha",
    "eval",
    "script|load",
    "hget",
    "hset",
    "del",
    "get",
    "pexpire",
];

/// What the store also sends where replicas must acknowledge its writes.
pub const REPLICA_COMMANDS: &[&str] = &["info", "wait"];

/// `ACL SETUSER <name> on ><password> resetkeys ~cobo-oauth:* resetchannels -@all +<command>…`:
/// a user who may run only `commands`, only on the store's default key prefix.
pub fn set_user(name: &str, password: &str, commands: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg(name)
        .arg("reset")
        .arg("on")
        .arg(format!(">{password}"))
        .arg("~cobo-oauth:*")
        .arg("-@all");
    for command in commands {
        cmd.arg(format!("+{command}"));
    }
    cmd
}
