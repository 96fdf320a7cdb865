//! Versioned state: `#[process_manager(version = N)]` and the `#[upgrade]` hook.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use common::Recorder;
use pm_runtime::{
    Commit, Error, Event, InstanceStatus, ProcessId, Runtime, SqliteStore, Store, StoreError,
    process_manager,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct CartOpened {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct ItemAdded {
    id: String,
    cents: u64,
}

/// Version 2 keeps cents; version 1 kept whole units in `total`.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Cart {
    total_cents: u64,
}

#[process_manager(name = "cart", correlate = id, version = 2)]
impl Cart {
    #[start]
    fn opened(&mut self, _e: &CartOpened) {}

    #[handle]
    fn added(&mut self, e: &ItemAdded) {
        self.total_cents += e.cents;
    }

    #[upgrade]
    fn upgrade(from: u32, state: serde_json::Value) -> Result<Self, String> {
        match from {
            1 => {
                let total = state["total"]
                    .as_u64()
                    .ok_or("a version-1 cart has a `total`")?;
                Ok(Self {
                    total_cents: total * 100,
                })
            }
            other => Err(format!("no upgrade from version {other}")),
        }
    }
}

async fn seed(store: &SqliteStore, id: &str, version: u32, state: &str) {
    let mut commit = Commit::new("cart", ProcessId::from(id), 1, InstanceStatus::Running, 0);
    commit.state = Some(state.as_bytes().to_vec());
    commit.state_version = version;
    store.commit(commit).await.unwrap();
}

#[tokio::test]
async fn a_version_1_state_is_upgraded_when_a_version_2_pm_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        seed(&store, "c-1", 1, r#"{"total":5}"#).await;
        seed(&store, "c-2", 3, r#"{"whatever":true}"#).await;
    }
    let rt = Runtime::builder()
        .store(SqliteStore::open(&path).unwrap())
        .dispatcher(Recorder::default())
        .register::<Cart>()
        .start()
        .await
        .unwrap();

    rt.publish(ItemAdded {
        id: "c-1".into(),
        cents: 50,
    })
    .await
    .unwrap();
    assert_eq!(
        rt.state::<Cart>("c-1").await.unwrap(),
        Cart { total_cents: 550 }
    );
    rt.shutdown().await.unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let stored = store
        .load("cart", &ProcessId::from("c-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state_version, 2, "written back in the new version");
    assert_eq!(stored.state, br#"{"total_cents":550}"#);

    // A state from a newer build is refused, not misread.
    let rt = Runtime::builder()
        .store(store)
        .dispatcher(Recorder::default())
        .register::<Cart>()
        .start()
        .await
        .unwrap();
    let err = rt
        .publish(ItemAdded {
            id: "c-2".into(),
            cents: 1,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Store {
                source: StoreError::NewerVersion {
                    stored: 3,
                    supported: 2,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
}
