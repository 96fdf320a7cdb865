//! The `Store` contract as tests, run against every backend.
//!
//! Each case is an `async fn` over an `Arc<dyn Store>`; `conformance!` turns the whole list
//! into `#[tokio::test]`s for one backend, so a new backend is one more `conformance!` line.
#![allow(clippy::unwrap_used)]

mod pg;
mod store_fixtures;

use std::sync::Arc;

use pm_runtime::{
    Change, Commit, DeadLetter, DueTimer, InMemoryStore, InstanceStatus, InstanceSummary,
    NotParked, ParkedAction, ProcessManagerInfo, Settlement, SqliteStore, Store, StoreError,
};
use store_fixtures::*;

/// A store under test, with whatever must outlive it (a temporary directory).
struct Backend {
    store: Arc<dyn Store>,
    _keep: Option<Box<dyn std::any::Any + Send>>,
}

fn memory() -> Backend {
    Backend {
        store: Arc::new(InMemoryStore::new()),
        _keep: None,
    }
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("store.db")).unwrap();
    Backend {
        store: Arc::new(store),
        _keep: Some(Box::new(dir)),
    }
}

/// A store on a schema of its own, dropped after the test; fails without the server.
async fn postgres() -> Backend {
    let (store, schema) = pg::store().await;
    Backend {
        store: Arc::new(store),
        _keep: Some(Box::new(schema)),
    }
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        conformance!(@cases $backend, $make;
            commit_then_load_round_trips,
            a_commit_without_state_keeps_state_and_version,
            revision_conflict_leaves_the_instance_untouched,
            first_commit_must_be_revision_1,
            settle_completed_keeps_order_of_completion_and_cancelled_drops,
            unschedule_removes_timers_before_schedule_adds,
            dead_letter_is_set_kept_and_cleared,
            unstash_takes_from_the_front_then_stash_appends,
            due_timers_are_ordered_bounded_and_limited_across_pms,
            unfinished_excludes_parked_and_empty_outboxes,
            instances_are_listed_by_process_id,
            purge_finished_removes_only_old_finished_instances,
            concurrent_commits_to_many_instances_all_land,
            concurrent_conflicting_commits_have_one_winner,
            unfinished_includes_running_instances_with_a_stash,
            process_managers_are_recorded_and_replaced_by_name,
            resolve_parked_skip_records_the_event_as_handled,
            resolve_parked_skip_cancels_the_failed_head_command_and_may_finish,
            resolve_parked_retry_puts_the_event_first_in_the_stash,
            resolve_parked_retry_keeps_the_failed_command_at_the_head,
            resolve_parked_refuses_what_is_not_parked,
        );
    };
    (@cases $backend:ident, $make:expr; $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = $make;
                    super::$case(Arc::clone(&backend.store)).await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

conformance!(memory, super::memory());
conformance!(sqlite, super::sqlite());
conformance!(postgres, super::postgres().await);

async fn commit_then_load_round_trips(store: Arc<dyn Store>) {
    assert!(
        store.load(PM, &pid("o-1")).await.unwrap().is_none(),
        "never committed"
    );
    let mut c = Commit::new(PM, pid("o-1"), 1, InstanceStatus::Compensating, 1_234);
    c.state = Some(br#"{"amount":30,"bytes":"\u00ff"}"#.to_vec());
    c.state_version = 3;
    c.handled = Some(id(500));
    c.enqueue = vec![command(1), command(2), command(3)];
    c.schedule = vec![timer(10, 9_000), timer(11, 8_000)];
    c.dead_letter = Change::Set(Box::new(dead_letter()));
    c.stash = vec![event(20), event(21)];
    store.commit(c).await.unwrap();

    let mut c = Commit::new(PM, pid("o-1"), 2, InstanceStatus::Parked, 2_345);
    c.handled = Some(id(501));
    c.settle = vec![(id(2), Settlement::Completed)];
    store.commit(c).await.unwrap();

    let i = load(&*store, PM, "o-1").await;
    assert_eq!(i.status, InstanceStatus::Parked);
    assert_eq!(i.revision, 2);
    assert_eq!(i.state, br#"{"amount":30,"bytes":"\u00ff"}"#.to_vec());
    assert_eq!(i.state_version, 3);
    assert_eq!(i.handled, vec![id(500), id(501)], "handled ids in order");
    assert_commands(&i.outbox, &[command(1), command(3)]);
    assert_commands(&i.completed, &[command(2)]);
    assert_timers(&i.timers, &[timer(10, 9_000), timer(11, 8_000)]);
    let dl = i.dead_letter.expect("dead letter kept");
    let expected = dead_letter();
    assert_eq!(
        (dl.error.as_str(), dl.attempts, dl.parked_at_ms, dl.resume),
        (
            "handler returned an error: boom",
            5,
            4_242,
            InstanceStatus::Compensating
        )
    );
    assert_events(dl.event.as_slice(), expected.event.as_slice());
    assert_commands(dl.command.as_slice(), expected.command.as_slice());
    assert_eq!(
        to_json(&dl),
        to_json(&expected),
        "every field of the dead letter"
    );
    assert_events(&i.stash, &[event(20), event(21)]);
    assert_eq!(i.updated_at_ms, 2_345);

    assert!(
        store.load(OTHER, &pid("o-1")).await.unwrap().is_none(),
        "keyed by pm too"
    );
    assert!(store.load(PM, &pid("o-2")).await.unwrap().is_none());
}

async fn a_commit_without_state_keeps_state_and_version(store: Arc<dyn Store>) {
    let mut c = commit(PM, "o-1", 1, 10);
    c.state_version = 7;
    let first = store.commit(c).await;
    first.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert_eq!(
        (i.state.as_slice(), i.state_version),
        (&b""[..], 7),
        "a new instance takes the commit's version"
    );

    let mut c = commit(PM, "o-1", 2, 20);
    c.state = Some(b"{\"v\":2}".to_vec());
    c.state_version = 2;
    store.commit(c).await.unwrap();
    let mut c = commit(PM, "o-1", 3, 30);
    c.state_version = 9;
    store.commit(c).await.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert_eq!(i.state, b"{\"v\":2}".to_vec());
    assert_eq!(
        i.state_version, 2,
        "the version stays with the state that it wrote"
    );
    assert_eq!((i.revision, i.updated_at_ms), (3, 30));
}

async fn revision_conflict_leaves_the_instance_untouched(store: Arc<dyn Store>) {
    let mut c = commit(PM, "o-1", 1, 100);
    c.state = Some(b"first".to_vec());
    c.enqueue = vec![command(1)];
    store.commit(c).await.unwrap();

    for revision in [1, 3] {
        let mut c = Commit::new(PM, pid("o-1"), revision, InstanceStatus::Completed, 999);
        c.state = Some(b"second".to_vec());
        c.handled = Some(id(9));
        c.enqueue = vec![command(2)];
        c.settle = vec![(id(1), Settlement::Completed)];
        c.schedule = vec![timer(3, 5)];
        c.dead_letter = Change::Set(Box::new(dead_letter()));
        c.stash = vec![event(4)];
        let error = store.commit(c).await.unwrap_err();
        assert_conflict(error, "o-1", revision - 1, 1);
    }
    let i = load(&*store, PM, "o-1").await;
    assert_eq!(
        (i.status, i.revision, i.updated_at_ms),
        (InstanceStatus::Running, 1, 100)
    );
    assert_eq!(i.state, b"first".to_vec());
    assert!(i.handled.is_empty() && i.completed.is_empty() && i.timers.is_empty());
    assert!(i.dead_letter.is_none() && i.stash.is_empty());
    assert_commands(&i.outbox, &[command(1)]);
    assert!(store.due_timers(u64::MAX, 10).await.unwrap().is_empty());
}

async fn first_commit_must_be_revision_1(store: Arc<dyn Store>) {
    let error = store.commit(commit(PM, "o-1", 2, 1)).await.unwrap_err();
    assert_conflict(error, "o-1", 1, 0);
    assert!(
        store.load(PM, &pid("o-1")).await.unwrap().is_none(),
        "nothing was created"
    );
    store.commit(commit(PM, "o-1", 1, 1)).await.unwrap();
    assert_eq!(load(&*store, PM, "o-1").await.revision, 1);
}

async fn settle_completed_keeps_order_of_completion_and_cancelled_drops(store: Arc<dyn Store>) {
    let mut c = commit(PM, "o-1", 1, 1);
    c.enqueue = vec![command(1), command(2), command(3), command(4)];
    store.commit(c).await.unwrap();
    let mut c = commit(PM, "o-1", 2, 2);
    c.settle = vec![
        (id(3), Settlement::Completed),
        (id(99), Settlement::Completed),
    ];
    store.commit(c).await.unwrap();
    let mut c = commit(PM, "o-1", 3, 3);
    c.settle = vec![
        (id(2), Settlement::Cancelled),
        (id(1), Settlement::Completed),
    ];
    store.commit(c).await.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert_commands(&i.outbox, &[command(4)]);
    assert_commands(&i.completed, &[command(3), command(1)]);

    // Enqueued and settled in one commit: the enqueue comes first.
    let mut c = commit(PM, "o-1", 4, 4);
    c.enqueue = vec![command(5), command(6)];
    c.settle = vec![
        (id(6), Settlement::Completed),
        (id(4), Settlement::Cancelled),
    ];
    store.commit(c).await.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert_commands(&i.outbox, &[command(5)]);
    assert_commands(&i.completed, &[command(3), command(1), command(6)]);
}

async fn unschedule_removes_timers_before_schedule_adds(store: Arc<dyn Store>) {
    let mut c = commit(PM, "o-1", 1, 1);
    c.schedule = vec![timer(1, 100), timer(2, 200), timer(3, 300)];
    store.commit(c).await.unwrap();
    let mut c = commit(PM, "o-1", 2, 2);
    c.unschedule = vec![id(2), id(42)];
    store.commit(c).await.unwrap();
    assert_timers(
        &load(&*store, PM, "o-1").await.timers,
        &[timer(1, 100), timer(3, 300)],
    );

    let mut c = commit(PM, "o-1", 3, 3);
    c.unschedule = vec![id(1)];
    c.schedule = vec![timer(1, 150)];
    store.commit(c).await.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert_timers(&i.timers, &[timer(3, 300), timer(1, 150)]);
    let due = store.due_timers(u64::MAX, 10).await.unwrap();
    let due: Vec<_> = due.iter().map(|t| (t.timer_id, t.due_at_ms)).collect();
    assert_eq!(due, vec![(id(1), 150), (id(3), 300)]);
}

async fn dead_letter_is_set_kept_and_cleared(store: Arc<dyn Store>) {
    let mut c = Commit::new(PM, pid("o-1"), 1, InstanceStatus::Parked, 1);
    c.dead_letter = Change::Set(Box::new(dead_letter()));
    store.commit(c).await.unwrap();
    assert!(load(&*store, PM, "o-1").await.dead_letter.is_some());

    store
        .commit(Commit::new(PM, pid("o-1"), 2, InstanceStatus::Parked, 2))
        .await
        .unwrap();
    let kept = load(&*store, PM, "o-1")
        .await
        .dead_letter
        .expect("Keep keeps it");
    assert_eq!(
        (kept.error.as_str(), kept.attempts),
        ("handler returned an error: boom", 5)
    );

    let mut c = commit(PM, "o-1", 3, 3);
    c.dead_letter = Change::Clear;
    store.commit(c).await.unwrap();
    let i = load(&*store, PM, "o-1").await;
    assert!(i.dead_letter.is_none());
    assert_eq!(i.status, InstanceStatus::Running);

    let mut c = commit(PM, "o-1", 4, 4);
    let mut second = dead_letter();
    second.command = None;
    second.event = None;
    second.attempts = 1;
    c.dead_letter = Change::Set(Box::new(second));
    store.commit(c).await.unwrap();
    let dl = load(&*store, PM, "o-1").await.dead_letter.unwrap();
    assert!(dl.event.is_none() && dl.command.is_none());
    assert_eq!(dl.attempts, 1);
}

async fn unstash_takes_from_the_front_then_stash_appends(store: Arc<dyn Store>) {
    let mut c = commit(PM, "o-1", 1, 1);
    c.stash = vec![event(1), event(2), event(3)];
    store.commit(c).await.unwrap();
    let mut c = commit(PM, "o-1", 2, 2);
    c.unstash = 2;
    c.stash = vec![event(4)];
    store.commit(c).await.unwrap();
    assert_events(&load(&*store, PM, "o-1").await.stash, &[event(3), event(4)]);

    let mut c = commit(PM, "o-1", 3, 3);
    c.unstash = 10;
    c.stash = vec![event(5)];
    store.commit(c).await.unwrap();
    assert_events(&load(&*store, PM, "o-1").await.stash, &[event(5)]);
    let mut c = commit(PM, "o-1", 4, 4);
    c.unstash = usize::MAX;
    store.commit(c).await.unwrap();
    assert!(load(&*store, PM, "o-1").await.stash.is_empty());
}

async fn due_timers_are_ordered_bounded_and_limited_across_pms(store: Arc<dyn Store>) {
    let mut c = commit(PM, "a-1", 1, 1);
    c.schedule = vec![timer(5, 300), timer(9, 100)];
    store.commit(c).await.unwrap();
    let mut c = commit(OTHER, "b-1", 1, 1);
    c.schedule = vec![timer(2, 100), timer(1, 200), timer(3, 500)];
    store.commit(c).await.unwrap();

    let due = |pm: &str, process_id: &str, n: u128, due_at_ms: u64| DueTimer {
        pm: pm.to_owned(),
        process_id: pid(process_id),
        timer_id: id(n),
        due_at_ms,
    };
    let until_300 = vec![
        due(OTHER, "b-1", 2, 100),
        due(PM, "a-1", 9, 100),
        due(OTHER, "b-1", 1, 200),
        due(PM, "a-1", 5, 300),
    ];
    assert_eq!(
        store.due_timers(300, 10).await.unwrap(),
        until_300,
        "inclusive bound, ties by id"
    );
    assert_eq!(
        store.due_timers(300, 2).await.unwrap(),
        until_300[..2].to_vec()
    );
    assert!(store.due_timers(99, 10).await.unwrap().is_empty());
    assert!(store.due_timers(u64::MAX, 0).await.unwrap().is_empty());
    let all = store.due_timers(u64::MAX, usize::MAX).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[4], due(OTHER, "b-1", 3, 500));
}

async fn unfinished_excludes_parked_and_empty_outboxes(store: Arc<dyn Store>) {
    let cases = [
        ("i-1", InstanceStatus::Running, true),
        ("i-2", InstanceStatus::Running, false),
        ("i-3", InstanceStatus::Parked, true),
        ("i-4", InstanceStatus::Compensating, true),
        ("i-5", InstanceStatus::Completing, true),
    ];
    for (n, (process_id, status, with_command)) in cases.into_iter().enumerate().rev() {
        let mut c = Commit::new(PM, pid(process_id), 1, status, 1);
        if with_command {
            c.enqueue = vec![command(n as u128)];
        }
        store.commit(c).await.unwrap();
    }
    let mut c = commit(OTHER, "i-0", 1, 1);
    c.enqueue = vec![command(9)];
    store.commit(c).await.unwrap();
    // Once its only command is settled, an instance has nothing left to do.
    let mut c = commit(PM, "i-1", 2, 2);
    c.settle = vec![(id(0), Settlement::Completed)];
    store.commit(c).await.unwrap();

    let ids = store.unfinished(PM).await.unwrap();
    assert_eq!(ids, vec![pid("i-4"), pid("i-5")]);
    assert_eq!(store.unfinished(OTHER).await.unwrap(), vec![pid("i-0")]);
    assert!(store.unfinished("nobody").await.unwrap().is_empty());
}

async fn instances_are_listed_by_process_id(store: Arc<dyn Store>) {
    let mut c = commit(PM, "b", 1, 20);
    c.enqueue = vec![command(1), command(2)];
    store.commit(c).await.unwrap();
    store
        .commit(Commit::new(PM, pid("c"), 1, InstanceStatus::Completed, 30))
        .await
        .unwrap();
    store.commit(commit(PM, "a", 1, 10)).await.unwrap();
    store.commit(commit(PM, "a", 2, 11)).await.unwrap();
    store.commit(commit(OTHER, "a", 1, 5)).await.unwrap();

    let summary = |id: &str, status, revision, outbox, updated_at_ms| InstanceSummary {
        process_id: pid(id),
        status,
        revision,
        outbox,
        updated_at_ms,
    };
    assert_eq!(
        store.instances(PM).await.unwrap(),
        vec![
            summary("a", InstanceStatus::Running, 2, 0, 11),
            summary("b", InstanceStatus::Running, 1, 2, 20),
            summary("c", InstanceStatus::Completed, 1, 0, 30),
        ]
    );
    assert_eq!(store.instances(OTHER).await.unwrap().len(), 1);
    assert!(store.instances("nobody").await.unwrap().is_empty());
}

/// An instance of `pm` with a row in every child table.
async fn full_instance(
    store: &dyn Store,
    pm: &'static str,
    id_: &str,
    status: InstanceStatus,
    at_ms: u64,
) {
    let n = u128::from(at_ms) * 100 + id_.len() as u128;
    let mut c = Commit::new(pm, pid(id_), 1, status, at_ms);
    c.state = Some(b"{}".to_vec());
    c.handled = Some(id(n));
    c.enqueue = vec![command(n + 1), command(n + 2)];
    c.settle = vec![(id(n + 1), Settlement::Completed)];
    c.schedule = vec![timer(n + 3, at_ms)];
    c.dead_letter = Change::Set(Box::new(dead_letter()));
    c.stash = vec![event(n + 4)];
    store.commit(c).await.unwrap();
}

async fn purge_finished_removes_only_old_finished_instances(store: Arc<dyn Store>) {
    use InstanceStatus::*;
    let store = &*store;
    full_instance(store, PM, "done-old", Completed, 100).await;
    full_instance(store, PM, "compensated-old", Compensated, 150).await;
    full_instance(store, PM, "done-at-bound", Completed, 200).await;
    full_instance(store, PM, "done-new", Completed, 500).await;
    full_instance(store, PM, "running-old", Running, 100).await;
    full_instance(store, PM, "parked-old", Parked, 100).await;
    full_instance(store, OTHER, "done-old", Completed, 100).await;

    assert_eq!(store.purge_finished(PM, 200).await.unwrap(), 2);
    for gone in ["done-old", "compensated-old"] {
        assert!(
            store.load(PM, &pid(gone)).await.unwrap().is_none(),
            "{gone} purged"
        );
    }
    for kept in ["done-at-bound", "done-new", "running-old", "parked-old"] {
        assert!(
            store.load(PM, &pid(kept)).await.unwrap().is_some(),
            "{kept} kept"
        );
    }
    assert!(
        store.load(OTHER, &pid("done-old")).await.unwrap().is_some(),
        "other pm kept"
    );
    let listed: Vec<_> = store
        .instances(PM)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.process_id)
        .collect();
    assert_eq!(
        listed,
        ["done-at-bound", "done-new", "parked-old", "running-old"].map(pid)
    );
    assert_eq!(
        store.due_timers(u64::MAX, 100).await.unwrap().len(),
        5,
        "purged timers are gone"
    );
    assert_eq!(
        store.purge_finished(PM, 200).await.unwrap(),
        0,
        "nothing left to purge"
    );

    // A purged instance starts afresh, with nothing left over from its first life.
    store.commit(commit(PM, "done-old", 1, 600)).await.unwrap();
    let i = load(store, PM, "done-old").await;
    assert_eq!((i.revision, i.status), (1, Running));
    assert!(i.state.is_empty() && i.handled.is_empty() && i.outbox.is_empty());
    assert!(i.completed.is_empty() && i.timers.is_empty() && i.stash.is_empty());
    assert!(i.dead_letter.is_none());

    assert_eq!(store.purge_finished(PM, u64::MAX).await.unwrap(), 2);
    assert_eq!(store.instances(PM).await.unwrap().len(), 3);
}

async fn concurrent_commits_to_many_instances_all_land(store: Arc<dyn Store>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..100u128 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let process_id = format!("i-{n:03}");
            for revision in 1..=3 {
                let mut c = commit(PM, &process_id, revision, revision);
                c.state = Some(format!("{n}:{revision}").into_bytes());
                c.enqueue = vec![command(n * 10 + u128::from(revision))];
                store.commit(c).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let listed = store.instances(PM).await.unwrap();
    assert_eq!(listed.len(), 100);
    assert!(
        listed.iter().all(|s| s.revision == 3 && s.outbox == 3),
        "{listed:?}"
    );
    let i = load(&*store, PM, "i-042").await;
    assert_eq!(i.state, b"42:3".to_vec());
    assert_commands(&i.outbox, &[command(421), command(422), command(423)]);
}

async fn concurrent_conflicting_commits_have_one_winner(store: Arc<dyn Store>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20u128 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut c = commit(PM, "contested", 1, 1);
            c.state = Some(n.to_string().into_bytes());
            c.enqueue = vec![command(n)];
            (n, store.commit(c).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            (n, Ok(())) => winners.push(n),
            (_, Err(error)) => assert_conflict(error, "contested", 0, 1),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one commit wins: {winners:?}");
    let i = load(&*store, PM, "contested").await;
    assert_eq!(i.state, winners[0].to_string().into_bytes());
    assert_commands(&i.outbox, &[command(winners[0])]);
}

async fn unfinished_includes_running_instances_with_a_stash(store: Arc<dyn Store>) {
    for (process_id, status) in [
        ("s-1", InstanceStatus::Running),
        ("s-2", InstanceStatus::Parked),
        ("s-3", InstanceStatus::Completed),
    ] {
        let mut c = Commit::new(PM, pid(process_id), 1, status, 1);
        c.stash = vec![event(1)];
        store.commit(c).await.unwrap();
    }
    assert_eq!(store.unfinished(PM).await.unwrap(), vec![pid("s-1")]);
}

fn info(name: &str, version: u32) -> ProcessManagerInfo {
    ProcessManagerInfo {
        name: name.into(),
        version,
        diagram: format!("flowchart LR\n  {name}"),
        events: vec!["OrderPlaced".into(), "OrderShipped".into()],
    }
}

async fn process_managers_are_recorded_and_replaced_by_name(store: Arc<dyn Store>) {
    assert!(store.process_managers().await.unwrap().is_empty());
    store.register(&info("shipping", 1)).await.unwrap();
    store.register(&info("billing", 1)).await.unwrap();
    let mut newer = info("shipping", 2);
    newer.events.push("ShippingDeadline".into());
    store.register(&newer).await.unwrap();
    assert_eq!(
        store.process_managers().await.unwrap(),
        vec![info("billing", 1), newer],
        "by name, the later registration wins"
    );
}

/// An instance parked at revision 2 with `dead_letter`, an outbox of `outbox` and a stash of
/// events 30 and 31.
async fn park(store: &dyn Store, process_id: &str, dead_letter: DeadLetter, outbox: &[u128]) {
    let mut c = commit(PM, process_id, 1, 10);
    c.enqueue = outbox.iter().map(|n| command(*n)).collect();
    c.schedule = vec![timer(40, 99)];
    store.commit(c).await.unwrap();
    let mut c = Commit::new(PM, pid(process_id), 2, InstanceStatus::Parked, 20);
    c.dead_letter = Change::Set(Box::new(dead_letter));
    c.stash = vec![event(30), event(31)];
    store.commit(c).await.unwrap();
}

fn poisoned(resume: InstanceStatus) -> DeadLetter {
    DeadLetter {
        event: Some(event(77)),
        command: None,
        error: "handler panicked: boom".into(),
        attempts: 3,
        parked_at_ms: 20,
        resume,
    }
}

fn refused(n: u128, resume: InstanceStatus) -> DeadLetter {
    DeadLetter {
        event: None,
        command: Some(command(n)),
        error: "command rejected: no".into(),
        attempts: 1,
        parked_at_ms: 20,
        resume,
    }
}

async fn resolve_parked_skip_records_the_event_as_handled(store: Arc<dyn Store>) {
    park(&*store, "p-1", poisoned(InstanceStatus::Running), &[]).await;
    store
        .resolve_parked(PM, &pid("p-1"), ParkedAction::Skip, 50)
        .await
        .unwrap();
    let i = load(&*store, PM, "p-1").await;
    assert_eq!(
        (i.status, i.revision, i.updated_at_ms),
        (InstanceStatus::Running, 3, 50)
    );
    assert!(i.dead_letter.is_none());
    assert_eq!(i.handled, vec![id(77)]);
    assert_events(&i.stash, &[event(30), event(31)]);
    assert_eq!(i.timers.len(), 1, "a running instance keeps its timers");
    assert_eq!(store.unfinished(PM).await.unwrap(), vec![pid("p-1")]);
}

async fn resolve_parked_skip_cancels_the_failed_head_command_and_may_finish(store: Arc<dyn Store>) {
    park(
        &*store,
        "p-1",
        refused(1, InstanceStatus::Compensating),
        &[1],
    )
    .await;
    park(
        &*store,
        "p-2",
        refused(1, InstanceStatus::Compensating),
        &[1, 2],
    )
    .await;
    park(&*store, "p-3", refused(9, InstanceStatus::Running), &[1]).await;
    for process_id in ["p-1", "p-2", "p-3"] {
        store
            .resolve_parked(PM, &pid(process_id), ParkedAction::Skip, 50)
            .await
            .unwrap();
    }
    let i = load(&*store, PM, "p-1").await;
    assert_eq!(
        i.status,
        InstanceStatus::Compensated,
        "its last command went"
    );
    assert!(i.outbox.is_empty() && i.completed.is_empty() && i.timers.is_empty());
    let i = load(&*store, PM, "p-2").await;
    assert_eq!(i.status, InstanceStatus::Compensating);
    assert_commands(&i.outbox, &[command(2)]);
    let i = load(&*store, PM, "p-3").await;
    assert_eq!(i.status, InstanceStatus::Running);
    assert_commands(&i.outbox, &[command(1)]);
    assert!(i.handled.is_empty() && i.dead_letter.is_none());
}

async fn resolve_parked_retry_puts_the_event_first_in_the_stash(store: Arc<dyn Store>) {
    park(&*store, "p-1", poisoned(InstanceStatus::Running), &[]).await;
    store
        .resolve_parked(PM, &pid("p-1"), ParkedAction::Retry, 50)
        .await
        .unwrap();
    let i = load(&*store, PM, "p-1").await;
    assert_eq!((i.status, i.revision), (InstanceStatus::Running, 3));
    assert!(i.dead_letter.is_none() && i.handled.is_empty());
    assert_events(&i.stash, &[event(77), event(30), event(31)]);
    // A later commit's unstash still takes from the front.
    let mut c = commit(PM, "p-1", 4, 60);
    c.unstash = 1;
    store.commit(c).await.unwrap();
    assert_events(
        &load(&*store, PM, "p-1").await.stash,
        &[event(30), event(31)],
    );
}

async fn resolve_parked_retry_keeps_the_failed_command_at_the_head(store: Arc<dyn Store>) {
    park(
        &*store,
        "p-1",
        refused(1, InstanceStatus::Completing),
        &[1, 2],
    )
    .await;
    store
        .resolve_parked(PM, &pid("p-1"), ParkedAction::Retry, 50)
        .await
        .unwrap();
    let i = load(&*store, PM, "p-1").await;
    assert_eq!(i.status, InstanceStatus::Completing);
    assert_commands(&i.outbox, &[command(1), command(2)]);
    assert_events(&i.stash, &[event(30), event(31)]);
    assert_eq!(store.unfinished(PM).await.unwrap(), vec![pid("p-1")]);
}

async fn resolve_parked_refuses_what_is_not_parked(store: Arc<dyn Store>) {
    store.commit(commit(PM, "r-1", 1, 1)).await.unwrap();
    for (process_id, status) in [("r-1", Some(InstanceStatus::Running)), ("none", None)] {
        let error = store
            .resolve_parked(PM, &pid(process_id), ParkedAction::Retry, 5)
            .await
            .unwrap_err();
        let message = error.to_string();
        let StoreError::Backend(source) = error else {
            panic!("expected a backend error, got {message}");
        };
        let not_parked = source.downcast_ref::<NotParked>().expect("a `NotParked`");
        assert_eq!(
            (not_parked.process_id.as_str(), not_parked.status),
            (process_id, status)
        );
        assert!(message.contains(process_id), "{message}");
    }
    assert_eq!(load(&*store, PM, "r-1").await.revision, 1, "untouched");
}
