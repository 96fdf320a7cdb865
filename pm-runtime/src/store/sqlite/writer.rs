//! The writer thread: owns the write connection and applies commits in groups.
//!
//! Each fsync costs the same whether it covers one commit or a hundred, so the writer takes
//! every request waiting in its queue (up to a cap) and applies them in one transaction. A
//! request that fails gets its own error while the others in the group commit together:
//!
//! - A commit runs without a savepoint, which would cost two more statements and a copy of
//!   every page it touches. Its first statement is the revision check, so a conflict has
//!   written nothing and the group carries on. A commit that fails after writing makes the
//!   writer roll the whole transaction back and apply the rest of the group again without it.
//! - Any other request (purge, registration, resolution) is rare and runs in a savepoint,
//!   rolled back alone when it fails.

use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::{
    CommitFailure, CommitStatements, apply_commit, purge_finished, register, resolve_parked,
};
use super::codec::EncodedCommit;
use super::error::SqliteError;
use crate::error::StoreError;

/// What the writer is asked to do.
#[derive(Debug)]
pub(crate) enum Work {
    // Boxed: a commit is large, and requests are moved through the queue by value.
    Commit(Box<EncodedCommit>),
    Purge {
        pm: String,
        before_ms: u64,
    },
    Register(crate::store::ProcessManagerInfo),
    Resolve {
        pm: String,
        process_id: String,
        action: crate::store::ParkedAction,
        at_ms: u64,
    },
    // Runs the SQL, then fails: lets tests break a group from inside.
    #[cfg(test)]
    Fail(&'static str),
}

impl Work {
    /// Runs the work on `conn`, a commit with `statements`; a purge answers how many
    /// instances it deleted.
    fn apply(
        &self,
        conn: &Connection,
        statements: &mut CommitStatements<'_>,
    ) -> Result<u64, CommitFailure> {
        match self {
            Work::Commit(commit) => apply_commit(statements, commit).map(|()| 0),
            Work::Purge { pm, before_ms } => {
                in_savepoint(conn, |conn| purge_finished(conn, pm, *before_ms))
            }
            Work::Register(info) => in_savepoint(conn, |conn| register(conn, info).map(|()| 0)),
            Work::Resolve {
                pm,
                process_id,
                action,
                at_ms,
            } => in_savepoint(conn, |conn| {
                resolve_parked(conn, pm, process_id, *action, *at_ms).map(|()| 0)
            }),
            #[cfg(test)]
            Work::Fail(sql) => in_savepoint(conn, |conn| {
                conn.execute_batch(sql)?;
                Err(SqliteError::Stopped("test").into())
            }),
        }
    }
}

/// A commit's answer, with the commit handed back to the caller.
type CommitAnswer = (Result<(), StoreError>, Option<Box<EncodedCommit>>);

/// Where the answer goes, typed for the caller waiting on it.
#[derive(Debug)]
enum Reply {
    // The commit goes back with the answer so that the caller's thread frees what it
    // allocated: freed on the writer, its buffers queue for the allocator lock of the arena
    // the callers allocate from, on the one thread every commit waits for.
    Commit(oneshot::Sender<CommitAnswer>),
    Done(oneshot::Sender<Result<(), StoreError>>),
    Purge(oneshot::Sender<Result<u64, StoreError>>),
}

#[derive(Debug)]
struct Request {
    work: Work,
    reply: Reply,
}

impl Request {
    fn answer(self, result: Result<u64, StoreError>) {
        // A caller that stopped waiting (its future was dropped) needs no answer.
        match self.reply {
            Reply::Commit(tx) => {
                let commit = match self.work {
                    Work::Commit(commit) => Some(commit),
                    _ => None,
                };
                let _ = tx.send((result.map(|_| ()), commit));
            }
            Reply::Done(tx) => {
                let _ = tx.send(result.map(|_| ()));
            }
            Reply::Purge(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// The handle to the writer thread; dropping it lets the thread finish its group and exit.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Request>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `conn`, with a queue of `capacity` requests and groups of
    /// at most `max_group` of them.
    pub(crate) fn spawn(
        conn: Connection,
        capacity: usize,
        max_group: usize,
    ) -> std::io::Result<Self> {
        let (queue, requests) = mpsc::channel(capacity.max(1));
        let max_group = max_group.max(1);
        let thread = std::thread::Builder::new()
            .name("pm-sqlite-writer".into())
            .spawn(move || run(conn, requests, max_group))?;
        Ok(Self {
            queue,
            thread: Some(thread),
        })
    }

    /// Applies `commit`, waiting for the group transaction holding it to be durable.
    pub(crate) async fn commit(&self, commit: Box<EncodedCommit>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Commit(commit), Reply::Commit(reply))
            .await?;
        let (result, _commit) = answer.await.map_err(|_| stopped())?;
        result
    }

    /// Deletes finished instances of `pm` last changed before `before_ms`.
    pub(crate) async fn purge(&self, pm: String, before_ms: u64) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Work::Purge { pm, before_ms }, Reply::Purge(reply))
            .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `work` that answers nothing but success, waiting until it is durable.
    pub(crate) async fn run(&self, work: Work) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(work, Reply::Done(reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, work: Work, reply: Reply) -> Result<(), StoreError> {
        // A full queue makes callers wait here: backpressure instead of unbounded memory.
        self.queue
            .send(Request { work, reply })
            .await
            .map_err(|_| stopped())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Swap in a sender whose receiver is already gone, so the real queue closes and the
        // thread leaves its loop; joining then means the file is closed when drop returns.
        let (closed, _) = mpsc::channel(1);
        self.queue = closed;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the sqlite writer thread panicked");
        }
    }
}

fn stopped() -> StoreError {
    SqliteError::Stopped("writer").into()
}

/// The thread's loop: block for one request, then take whatever else is already queued.
fn run(mut conn: Connection, mut requests: mpsc::Receiver<Request>, max_group: usize) {
    while let Some(first) = requests.blocking_recv() {
        let mut group = Vec::with_capacity(max_group.min(64));
        group.push(first);
        while group.len() < max_group {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        tracing::trace!(size = group.len(), "sqlite group commit");
        while !group.is_empty() {
            group = write_group(&mut conn, group);
        }
    }
}

/// Applies a group in one transaction and answers every request in it, except those that
/// must be retried (returned) because the transaction was rolled back over another request's
/// failure.
fn write_group(conn: &mut Connection, group: Vec<Request>) -> Vec<Request> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => {
            fail_all(group, &Arc::new(error));
            return Vec::new();
        }
    };
    let mut done: Vec<(Request, Result<u64, StoreError>)> = Vec::with_capacity(group.len());
    let mut pending = group.into_iter();
    if let Some((culprit, error)) = apply_group(&tx, &mut pending, &mut done) {
        // The culprit gets its error; the rest go round again in a fresh transaction. Some
        // errors (disk full, I/O) have already made SQLite abandon the transaction.
        tracing::warn!(%error, "sqlite rolled back a group transaction; retrying the rest");
        if !tx.is_autocommit()
            && let Err(undo) = tx.rollback()
        {
            tracing::error!(%undo, "sqlite could not roll a group transaction back");
        }
        culprit.answer(Err(error));
        return done.into_iter().map(|(r, _)| r).chain(pending).collect();
    }
    match tx.commit() {
        Ok(()) => {
            for (request, result) in done {
                request.answer(result);
            }
        }
        Err(error) => {
            tracing::error!(%error, "sqlite group transaction failed to commit");
            let error = Arc::new(error);
            for (request, result) in done {
                // Requests that failed on their own keep their own error.
                let result = result.and_then(|_| Err(SqliteError::Batch(error.clone()).into()));
                request.answer(result);
            }
        }
    }
    Vec::new()
}

/// Applies requests from `pending` into `done` until one fails in a way that leaves its
/// writes in the transaction; returns that one with its error.
fn apply_group(
    conn: &Connection,
    pending: &mut std::vec::IntoIter<Request>,
    done: &mut Vec<(Request, Result<u64, StoreError>)>,
) -> Option<(Request, StoreError)> {
    let mut statements = CommitStatements::new(conn);
    for request in pending.by_ref() {
        match request.work.apply(conn, &mut statements) {
            Ok(answer) => done.push((request, Ok(answer))),
            Err(CommitFailure::Untouched(error)) => done.push((request, Err(error))),
            Err(CommitFailure::Partial(error)) => return Some((request, error)),
        }
    }
    None
}

/// Runs `work` inside a savepoint, so its failure undoes only its own changes.
///
/// The savepoint statements are prepared once and cached; rusqlite's `Savepoint` prepares
/// them again for every request.
fn in_savepoint(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<u64, StoreError>,
) -> Result<u64, CommitFailure> {
    run_cached(conn, "SAVEPOINT pm_work")?;
    match work(conn) {
        Ok(answer) => {
            run_cached(conn, "RELEASE pm_work")?;
            Ok(answer)
        }
        // After an error that made SQLite abandon the whole transaction there is nothing left
        // to roll back to: the group must be applied again.
        Err(error) if conn.is_autocommit() => Err(CommitFailure::Partial(error)),
        Err(error) => {
            let undone = run_cached(conn, "ROLLBACK TO pm_work")
                .and_then(|()| run_cached(conn, "RELEASE pm_work"));
            match undone {
                Ok(()) => Err(CommitFailure::Untouched(error)),
                Err(undo) => {
                    tracing::error!(%undo, "sqlite could not roll a failed request back");
                    Err(CommitFailure::Partial(error))
                }
            }
        }
    }
}

fn run_cached(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn fail_all(group: Vec<Request>, error: &Arc<rusqlite::Error>) {
    tracing::error!(%error, "sqlite could not begin a group transaction");
    for request in group {
        request.answer(Err(SqliteError::Batch(error.clone()).into()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ids::ProcessId;
    use crate::status::InstanceStatus;
    use crate::store::Commit;
    use crate::store::sqlite::{codec, schema};

    type Answer = oneshot::Receiver<Result<(), StoreError>>;

    fn request(work: Work) -> (Request, Answer) {
        let (reply, answer) = oneshot::channel();
        let reply = Reply::Done(reply);
        (Request { work, reply }, answer)
    }

    fn commit(process_id: &str, revision: u64) -> (Request, Answer) {
        let commit = Commit::new(
            "pm",
            ProcessId::new(process_id),
            revision,
            InstanceStatus::Running,
            1,
        );
        request(Work::Commit(Box::new(codec::encode(commit).unwrap())))
    }

    fn revisions(conn: &Connection) -> Vec<(String, i64)> {
        let mut statement = conn
            .prepare("SELECT process_id, revision FROM pm_instance ORDER BY process_id")
            .unwrap();
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)));
        rows.unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn a_conflict_in_a_group_is_rolled_back_alone() {
        let mut conn = store();
        let (a, mut a_answer) = commit("a", 1);
        let (b, mut b_answer) = commit("b", 2);
        let (c, mut c_answer) = commit("c", 1);
        // The second commit of `a` sees the first one, earlier in the same transaction.
        let (a2, mut a2_answer) = commit("a", 1);
        assert!(write_group(&mut conn, vec![a, b, c, a2]).is_empty());
        a_answer.try_recv().unwrap().unwrap();
        c_answer.try_recv().unwrap().unwrap();
        let b_error = b_answer.try_recv().unwrap().unwrap_err();
        assert!(
            matches!(b_error, StoreError::Conflict { found: 0, .. }),
            "{b_error}"
        );
        let a2_error = a2_answer.try_recv().unwrap().unwrap_err();
        assert!(
            matches!(a2_error, StoreError::Conflict { found: 1, .. }),
            "{a2_error}"
        );
        assert_eq!(revisions(&conn), [("a".to_owned(), 1), ("c".to_owned(), 1)]);
    }

    #[test]
    fn a_failure_that_ends_the_transaction_fails_alone_and_the_rest_are_retried() {
        let mut conn = store();
        let (a, mut a_answer) = commit("a", 1);
        let (bad, mut bad_answer) = request(Work::Fail("ROLLBACK"));
        let (c, mut c_answer) = commit("c", 1);
        let retry = write_group(&mut conn, vec![a, bad, c]);
        assert!(bad_answer.try_recv().unwrap().is_err());
        assert_eq!(retry.len(), 2, "the innocent requests come back");
        assert!(a_answer.try_recv().is_err(), "not answered yet");
        assert!(revisions(&conn).is_empty(), "the group was rolled back");
        assert!(write_group(&mut conn, retry).is_empty());
        a_answer.try_recv().unwrap().unwrap();
        c_answer.try_recv().unwrap().unwrap();
        assert_eq!(revisions(&conn), [("a".to_owned(), 1), ("c".to_owned(), 1)]);
    }

    #[test]
    fn a_request_that_fails_halfway_leaves_nothing_and_the_rest_commit() {
        let mut conn = store();
        let (a, mut a_answer) = commit("a", 1);
        // Writes an instance row, then fails: its savepoint takes the row back.
        const HALF: &str = "INSERT INTO pm_instance (pm, process_id, status, revision, state, \
             state_version, updated_at_ms) VALUES ('pm', 'half', 'running', 1, x'7b7d', 1, 1)";
        let (half, mut half_answer) = request(Work::Fail(HALF));
        let (c, mut c_answer) = commit("c", 1);
        assert!(write_group(&mut conn, vec![a, half, c]).is_empty());
        assert!(half_answer.try_recv().unwrap().is_err());
        a_answer.try_recv().unwrap().unwrap();
        c_answer.try_recv().unwrap().unwrap();
        assert_eq!(revisions(&conn), [("a".to_owned(), 1), ("c".to_owned(), 1)]);
        // The statement itself is sound: it was the failure after it that undid it.
        conn.execute_batch(HALF).unwrap();
        assert_eq!(revisions(&conn).len(), 3);
    }

    fn commit_handling(process_id: &str, revision: u64) -> (Request, Answer) {
        let mut commit = Commit::new(
            "pm",
            ProcessId::new(process_id),
            revision,
            InstanceStatus::Running,
            1,
        );
        commit.handled = Some(uuid::Uuid::nil());
        request(Work::Commit(Box::new(codec::encode(commit).unwrap())))
    }

    #[test]
    fn a_commit_that_fails_after_writing_fails_alone_and_the_rest_are_retried() {
        let mut conn = store();
        // The handled-event insert of `half` fails after its instance row was written, and
        // commits run without a savepoint: only rolling the group back undoes that row.
        conn.execute_batch(
            "CREATE TRIGGER fail_half BEFORE INSERT ON pm_handled \
             WHEN NEW.process_id = 'half' BEGIN SELECT RAISE(ABORT, 'half fails'); END;",
        )
        .unwrap();
        let (a, mut a_answer) = commit_handling("a", 1);
        let (b, mut b_answer) = commit_handling("b", 2);
        let (half, mut half_answer) = commit_handling("half", 1);
        let (c, mut c_answer) = commit_handling("c", 1);
        let retry = write_group(&mut conn, vec![a, b, half, c]);
        let half_error = half_answer.try_recv().unwrap().unwrap_err();
        assert!(
            half_error.to_string().contains("half fails"),
            "{half_error}"
        );
        assert_eq!(
            retry.len(),
            3,
            "the others come back, the conflicting one too"
        );
        assert!(a_answer.try_recv().is_err(), "not answered yet");
        assert!(revisions(&conn).is_empty(), "the group was rolled back");
        assert!(write_group(&mut conn, retry).is_empty());
        a_answer.try_recv().unwrap().unwrap();
        c_answer.try_recv().unwrap().unwrap();
        let b_error = b_answer.try_recv().unwrap().unwrap_err();
        assert!(
            matches!(b_error, StoreError::Conflict { found: 0, .. }),
            "{b_error}"
        );
        assert_eq!(revisions(&conn), [("a".to_owned(), 1), ("c".to_owned(), 1)]);
        let handled: i64 = conn
            .query_row("SELECT count(*) FROM pm_handled", [], |r| r.get(0))
            .unwrap();
        assert_eq!(handled, 2, "one handled event each for `a` and `c`");
    }

    #[tokio::test]
    async fn a_stopped_writer_is_an_error_not_a_panic() {
        let mut writer = Writer::spawn(store(), 4, 4).unwrap();
        // Close the queue as `drop` does, then ask for work.
        writer.queue = mpsc::channel(1).0;
        let commit = Commit::new("pm", ProcessId::new("a"), 1, InstanceStatus::Running, 1);
        let error = writer
            .commit(Box::new(codec::encode(commit).unwrap()))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("writer thread has stopped"),
            "{error}"
        );
    }
}
