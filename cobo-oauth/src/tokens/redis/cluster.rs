//! Redis Cluster: the seed nodes of a `redis+cluster://` URL, and the primaries to `SCAN` (redis-rs
//! routes no `SCAN` by itself: each primary holds only its slots' keys).

use std::collections::BTreeMap;

use redis::cluster_routing::Slot;
use redis::{RedisResult, Value};

use super::connection::RedisConnection;

/// The URL schemes of a Redis Cluster: plain, and TLS.
const SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// The seed nodes of a cluster URL, `redis+cluster://[user:password@]host:port[,host:port…][/0]`
/// (`rediss+cluster://` for TLS), each as a `redis://` (`rediss://`) URL with the same
/// credentials; `None` for any other URL (one server).
pub(super) fn seed_nodes(url: &str) -> Option<Vec<String>> {
    let (rest, scheme) = SCHEMES
        .iter()
        .find_map(|(cluster, single)| url.strip_prefix(cluster).map(|rest| (rest, *single)))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), authority),
    };
    Some(
        hosts
            .split(',')
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .map(|host| format!("{scheme}{credentials}{host}/{path}"))
            .collect(),
    )
}

/// One hash slot of each primary of the cluster, from `CLUSTER SLOTS` (the command redis-rs
/// itself reads the topology with): a command routed to that slot reaches that primary.
pub(super) async fn primary_slots(connection: &RedisConnection) -> RedisResult<Vec<Slot>> {
    let mut connection = connection.clone();
    let ranges: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut connection)
        .await?;
    Ok(slots_by_primary(&ranges).into_values().collect())
}

/// From a `CLUSTER SLOTS` answer: each primary (by node id, or address) with the first slot of
/// one of its ranges.
fn slots_by_primary(ranges: &Value) -> BTreeMap<String, Slot> {
    let mut primaries = BTreeMap::new();
    let Value::Array(ranges) = ranges else {
        return primaries;
    };
    for range in ranges {
        let Value::Array(fields) = range else {
            continue;
        };
        let (Some(Value::Int(start)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(2))
        else {
            continue;
        };
        let Some(slot) = u16::try_from(*start).ok().and_then(Slot::new) else {
            continue;
        };
        // [host, port, id, ...]: the id when given (Redis 4+), else host:port.
        let name = match (primary.first(), primary.get(1), primary.get(2)) {
            (_, _, Some(Value::BulkString(id))) => String::from_utf8_lossy(id).into_owned(),
            (Some(Value::BulkString(host)), Some(Value::Int(port)), _) => {
                format!("{}:{port}", String::from_utf8_lossy(host))
            }
            _ => continue,
        };
        primaries.entry(name).or_insert(slot);
    }
    primaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_give_every_seed_node_the_credentials() {
        assert_eq!(
            seed_nodes("redis+cluster://cobo:pw@10.0.0.1:7000,10.0.0.2:7001/0").unwrap(),
            [
                "redis://cobo:pw@10.0.0.1:7000/0",
                "redis://cobo:pw@10.0.0.2:7001/0"
            ]
        );
        assert_eq!(
            seed_nodes("rediss+cluster://h:7000").unwrap(),
            ["rediss://h:7000/"]
        );
        assert_eq!(seed_nodes("redis://h:6379/0"), None);
    }

    #[test]
    fn each_primary_is_scanned_once() {
        let primary = |id: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(id.as_bytes().to_vec()),
            ])
        };
        let range = |start: i64, end: i64, id: &str, port: i64| {
            Value::Array(vec![Value::Int(start), Value::Int(end), primary(id, port)])
        };
        let answer = Value::Array(vec![
            range(0, 5460, "a", 7000),
            range(5461, 10922, "b", 7001),
            range(10923, 16383, "c", 7002),
            range(16000, 16100, "a", 7000),
        ]);
        let slots = slots_by_primary(&answer);
        assert_eq!(slots.len(), 3);
        assert_eq!(slots["a"], Slot::new(0).unwrap());
        assert_eq!(slots["c"], Slot::new(10923).unwrap());
    }
}
