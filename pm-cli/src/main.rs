//! `pm`: inspects and repairs the process-manager instances in a pm-runtime store.
//!
//! `pm --db sagas.db pms` lists the process managers a runtime registered in the file (or, with
//! `--db postgres://...` and `--schema`, in a PostgreSQL schema); `list`, `show`, `outbox`,
//! `parked` and `diagram` read it; `retry` and `skip` resolve a parked instance no runtime is
//! running. `pm help` prints the whole usage. Exit codes:
//! 0 done, 1 the request failed, 2 bad usage or a database that cannot be opened.

mod args;
mod commands;
mod render;

use std::path::Path;
use std::process::ExitCode;

use args::{Args, Command, Database, USAGE};
use commands::Failure;
use pm_runtime::{PostgresStore, SqliteStore, Store};

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("pm: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("pm: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Request(message)) => {
            eprintln!("pm: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<String, Failure> {
    let Some(db) = args.db else {
        // Only `help` parses without a database.
        return Ok(format!("{USAGE}\n"));
    };
    if args.command == Command::Help {
        return Ok(format!("{USAGE}\n"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Request(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let store: Box<dyn Store> = match db {
            Database::Sqlite(path) => Box::new(open(&path)?),
            Database::Postgres(url) => Box::new(inspect(&url, &args.schema).await?),
        };
        commands::run(&*store, args.command).await
    })
}

/// Opens a PostgreSQL database for inspection (see `PostgresStore::inspect`). The store's
/// errors name the address without its password.
async fn inspect(url: &str, schema: &str) -> Result<PostgresStore, Failure> {
    PostgresStore::inspect(url, schema).await.map_err(|e| {
        // The root cause (say, "Connection refused") sits at the bottom of the chain; each
        // layer's text is added once.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
            source = cause.source();
        }
        Failure::Usage(message)
    })
}

/// Opens an existing database; unlike `SqliteStore::open`, a missing file is an error, so a
/// typo never leaves an empty database behind.
fn open(path: &Path) -> Result<SqliteStore, Failure> {
    if !path.exists() {
        return Err(Failure::Usage(format!(
            "no database at `{}`: the file does not exist",
            path.display()
        )));
    }
    if !path.is_file() {
        return Err(Failure::Usage(format!(
            "no database at `{}`: it is not a file",
            path.display()
        )));
    }
    SqliteStore::open(path).map_err(|e| {
        let reason = std::error::Error::source(&e).map_or_else(String::new, |s| format!(": {s}"));
        Failure::Usage(format!(
            "cannot open `{}` as a pm-runtime database{reason}",
            path.display()
        ))
    })
}
