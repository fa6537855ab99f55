//! "Seen before?" across a fleet: replicas sharing Redis agree that exactly one of them handles
//! each event (`SET NX EX`), and the mark expires.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cobo_oauth::inbound::{Deduplicator, MemoryDeduplicator, RedisDeduplicator, Seen};
use cobo_oauth_tests::RedisServer;

async fn replica(redis: &RedisServer, ttl: Duration) -> RedisDeduplicator {
    let client = redis::Client::open(redis.url()).unwrap();
    let connection = client.get_connection_manager().await.unwrap();
    RedisDeduplicator::new(connection, "test:seen:", ttl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_many_replicas_receiving_one_event_exactly_one_handles_it() {
    let redis = RedisServer::start();
    let replicas = [
        replica(&redis, Duration::from_secs(60)).await,
        replica(&redis, Duration::from_secs(60)).await,
    ];
    for event in 0..20 {
        let id = format!("event-{event}");
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let dedup = replicas[i % 2].clone();
                let id = id.clone();
                tokio::spawn(async move { dedup.check_and_mark(&id).await.unwrap() })
            })
            .collect();
        let mut firsts = 0;
        for task in tasks {
            if task.await.unwrap() == Seen::First {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 1, "{id}");
    }
    // Forgetting lets the next delivery handle it (its handling failed).
    replicas[0].forget("event-0").await.unwrap();
    assert_eq!(
        replicas[1].check_and_mark("event-0").await.unwrap(),
        Seen::First
    );
}

#[tokio::test]
async fn the_mark_carries_its_time_to_live() {
    let redis = RedisServer::start();
    let dedup = replica(&redis, Duration::from_secs(90)).await;
    assert_eq!(dedup.check_and_mark("e").await.unwrap(), Seen::First);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg("test:seen:e")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((80..=90).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_guess() {
    let mut redis = RedisServer::start();
    let dedup = replica(&redis, Duration::from_secs(60)).await;
    redis.kill();
    let error = tokio::time::timeout(Duration::from_secs(10), dedup.check_and_mark("e"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.to_string().contains("Redis"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_one_of_many_concurrent_deliveries_is_first() {
    let dedup = std::sync::Arc::new(MemoryDeduplicator::default());
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let dedup = dedup.clone();
            tokio::spawn(async move { dedup.check_and_mark("same").await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.unwrap() == Seen::First);
    }
    assert_eq!(firsts, 1);
}
