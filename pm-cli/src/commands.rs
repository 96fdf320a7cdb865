//! The commands, each reading (or, for `retry` and `skip`, changing) the store through the
//! `Store` trait and rendering text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pm_runtime::{
    InstanceStatus, InstanceSummary, ParkedAction, ProcessId, ProcessManagerInfo, Store,
    StoredInstance,
};

use crate::args::Command;
use crate::render::{command_line, event_line, time};

/// Why a command did not do what was asked; decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage, or a database that cannot be opened: exit code 2.
    Usage(String),
    /// The request could not be carried out: exit code 1.
    Request(String),
}

impl From<pm_runtime::StoreError> for Failure {
    fn from(error: pm_runtime::StoreError) -> Self {
        Failure::Request(error.to_string())
    }
}

/// Runs `command` against `store`, returning what to print.
pub(crate) async fn run(store: &dyn Store, command: Command) -> Result<String, Failure> {
    match command {
        Command::Pms => pms(store).await,
        Command::List { pm, status } => list(store, &pm, status.as_deref()).await,
        Command::Show { pm, id, json } => show(store, &pm, &id, json).await,
        Command::Outbox { pm } => outbox(store, pm.as_deref()).await,
        Command::Parked => parked(store).await,
        Command::Retry { pm, id } => resolve(store, &pm, &id, ParkedAction::Retry).await,
        Command::Skip { pm, id } => resolve(store, &pm, &id, ParkedAction::Skip).await,
        Command::Diagram { pm } => diagram(store, &pm).await,
        Command::Help => Ok(format!("{}\n", crate::args::USAGE)),
    }
}

async fn pms(store: &dyn Store) -> Result<String, Failure> {
    let types = store.process_managers().await?;
    if types.is_empty() {
        return Ok("no process manager is registered in this database \
                   (a runtime records its process managers when it starts)\n"
            .into());
    }
    let mut out = String::new();
    for info in types {
        let instances = store.instances(&info.name).await?;
        let _ = writeln!(
            out,
            "{}  v{}  {} instance{}{}",
            info.name,
            info.version,
            instances.len(),
            if instances.len() == 1 { "" } else { "s" },
            by_status(&instances)
        );
        let _ = writeln!(out, "  events: {}", info.events.join(", "));
    }
    Ok(out)
}

/// ` (completed 3, parked 1)`, statuses in lifecycle order.
fn by_status(instances: &[InstanceSummary]) -> String {
    let mut counts: BTreeMap<usize, (InstanceStatus, usize)> = BTreeMap::new();
    for i in instances {
        counts.entry(order(i.status)).or_insert((i.status, 0)).1 += 1;
    }
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts
        .values()
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    format!(" ({})", parts.join(", "))
}

fn order(status: InstanceStatus) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(0)
}

const STATUSES: [InstanceStatus; 6] = [
    InstanceStatus::Running,
    InstanceStatus::Completing,
    InstanceStatus::Compensating,
    InstanceStatus::Parked,
    InstanceStatus::Completed,
    InstanceStatus::Compensated,
];

/// The registered record of `pm`, or a failure listing the known ones.
async fn known(store: &dyn Store, pm: &str) -> Result<Option<ProcessManagerInfo>, Failure> {
    let types = store.process_managers().await?;
    if let Some(info) = types.iter().find(|i| i.name == pm) {
        return Ok(Some(info.clone()));
    }
    // Instances of an unregistered name (a database from before registration) still count.
    if !store.instances(pm).await?.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = types.iter().map(|i| i.name.as_str()).collect();
    Err(Failure::Request(format!(
        "no process manager `{pm}` in this database; known: {}",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    )))
}

async fn list(store: &dyn Store, pm: &str, status: Option<&str>) -> Result<String, Failure> {
    let wanted = match status {
        Some(word) => Some(
            STATUSES
                .into_iter()
                .find(|s| s.as_str() == word)
                .ok_or_else(|| {
                    let all: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).collect();
                    Failure::Usage(format!(
                        "unknown status `{word}`; expected one of {}",
                        all.join(", ")
                    ))
                })?,
        ),
        None => None,
    };
    known(store, pm).await?;
    let instances = store.instances(pm).await?;
    let shown: Vec<&InstanceSummary> = instances
        .iter()
        .filter(|i| wanted.is_none_or(|s| i.status == s))
        .collect();
    let width = shown
        .iter()
        .map(|i| i.process_id.as_str().len())
        .max()
        .unwrap_or(0)
        .max("PROCESS ID".len());
    let mut out = format!(
        "{:<width$}  {:<12}  {:>8}  {:>6}  UPDATED\n",
        "PROCESS ID", "STATUS", "REVISION", "OUTBOX"
    );
    for i in &shown {
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {:>8}  {:>6}  {}",
            i.process_id.as_str(),
            i.status.as_str(),
            i.revision,
            i.outbox,
            time(i.updated_at_ms)
        );
    }
    let _ = writeln!(
        out,
        "{} of {} instance{}",
        shown.len(),
        instances.len(),
        if instances.len() == 1 { "" } else { "s" }
    );
    Ok(out)
}

async fn load(store: &dyn Store, pm: &str, id: &str) -> Result<StoredInstance, Failure> {
    known(store, pm).await?;
    store
        .load(pm, &ProcessId::new(id))
        .await?
        .ok_or_else(|| Failure::Request(format!("no instance `{id}` of `{pm}` in this database")))
}

async fn show(store: &dyn Store, pm: &str, id: &str, json: bool) -> Result<String, Failure> {
    let i = load(store, pm, id).await?;
    let state: serde_json::Value = serde_json::from_slice(&i.state)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&i.state).into()));
    if json {
        return Ok(format!("{:#}\n", show_json(pm, id, &i, state)));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{pm}/{id}");
    let _ = writeln!(out, "status:    {}", i.status);
    let _ = writeln!(out, "revision:  {}", i.revision);
    let _ = writeln!(out, "updated:   {}", time(i.updated_at_ms));
    let _ = writeln!(out, "state (version {}):", i.state_version);
    for line in format!("{state:#}").lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "handled events ({}):", i.handled.len());
    for event_id in &i.handled {
        let _ = writeln!(out, "  {event_id}");
    }
    section(&mut out, "outbox", &i.outbox, command_line);
    section(&mut out, "completed commands", &i.completed, command_line);
    let _ = writeln!(out, "timers ({}):", i.timers.len());
    for t in &i.timers {
        let _ = writeln!(out, "  due {}  {}", time(t.due_at_ms), event_line(&t.event));
    }
    match &i.dead_letter {
        None => out.push_str("dead letter: none\n"),
        Some(d) => {
            out.push_str("dead letter:\n");
            let _ = writeln!(out, "  error:     {}", d.error);
            let _ = writeln!(out, "  attempts:  {}", d.attempts);
            let _ = writeln!(out, "  parked at: {}", time(d.parked_at_ms));
            let _ = writeln!(out, "  resumes:   {}", d.resume);
            if let Some(e) = &d.event {
                let _ = writeln!(out, "  event:     {}", event_line(e));
            }
            if let Some(c) = &d.command {
                let _ = writeln!(out, "  command:   {}", command_line(c));
            }
        }
    }
    section(&mut out, "stash", &i.stash, event_line);
    Ok(out)
}

fn section<T>(out: &mut String, title: &str, items: &[T], line: fn(&T) -> String) {
    let _ = writeln!(out, "{title} ({}):", items.len());
    for item in items {
        let _ = writeln!(out, "  {}", line(item));
    }
}

fn show_json(
    pm: &str,
    id: &str,
    i: &StoredInstance,
    state: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "pm": pm,
        "process_id": id,
        "status": i.status,
        "revision": i.revision,
        "updated_at_ms": i.updated_at_ms,
        "state_version": i.state_version,
        "state": state,
        "handled": i.handled,
        "outbox": to_json(&i.outbox),
        "completed": to_json(&i.completed),
        "timers": to_json(&i.timers),
        "dead_letter": to_json(&i.dead_letter),
        "stash": to_json(&i.stash),
    })
}

/// A value as JSON, with a failure shown in its place rather than aborting the listing.
fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::Value::String(format!("<unreadable: {e}>")))
}

async fn outbox(store: &dyn Store, pm: Option<&str>) -> Result<String, Failure> {
    let names = match pm {
        Some(pm) => {
            known(store, pm).await?;
            vec![pm.to_owned()]
        }
        None => registered(store).await?,
    };
    let mut out = String::new();
    let mut total = 0;
    for pm in &names {
        for summary in store.instances(pm).await? {
            if summary.outbox == 0 {
                continue;
            }
            let Some(i) = store.load(pm, &summary.process_id).await? else {
                continue;
            };
            for (n, c) in i.outbox.iter().enumerate() {
                total += 1;
                let held = if i.status == InstanceStatus::Parked {
                    "  (held: parked)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{pm}/{}  #{}  {}{held}",
                    summary.process_id,
                    n + 1,
                    command_line(c)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{total} command{} waiting",
        if total == 1 { "" } else { "s" }
    );
    Ok(out)
}

async fn registered(store: &dyn Store) -> Result<Vec<String>, Failure> {
    Ok(store
        .process_managers()
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect())
}

async fn parked(store: &dyn Store) -> Result<String, Failure> {
    let mut out = String::new();
    let mut total = 0;
    for pm in registered(store).await? {
        for summary in store.instances(&pm).await? {
            if summary.status != InstanceStatus::Parked {
                continue;
            }
            let Some(i) = store.load(&pm, &summary.process_id).await? else {
                continue;
            };
            total += 1;
            let _ = writeln!(out, "{pm}/{}", summary.process_id);
            if let Some(d) = &i.dead_letter {
                let _ = writeln!(
                    out,
                    "  parked at {} after {} attempt{}: {}",
                    time(d.parked_at_ms),
                    d.attempts,
                    if d.attempts == 1 { "" } else { "s" },
                    d.error
                );
                if let Some(e) = &d.event {
                    let _ = writeln!(out, "  event:   {}", event_line(e));
                }
                if let Some(c) = &d.command {
                    let _ = writeln!(out, "  command: {}", command_line(c));
                }
            }
            if !i.stash.is_empty() {
                let _ = writeln!(out, "  {} event(s) held in its stash", i.stash.len());
            }
        }
    }
    let _ = writeln!(
        out,
        "{total} parked instance{}",
        if total == 1 { "" } else { "s" }
    );
    Ok(out)
}

async fn resolve(
    store: &dyn Store,
    pm: &str,
    id: &str,
    action: ParkedAction,
) -> Result<String, Failure> {
    let i = load(store, pm, id).await?;
    let Some(dead_letter) = i.dead_letter.filter(|_| i.status == InstanceStatus::Parked) else {
        return Err(Failure::Request(format!(
            "`{pm}` instance `{id}` is {}, not parked",
            i.status
        )));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    store
        .resolve_parked(pm, &ProcessId::new(id), action, now)
        .await?;
    let after = store.load(pm, &ProcessId::new(id)).await?;
    let status = after.map_or_else(|| "gone".to_owned(), |a| a.status.to_string());
    let cause = match (&dead_letter.event, &dead_letter.command) {
        (Some(e), _) => format!("event `{}` ({})", e.event_type, e.event_id),
        (None, Some(c)) => format!("command `{}` ({})", c.command_type, c.command_id),
        (None, None) => "its cause".to_owned(),
    };
    let what = match action {
        ParkedAction::Retry => {
            format!("retried {cause}: it is tried again when a runtime next loads the instance")
        }
        ParkedAction::Skip => format!("skipped {cause}"),
    };
    Ok(format!(
        "{pm}/{id}: {what}; status is now {status}\n\
         note: this changed the database directly; a runtime already running on it does not \
         see the change (use Runtime::retry_parked / skip_parked there)\n"
    ))
}

async fn diagram(store: &dyn Store, pm: &str) -> Result<String, Failure> {
    match known(store, pm).await? {
        Some(info) if !info.diagram.is_empty() => Ok(format!("{}\n", info.diagram.trim_end())),
        Some(_) => Err(Failure::Request(format!(
            "process manager `{pm}` has no diagram (it was not declared with #[process_manager])"
        ))),
        None => Err(Failure::Request(format!(
            "process manager `{pm}` is not registered in this database, so its diagram is unknown"
        ))),
    }
}
