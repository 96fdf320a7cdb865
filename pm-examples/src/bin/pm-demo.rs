//! `pm-demo`: order sagas on the embedded SQLite store, resumable after `kill -9`.
//!
//! ```sh
//! cargo run --release -p pm-examples --bin pm-demo -- --db sagas.db --sagas 10000 --reject-rate 0.1
//! ```
//!
//! Several nodes on one PostgreSQL database instead (each run in its own shell):
//!
//! ```sh
//! pm-demo --postgres postgres://app@db/app --schema demo --node n1 --sagas 10000
//! ```
//!
//! Prints one summary line:
//! `sagas=N completed=A compensated=B parked=C in_flight=D lost=0 duplicate_effects=0 events_per_s=X`.
//! Exit codes: 0 done, 1 the run failed, 2 bad arguments or a database that is not ours.

use std::process::ExitCode;

use pm_examples::demo::{self, Args, DemoError, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("pm-demo: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match demo::run(&args).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error @ DemoError::Open(_)) => {
            eprintln!("pm-demo: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("pm-demo: {error}");
            ExitCode::FAILURE
        }
    }
}
