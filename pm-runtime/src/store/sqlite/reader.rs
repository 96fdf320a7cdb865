//! Reader threads: each owns a read connection and takes queries from one shared queue.
//!
//! WAL lets readers run beside the writer, each on its own snapshot, so reads neither wait for
//! a group commit nor hold one up. Queries run here, never on the async workers.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::SqliteError;
use crate::error::StoreError;

/// A query, boxed with the channel its answer goes back on.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The handle to the reader threads; dropping it lets them finish their query and exit.
#[derive(Debug)]
pub(crate) struct Readers {
    queue: mpsc::Sender<Job>,
    threads: Vec<JoinHandle<()>>,
}

impl Readers {
    /// Starts one thread per connection, all fed by one queue of `capacity` jobs.
    pub(crate) fn spawn(connections: Vec<Connection>, capacity: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>(capacity.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        let mut threads = Vec::with_capacity(connections.len());
        for (i, conn) in connections.into_iter().enumerate() {
            let jobs = Arc::clone(&jobs);
            // On an error, dropping `queue` on return stops the threads already started.
            let thread = std::thread::Builder::new()
                .name(format!("pm-sqlite-reader-{i}"))
                .spawn(move || run(conn, &jobs))?;
            threads.push(thread);
        }
        Ok(Self { queue, threads })
    }

    /// Runs `query` on a reader thread and waits for its answer.
    pub(crate) async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have stopped waiting; then the answer has nowhere to go.
            let _ = reply.send(query(conn));
        });
        self.queue.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        // See `Writer::drop`: close the real queue, then wait for the threads to leave.
        let (closed, _) = mpsc::channel(1);
        self.queue = closed;
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a sqlite reader thread panicked");
            }
        }
    }
}

fn stopped() -> StoreError {
    SqliteError::Stopped("reader").into()
}

fn run(mut conn: Connection, jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // Only the receiving is under the lock; the query runs after it is released, so the
        // other readers can take the next job meanwhile.
        let job = jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocking_recv();
        match job {
            Some(job) => job(&mut conn),
            None => return,
        }
    }
}
