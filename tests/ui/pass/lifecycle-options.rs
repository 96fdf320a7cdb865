//! `#[start(new)]`, `missing = ...`, `#[init]`, `#[on_error]`, `version` and `#[upgrade]`.
use std::time::Duration;

use pm_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Opened {
    pub door: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Knocked {
    pub door: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Closed {
    pub door: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize, Command)]
#[command(aggregate = "lock", id = door)]
pub struct Lock {
    pub door: u32,
}

/// No `Default`: `#[init]` builds the state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Door {
    pub id: String,
    pub knocks: u32,
}

#[derive(Debug)]
pub struct Unreadable(u32);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read version {}", self.0)
    }
}

impl std::error::Error for Unreadable {}

#[process_manager(name = "door", correlate = door, commands(Lock), missing = "error", version = 2)]
impl Door {
    #[init]
    fn new(id: &ProcessId) -> Self {
        Door {
            id: id.to_string(),
            knocks: 0,
        }
    }

    #[start(new)]
    fn opened(&mut self, _: &Opened) {}

    #[handle]
    fn knocked(&mut self, _: &Knocked) {
        self.knocks += 1;
    }

    #[stop]
    fn closed(&mut self, e: &Closed) -> Lock {
        Lock { door: e.door }
    }

    #[on_error]
    fn failed(&mut self, failure: &CommandFailure) -> ErrorAction<DoorCommand> {
        match failure.error {
            DispatchError::Unavailable(_) => ErrorAction::Retry {
                after: Duration::from_millis(1),
            },
            DispatchError::Rejected(_) => ErrorAction::Skip,
        }
    }

    #[upgrade]
    fn upgrade(from_version: u32, state: serde_json::Value) -> Result<Self, Unreadable> {
        let id = state["id"].as_str().ok_or(Unreadable(from_version))?;
        Ok(Door {
            id: id.to_owned(),
            knocks: 0,
        })
    }
}

struct Nowhere;

impl CommandDispatcher for Nowhere {
    async fn dispatch(&self, _: &CommandEnvelope) -> Result<(), DispatchError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), pm_runtime::BoxError> {
    assert_eq!(<Door as ProcessManager>::VERSION, 2);
    assert_eq!(
        <Door as ProcessManager>::MISSING,
        pm_runtime::MissingPolicy::Error
    );
    let upgraded = <Door as ProcessManager>::upgrade(1, serde_json::json!({ "id": "7" }))?;
    assert_eq!(upgraded.id, "7");
    assert!(<Door as ProcessManager>::upgrade(1, serde_json::json!({})).is_err());

    let runtime = Runtime::builder()
        .dispatcher(Nowhere)
        .register::<Door>()
        .start()
        .await?;
    runtime.publish(Opened { door: 1 }).await?;
    // `#[start(new)]` refuses an existing instance; `missing = "error"` a missing one.
    assert!(runtime.publish(Opened { door: 1 }).await.is_err());
    assert!(runtime.publish(Knocked { door: 2 }).await.is_err());
    runtime.publish(Knocked { door: 1 }).await?;
    let door: Door = runtime.state("1").await?;
    assert_eq!((door.id.as_str(), door.knocks), ("1", 1));
    runtime.shutdown().await?;
    Ok(())
}
