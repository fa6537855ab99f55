//! Redis Cluster: the seed nodes of a `redis+cluster://` URL, and the primaries to `SCAN` (redis-rs
//! routes no `SCAN` by itself: each primary holds only its slots' keys).

use std::collections::BTreeSet;

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

/// The address (`host`, `port`) of each primary of the cluster, from `CLUSTER SLOTS` (the
/// command redis-rs itself reads the topology with).
pub(super) async fn primaries(connection: &RedisConnection) -> RedisResult<Vec<(String, u16)>> {
    let mut connection = connection.clone();
    let ranges: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut connection)
        .await?;
    Ok(primaries_of(&ranges).into_iter().collect())
}

/// From a `CLUSTER SLOTS` answer (`[start, end, [host, port, id, …], replicas…]` per range):
/// the address of each primary, once.
fn primaries_of(ranges: &Value) -> BTreeSet<(String, u16)> {
    let mut primaries = BTreeSet::new();
    let Value::Array(ranges) = ranges else {
        return primaries;
    };
    for range in ranges {
        let Value::Array(fields) = range else {
            continue;
        };
        let Some(Value::Array(primary)) = fields.get(2) else {
            continue;
        };
        let host = match primary.first() {
            Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
            Some(Value::SimpleString(host)) => host.clone(),
            _ => continue,
        };
        let Some(port) = (match primary.get(1) {
            Some(Value::Int(port)) => u16::try_from(*port).ok(),
            _ => None,
        }) else {
            continue;
        };
        primaries.insert((host, port));
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
        let primaries = primaries_of(&answer);
        assert_eq!(primaries.len(), 3);
        assert!(primaries.contains(&("127.0.0.1".to_owned(), 7002)));
    }
}
